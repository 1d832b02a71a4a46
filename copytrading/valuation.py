"""What a following and a lead are worth now: read-only valuations the copy engine's services share.

C (a following's net realised result), the lead's pending share, the frozen
share, a following's net value (R-CT-06), a lead's futures equity and its
follower slots (R-CT-22). Reads only; the writes that act on them are in
``services/``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from django.db.models import Sum

from accounts.models import AccountKind, LedgerAccount
from accounts.money import ZERO, quantize
from copytrading.futures.models import Position, PositionClose, PositionStatus
from copytrading.futures.risk import account_equity, cross_state, mark_of, unrealised, wallet_equity
from copytrading.models import CopySettings, Following, FollowMode, LeadTrader


def following_net_result(following: Following) -> Decimal:
    """C: realised PnL − fees − funding of every copy this following made (open positions' realised parts too)."""
    return net_results([following])[following.pk]


def share_pending(following: Following, net_result: Decimal | None = None) -> Decimal:
    """ratio × max(0, C − H), rounded down."""
    c = following_net_result(following) if net_result is None else net_result
    gain = max(c - following.high_water_mark, ZERO)
    return quantize(following.lead.profit_share_ratio * gain, rounding=ROUND_DOWN)


def frozen_amount(following: Following) -> Decimal:
    account = LedgerAccount.objects.filter(
        owner_id=following.follower_id, kind=AccountKind.FROZEN_SHARE, ref=str(following.pk)
    ).first()
    return account.balance if account else ZERO


def net_results(followings: list[Following]) -> dict[int, Decimal]:
    """C for many followings in two grouped queries."""
    ids = [f.pk for f in followings]
    result = dict.fromkeys(ids, ZERO)
    for slot, pnl, fees, funding in (
        Position.objects.filter(slot__in=ids)
        .order_by()
        .values("slot")
        .annotate(p=Sum("realised_pnl"), f=Sum("fees_paid"), u=Sum("funding_paid"))
        .values_list("slot", "p", "f", "u")
    ):
        result[slot] = (pnl or ZERO) - (fees or ZERO) - (funding or ZERO)
    for slot, funding in (
        PositionClose.objects.filter(position__slot__in=ids)
        .order_by()
        .values("position__slot")
        .annotate(u=Sum("funding"))
        .values_list("position__slot", "u")
    ):
        result[slot] -= funding or ZERO
    return result
def following_net_value(following: Following) -> Decimal:
    """Smart Ratio: the sub-account's equity. Diverse: what was put in plus the result of its own copies."""
    if following.mode == FollowMode.SMART:
        return wallet_equity(following.sub_account)
    open_copies = Position.objects.filter(
        account=following.sub_account, slot=following.pk, status=PositionStatus.OPEN
    ).select_related("market")
    upnl = sum((unrealised(p, mark_of(p.market)) for p in open_copies), ZERO)
    return following.invested + following_net_result(following) + upnl


def lead_futures_equity(*, lead: LeadTrader) -> Decimal:
    """The lead's futures equity: balance, isolated margin and unrealised PnL."""
    wallet = LedgerAccount.objects.filter(owner_id=lead.user_id, kind=AccountKind.FUTURES).first()
    if wallet is None:
        return ZERO
    return wallet_equity(wallet)


def lead_follower_slots(*, lead: LeadTrader) -> int:
    """Follower slots: the platform's equity tiers, capped by the lead's own limit (R-CT-22)."""
    slots = CopySettings.current().slots_for(lead_futures_equity(lead=lead))
    if lead.max_followers is not None:
        slots = min(slots, lead.max_followers)
    return slots


# --- equities of many at once (the statistics' daily snapshots and refresh) -------------------------------


def wallet_equities(wallets: list[LedgerAccount]) -> dict[int, Decimal]:
    """Total assets per trading account (wallet id → equity), in three queries."""
    margins = dict(
        LedgerAccount.objects.filter(
            owner_id__in={w.owner_id for w in wallets},
            kind=AccountKind.POSITION_MARGIN,
            ref__in=[str(w.pk) for w in wallets],
        ).values_list("ref", "balance")
    )
    positions: dict[int, list[Position]] = defaultdict(list)
    for p in Position.objects.filter(account_id__in=[w.pk for w in wallets], status=PositionStatus.OPEN).select_related(
        "market"
    ):
        positions[p.account_id].append(p)
    return {w.pk: account_equity(w, margins.get(str(w.pk), ZERO), positions[w.pk]) for w in wallets}


def lead_wallets(lead_user_ids: Iterable[int]) -> dict[int, LedgerAccount]:
    """Futures account per lead user id (leads that never funded one have none)."""
    return {
        a.owner_id: a
        for a in LedgerAccount.objects.filter(owner_id__in=list(lead_user_ids), kind=AccountKind.FUTURES, ref="")
    }


def following_equities(followings: list[Following]) -> dict[int, Decimal]:
    """Following id → equity for the statistics.

    Smart Ratio: the sub-account's total assets plus any profit share frozen from it (frozen money is
    still the follower's until paid, so a freeze is not a loss and its refund not a gain). Diverse: its
    net value in the shared pool less the profit share already paid, so paid shares are a cost for both modes.
    """
    out: dict[int, Decimal] = {}
    smart = [f for f in followings if f.mode == FollowMode.SMART]
    if smart:
        wallets = {f.sub_account_id: f.sub_account for f in smart}
        equities = wallet_equities(list(wallets.values()))
        frozen = dict(
            LedgerAccount.objects.filter(
                owner_id__in={f.follower_id for f in smart},
                kind=AccountKind.FROZEN_SHARE,
                ref__in=[str(f.pk) for f in smart],
            ).values_list("ref", "balance")
        )
        for f in smart:
            out[f.pk] = equities[f.sub_account_id] + frozen.get(str(f.pk), ZERO)
    for f in followings:
        if f.mode == FollowMode.DIVERSE:
            out[f.pk] = following_net_value(f) - f.share_paid
    return out


# --- a withdrawal's plan (R-PS-03, R-PS-04) ------------------------------------------------------------


FREEZE_SHARE_OF_REMAINING = Decimal("0.30")  # R-PS-03: freeze when pending > 30 % of what remains


@dataclass
class WithdrawalPlan:
    """What a withdrawal would do (R-PS-03/04): the preview equals the execution because both come from here."""

    requested: Decimal
    pending: Decimal
    frozen_before: Decimal
    freeze: Decimal  # added now
    payout: Decimal
    loan: Decimal = ZERO  # lent against positive unrealised PnL (R-PS-08)

    @property
    def frozen_after(self) -> Decimal:
        return self.frozen_before + self.freeze


def withdrawal_plan(*, following: Following, amount: Decimal, equity: Decimal, available: Decimal) -> WithdrawalPlan:
    """Freeze the pending share first when it exceeds 30 % of the assets left after the withdrawal.

    ``equity`` and ``available`` are the following's (unrealised PnL included), read under its locks.
    Worked example: equity 1,000 all available, pending 100, request 800 → 30 % of 200 = 60 < 100 →
    freeze 100, pay min(800, 1,000 − 100) = 800; a request of 950 pays 900.
    """
    pending = share_pending(following)
    frozen = frozen_amount(following)
    freeze = ZERO
    remaining = equity - amount
    if pending > FREEZE_SHARE_OF_REMAINING * max(remaining, ZERO) and pending > frozen:
        freeze = pending - frozen  # R-PS-04: only the difference; nothing when already covered
    payout = max(min(amount, available - freeze), ZERO)
    return WithdrawalPlan(requested=amount, pending=pending, frozen_before=frozen, freeze=freeze, payout=payout)


# --- loans against unrealised profit (R-PS-08) -----------------------------------------------------------


def loan_owed(following: Following) -> Decimal:
    account = LedgerAccount.objects.filter(
        owner__isnull=True, kind=AccountKind.LOAN_BOOK, ref=f"following:{following.pk}"
    ).first()
    return -account.balance if account and account.balance < 0 else ZERO


def loan_room(following: Following, wallet: LedgerAccount, positions: list[Position], *, leaving: Decimal) -> Decimal:
    """How much beyond free cash may be lent now: positive cross uPnL, keeping equity above maintenance."""
    if following.mode != FollowMode.SMART:
        return ZERO
    cross = [p for p in positions if p.margin_mode == "cross"]
    if not cross:
        return ZERO
    state = cross_state(wallet, cross)
    gains = sum((max(unrealised(p, mark_of(p.market)), ZERO) for p in cross), ZERO)
    headroom = state.equity - leaving - state.maintenance  # what stays above maintenance after it leaves
    return max(min(gains, headroom), ZERO)
