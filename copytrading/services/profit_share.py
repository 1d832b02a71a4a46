"""Profit share with a high-water mark, the withdrawal freeze and the daily settlement. (R-PS-01 … R-PS-07)

Per following: C, the cumulative net realised result of its copies (realised
PnL − fees − funding), is derived from its positions and closes; H, the
high-water mark, is stored. The pending share is ratio × max(0, C − H),
rounded down so the lead is never paid a fraction more than earned (the
follower keeps the residue, so the split always sums exactly). H moves to C
only when the share is paid. A share frozen on a withdrawal moves to the
following's frozen-share ledger account, so it is not available margin and the
sub-account's records show each freeze and its refund.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal

from django.db import IntegrityError, transaction
from django.db.models import Sum

from accounts.lock_objects import lock_accounts
from accounts.models import AccountKind, LedgerAccount
from accounts.money import ZERO, quantize
from accounts.services.accounts import account_open
from accounts.services.ledger import transfer_post
from copytrading.models import Following, Position, PositionClose, PositionStatus, ShareSettlement

FREEZE_SHARE_OF_REMAINING = Decimal("0.30")  # R-PS-03: freeze when pending > 30 % of what remains


def following_net_result(following: Following) -> Decimal:
    """C: realised PnL − fees − funding of every copy this following made (open positions' realised parts too)."""
    positions = Position.objects.filter(slot=following.pk, account_id=following.sub_account_id).aggregate(
        pnl=Sum("realised_pnl"), fees=Sum("fees_paid"), funding=Sum("funding_paid")
    )
    closed_funding = PositionClose.objects.filter(
        position__slot=following.pk, position__account_id=following.sub_account_id
    ).aggregate(f=Sum("funding"))["f"]
    return (
        (positions["pnl"] or ZERO)
        - (positions["fees"] or ZERO)
        - (positions["funding"] or ZERO)
        - (closed_funding or ZERO)
    )


def share_pending(following: Following, net_result: Decimal | None = None) -> Decimal:
    """ratio × max(0, C − H), rounded down."""
    c = following_net_result(following) if net_result is None else net_result
    gain = max(c - following.high_water_mark, ZERO)
    return quantize(following.lead.profit_share_ratio * gain, rounding=ROUND_DOWN)


def frozen_account(following: Following) -> LedgerAccount:
    return account_open(owner=following.follower, kind=AccountKind.FROZEN_SHARE, ref=str(following.pk))


def frozen_amount(following: Following) -> Decimal:
    account = LedgerAccount.objects.filter(
        owner_id=following.follower_id, kind=AccountKind.FROZEN_SHARE, ref=str(following.pk)
    ).first()
    return account.balance if account else ZERO


@dataclass
class WithdrawalPlan:
    """What a withdrawal would do (R-PS-03/04): the preview equals the execution because both come from here."""

    requested: Decimal
    pending: Decimal
    frozen_before: Decimal
    freeze: Decimal  # added now
    payout: Decimal

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


def share_freeze(*, following: Following, amount: Decimal, key: str) -> None:
    """Move ``amount`` of the sub-account into the following's frozen-share account (a record the follower sees)."""
    if amount <= 0:
        return
    transfer_post(
        kind="profit_share_freeze",
        idempotency_key=key,
        source_id=following.sub_account_id,
        destination_id=frozen_account(following).pk,
        amount=amount,
        actor_id=following.follower_id,
        reference=f"following:{following.pk}",
    )


def share_settle(*, following: Following, key: str) -> tuple[Decimal, Decimal]:
    """Pay the pending share to the lead's spot account and return the rest of the frozen amount.

    Call with the following locked and its copies closed (stop, or the daily run). Returns (paid, unfrozen).
    """
    c = following_net_result(following)
    pending = share_pending(following, c)
    frozen_acc = frozen_account(following)
    lead_spot = account_open(owner=following.lead.user, kind=AccountKind.SPOT)
    locked = lock_accounts([following.sub_account_id, frozen_acc.pk, lead_spot.pk])
    frozen = locked[frozen_acc.pk].balance
    from_frozen = min(frozen, pending)
    from_sub = min(pending - from_frozen, max(locked[following.sub_account_id].available, ZERO))
    paid = from_frozen + from_sub
    reference = f"following:{following.pk}"
    if from_frozen:
        transfer_post(
            kind="profit_share",
            idempotency_key=f"{key}:frozen",
            source_id=frozen_acc.pk,
            destination_id=lead_spot.pk,
            amount=from_frozen,
            reference=reference,
        )
    if from_sub:
        transfer_post(
            kind="profit_share",
            idempotency_key=f"{key}:sub",
            source_id=following.sub_account_id,
            destination_id=lead_spot.pk,
            amount=from_sub,
            reference=reference,
        )
    unfrozen = frozen - from_frozen
    if unfrozen:
        transfer_post(
            kind="profit_share_unfreeze",
            idempotency_key=f"{key}:unfreeze",
            source_id=frozen_acc.pk,
            destination_id=following.sub_account_id,
            amount=unfrozen,
            reference=reference,
        )
    if paid:
        # H becomes C only for what was paid: a share the balance could not cover stays pending.
        following.high_water_mark = (
            c if paid == pending else following.high_water_mark + paid / following.lead.profit_share_ratio
        )
        following.share_paid += paid
        Following.objects.filter(pk=following.pk).update(
            high_water_mark=following.high_water_mark, share_paid=following.share_paid
        )
    return paid, unfrozen


# Followings settled per transaction: each is a few aggregates and up to three
# entries; 200 keeps one transaction well under a second.
DAILY_BATCH = 200


def profit_share_daily_run(*, day: date) -> int:
    """R-PS-06: for every following with no open copy, pay the pending share and unfreeze the rest; once a day.

    Keyed by (following, platform date): a second run, a retry or two beats at once change nothing.
    Followings with open copies are left as they are.
    """
    settled = 0
    last = 0
    while True:
        ids = list(
            Following.objects.exclude(status="stopped")
            .filter(pk__gt=last)
            .exclude(share_settlements__day=day)
            .order_by("pk")
            .values_list("pk", flat=True)[:DAILY_BATCH]
        )
        if not ids:
            return settled
        last = ids[-1]
        busy = set(Position.objects.filter(slot__in=ids, status=PositionStatus.OPEN).values_list("slot", flat=True))
        for following_id in ids:
            if following_id in busy:
                continue
            settled += _settle_day(following_id, day)


def _settle_day(following_id: int, day: date) -> int:
    try:
        with transaction.atomic():
            following = (
                Following.objects.select_for_update()
                .select_related("lead__user", "sub_account", "follower")
                .get(pk=following_id)
            )
            if Position.objects.filter(slot=following.pk, status=PositionStatus.OPEN).exists():
                return 0  # a copy opened since the batch was read
            paid, unfrozen = share_settle(following=following, key=f"ps-daily:{following.pk}:{day.isoformat()}")
            ShareSettlement.objects.create(following=following, day=day, paid=paid, unfrozen=unfrozen)
    except IntegrityError:  # settled by a concurrent run
        return 0
    return 1
