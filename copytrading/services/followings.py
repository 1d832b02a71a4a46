"""Following a lead trader: start, settings, funds in and out, stop. (R-CT-02 … R-CT-06, R-CT-16, R-CT-17, R-CT-23)"""

from __future__ import annotations

from copy import copy
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from accounts import hooks as account_hooks
from accounts.lock_objects import lock_accounts
from accounts.models import AccountKind, JournalEntry, LedgerAccount, User
from accounts.money import parse_amount
from accounts.services.accounts import account_open
from accounts.services.ledger import transfer_guarded, transfer_post
from config.errors import InsufficientFunds, InvalidInput, InvalidState, RuleViolation
from copytrading import hooks
from copytrading.follow_settings import settings_validate
from copytrading.futures.models import CloseReason, Position, PositionStatus
from copytrading.futures.risk import account_equity, cross_prices, isolated_liquidation_price, margin_balance
from copytrading.futures.services.bulk import slot_guard_set
from copytrading.futures.services.positions import position_close
from copytrading.models import CopySettings, Following, FollowingStatus, FollowMode, LeadTrader, StopMethod
from copytrading.services.fanout import copy_existing
from copytrading.services.loans import loan_draw
from copytrading.services.profit_share import share_freeze, share_settle
from copytrading.valuation import WithdrawalPlan, following_net_value, lead_follower_slots, loan_room, withdrawal_plan

SOURCE_KINDS = (AccountKind.SPOT, AccountKind.FUTURES)


def sub_account_for(*, follower: User, lead: LeadTrader, mode: str):
    """Smart Ratio: a sub-account per lead; Diverse Exploration: the follower's one shared pool."""
    ref = f"smart:{lead.pk}" if mode == FollowMode.SMART else "diverse"
    return account_open(owner=follower, kind=AccountKind.FOLLOW, ref=ref)


def _minimum(lead: LeadTrader) -> Decimal:
    return max(CopySettings.current().min_following_amount, lead.min_following_amount)


def following_start(
    *,
    follower: User,
    lead: LeadTrader,
    mode: str,
    amount: Decimal,
    source: str = AccountKind.SPOT,
    settings: dict | None = None,
    idempotency_key: str,
) -> Following:
    """Start copying ``lead``: fund the sub-account and, if asked, replicate the lead's open positions."""
    if mode not in FollowMode.values:
        raise InvalidInput("mode", f"must be one of {', '.join(FollowMode.values)}")
    if source not in SOURCE_KINDS:
        raise InvalidInput("source", f"must be one of {', '.join(SOURCE_KINDS)}")
    amount = parse_amount(amount, field="amount")
    minimum = _minimum(lead)
    if amount < minimum:
        raise InvalidInput("amount", f"the first transfer must be at least {minimum} USDT")
    clean = settings_validate(settings or {}, mode=mode)
    if lead.user_id == follower.pk:
        raise RuleViolation("you cannot follow yourself", fields={"lead": ["is you"]})
    if LeadTrader.objects.filter(user=follower).exclude(status="rejected").exists():
        raise RuleViolation("a lead trader cannot follow other traders", fields={"lead": ["you are a lead trader"]})
    if not lead.is_approved:
        raise RuleViolation(
            f"{lead.nickname} is not accepting followers ({lead.status})", fields={"lead": [lead.status]}
        )
    key = f"follow:{follower.pk}:{idempotency_key}"
    with transaction.atomic():
        # The lead's row serialises competing followers for its last slots.
        LeadTrader.objects.select_for_update().get(pk=lead.pk)
        existing = Following.objects.filter(follower=follower, lead=lead).exclude(status=FollowingStatus.STOPPED)
        if existing.exists():
            raise RuleViolation(f"you already follow {lead.nickname}", fields={"lead": ["already followed"]})
        live = Following.objects.filter(lead=lead).exclude(status=FollowingStatus.STOPPED).count()
        if live >= lead_follower_slots(lead=lead):
            raise RuleViolation(f"{lead.nickname} has no free follower slot", fields={"lead": ["no free slot"]})
        sub = sub_account_for(follower=follower, lead=lead, mode=mode)
        source_account = account_open(owner=follower, kind=source)
        following = Following.objects.create(
            follower=follower, lead=lead, mode=mode, sub_account=sub, invested=amount, **clean
        )
        _transfer_in(following, source_account, amount, key)
    if following.follow_existing:
        copy_existing(following=following)
    return following


def _transfer_in(following: Following, source, amount: Decimal, key: str) -> None:
    transfer_guarded(
        source=source,
        destination=following.sub_account,
        amount=amount,
        kind="following_funds_in",
        idempotency_key=key,
        actor_id=following.follower_id,
        reference=f"following:{following.pk}",
    )


def following_update_settings(*, following: Following, changes: dict) -> Following:
    """Change settings at any time; they apply to copy opens made after the change."""
    if not following.is_live:
        raise InvalidState("this following has stopped")
    current = {
        f: getattr(following, f) for f in ("leverage_mode", "fixed_leverage", "diverse_margin", "diverse_multiple")
    }
    clean = settings_validate(changes, mode=following.mode, current=current)
    if not clean:
        return following
    with transaction.atomic():
        following = Following.objects.select_for_update().get(pk=following.pk)
        for name, value in clean.items():
            setattr(following, name, value)
        following.save(update_fields=list(clean))
        guarded = bool(following.guardian_max_loss or following.guardian_min_net_value)
        slot_guard_set(slot=following.pk, guarded=guarded)
    return following


def following_add_funds(*, following: Following, amount: Decimal, source: str, idempotency_key: str) -> Following:
    """Add funds to the sub-account; a following interrupted below its minimum resumes (R-CT-04)."""
    if source not in SOURCE_KINDS:
        raise InvalidInput("source", f"must be one of {', '.join(SOURCE_KINDS)}")
    amount = parse_amount(amount, field="amount")
    if following.status != FollowingStatus.ACTIVE:
        raise InvalidState("funds can only be added to an active following")
    with transaction.atomic():
        source_account = account_open(owner=following.follower, kind=source)
        key = f"follow-in:{following.pk}:{idempotency_key}"
        following = Following.objects.select_for_update().get(pk=following.pk)
        if not JournalEntry.objects.filter(idempotency_key=key).exists():
            _transfer_in(following, source_account, amount, key)
            Following.objects.filter(pk=following.pk).update(invested=F("invested") + amount)
            following.refresh_from_db(fields=["invested"])
    return following


@dataclass
class WithdrawalOutcome:
    """A withdrawal previewed (``entry`` None) or executed; ``liquidation_prices`` are the estimates after it."""

    plan: WithdrawalPlan
    entry: JournalEntry | None
    liquidation_prices: dict[int, Decimal | None]


def following_withdraw(
    *, following: Following, amount: Decimal, idempotency_key: str, confirm: bool = True
) -> WithdrawalOutcome:
    """Withdraw from the sub-account to spot, never what open positions need (margin in use stays).

    The pending profit share is frozen first when it exceeds 30 % of what would
    remain (R-PS-03/04), so the amount paid out may be less than requested.
    ``confirm=False`` computes the same plan under the same locks and changes
    nothing: the follower sees it, with the new liquidation prices, and confirms.
    """
    amount = parse_amount(amount, field="amount")
    if not following.is_live:
        raise InvalidState("this following has stopped")
    spot = account_open(owner=following.follower, kind=AccountKind.SPOT)
    key = f"follow-out:{following.pk}:{idempotency_key}"
    with transaction.atomic():
        # The following's row lock serialises its withdrawals and the daily run.
        following = Following.objects.select_for_update().select_related("sub_account", "lead").get(pk=following.pk)
        retry = JournalEntry.objects.filter(idempotency_key=key).first()
        wallet = lock_accounts([following.sub_account_id, spot.pk])[following.sub_account_id]
        positions = list(Position.objects.filter(account=wallet, status=PositionStatus.OPEN).select_related("market"))
        if following.mode == FollowMode.DIVERSE:

            equity, available = (
                following_net_value(following),
                min(account_hooks.withdrawable(wallet), _diverse_share(following)),
            )
        else:
            equity = account_equity(wallet, margin_balance(wallet), positions)
            available = account_hooks.withdrawable(wallet)
        plan = withdrawal_plan(following=following, amount=amount, equity=equity, available=available)
        cash = max(available - plan.freeze, Decimal(0))
        if amount > cash:  # R-PS-08: the part beyond cash may be lent against positive unrealised PnL
            room = loan_room(following, wallet, positions, leaving=amount + plan.freeze)
            plan.loan = min(amount - cash, room)
            plan.payout = cash + plan.loan
        if retry is None and (plan.payout <= 0 or (plan.freeze == 0 and amount > plan.payout)):
            # Only a freeze may shorten a withdrawal; otherwise asking for more than may leave is an error.
            raise InsufficientFunds(
                f"at most {plan.payout} USDT can be withdrawn now "
                "(margin of open positions and any frozen profit share stay)",
                fields={"amount": [f"at most {plan.payout}"]},
            )
        prices = _prices_after(wallet, positions, plan.freeze + plan.payout - plan.loan)
        if not confirm:
            return WithdrawalOutcome(plan=plan, entry=None, liquidation_prices=prices)
        if retry is not None:
            return WithdrawalOutcome(plan=plan, entry=retry, liquidation_prices=prices)
        share_freeze(following=following, amount=plan.freeze, key=f"{key}:freeze")
        loan_draw(following=following, wallet=wallet, amount=plan.loan, key=f"{key}:loan")
        entry = transfer_guarded(
            source=following.sub_account,
            destination=spot,
            amount=plan.payout,
            kind="following_funds_out",
            idempotency_key=key,
            actor_id=following.follower_id,
            reference=f"following:{following.pk}",
        )
        Following.objects.filter(pk=following.pk).update(invested=F("invested") - plan.payout)
    return WithdrawalOutcome(plan=plan, entry=entry, liquidation_prices=prices)


def _prices_after(wallet: LedgerAccount, positions: list[Position], leaving: Decimal) -> dict[int, Decimal | None]:
    """Estimated liquidation prices once ``leaving`` has left the wallet (isolated ones do not move)."""
    after = copy(wallet)
    after.balance -= leaving
    cross = [p for p in positions if p.margin_mode == "cross"]
    estimates = cross_prices(after, cross)[0] if cross else {}
    return {
        p.pk: isolated_liquidation_price(p) if p.margin_mode == "isolated" else estimates.get(id(p)) for p in positions
    }


def following_stop(
    *, following: Following, method: str, idempotency_key: str = "stop", reason: str = CloseReason.STOP_FOLLOWING
) -> Following:
    """Stop following: ``market`` closes every copy now; ``follow_close`` lets the lead's closes finish it.

    Either way, once no copy position is left the following is settled and what
    remains returns to the spot account, once. Stopping twice is harmless.
    """
    if method not in StopMethod.values:
        raise InvalidInput("method", f"must be one of {', '.join(StopMethod.values)}")
    with transaction.atomic():
        following = Following.objects.select_for_update().get(pk=following.pk)
        if following.status == FollowingStatus.STOPPED:
            return following
        following.status, following.stop_method = FollowingStatus.STOPPING, method
        following.save(update_fields=["status", "stop_method"])
    if method == StopMethod.MARKET:
        for position in Position.objects.filter(slot=following.pk, status=PositionStatus.OPEN).select_related(
            "market", "account"
        ):
            position_close(position=position, idempotency_key=f"stop:{idempotency_key}", reason=reason)
    return following_finish_if_flat(following=following)


def following_finish_if_flat(*, following: Following) -> Following:
    """Settle a stopping following with no copy position left and return its funds to spot, once."""
    with transaction.atomic():
        following = (
            Following.objects.select_for_update().select_related("sub_account", "lead__user").get(pk=following.pk)
        )
        if following.status != FollowingStatus.STOPPING:
            return following
        if Position.objects.filter(slot=following.pk, status=PositionStatus.OPEN).exists():
            return following
        # The lead's share first (R-PS-02): paid from the frozen part, then the sub-account; the rest unfrozen.
        share_settle(following=following, key=f"ps-stop:{following.pk}")
        spot = account_open(owner=following.follower, kind=AccountKind.SPOT)
        locked = lock_accounts([following.sub_account_id, spot.pk])
        remainder = locked[following.sub_account_id].available
        if following.mode == FollowMode.DIVERSE:  # the shared pool returns this following's share only
            remainder = min(remainder, _diverse_share(following))
        if remainder > 0:
            transfer_post(
                kind="following_settlement",
                idempotency_key=f"follow-final:{following.pk}",
                source_id=following.sub_account_id,
                destination_id=spot.pk,
                amount=remainder,
                actor_id=following.follower_id,
                reference=f"following:{following.pk}",
            )
        following.status, following.stopped_at = FollowingStatus.STOPPED, timezone.now()
        following.save(update_fields=["status", "stopped_at"])
        hooks.following_stopped(following=following)
    return following


def _diverse_share(following: Following) -> Decimal:
    """A Diverse following's own part of the shared pool, less the margin of its open copies."""

    open_margin = Position.objects.filter(slot=following.pk, status=PositionStatus.OPEN).aggregate(m=Sum("margin"))[
        "m"
    ] or Decimal(0)
    return max(following_net_value(following) - open_margin, Decimal(0))
