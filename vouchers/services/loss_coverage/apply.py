"""Losing closes on the main futures account use loss-coverage vouchers automatically. (R-LC-02 … R-LC-04)

The consumer of the venue's "position closed" events takes a batch at a time. For
the users in it who hold active loss-coverage vouchers, it locks those vouchers (by
id), then reads — in a constant number of queries — every losing close of their main
futures accounts since their earliest voucher's arrival
(``copytrading.futures.selectors.account_closes_losing``), and walks the closes not
yet compensated in (closed_at, close id) order. So "first" is the first close in
time (R-VC-06), even when a later close's event is delivered first, in another batch
or by another worker: the later batch meets the earlier close on the venue and
applies it first; the earlier close's own event then finds it compensated.

Applying a voucher moves no money: what a close uses passes from the voucher's
remaining amount to a pending ``Compensation``, both reserved in the campaign
(R-VC-09).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from accounts.models import AccountKind, LedgerAccount
from config.db import bulk_update_rows, copy_insert
from copytrading.futures.selectors import account_closes_losing
from vouchers.models.loss_coverage import Compensation, LossCoverageState, LossCoverageVoucher

# R-LC-02: only a trading loss greater than this uses a voucher.
MIN_LOSS = Decimal("1")
# Manual trading: copies sit in the slot of their following (R-LC-03).
MANUAL_SLOT = 0


@dataclass(frozen=True)
class _Close:
    """A losing close on a user's main futures account, as the venue recorded it."""

    close_id: int
    position_id: int
    user_id: int
    closed_at: datetime
    loss: Decimal  # the trading loss: −realised PnL, fees and funding excluded (R-LC-04)
    notional: Decimal  # the closing amount: quantity × price


def _losing(payload: dict) -> bool:
    """A manual-trading close (slot 0; copies use the following's id) with a loss over 1 USDT (R-LC-02/03)."""
    return payload.get("slot") == MANUAL_SLOT and -Decimal(payload["realised_pnl"]) > MIN_LOSS


def _main_accounts(user_ids: Collection[int]) -> dict[int, int]:
    """account id → owner id of these users' main futures accounts (kind futures, ref ""): never a follow or
    protected sub-account (R-LC-03)."""
    return dict(
        LedgerAccount.objects.filter(owner_id__in=list(user_ids), kind=AccountKind.FUTURES, ref="").values_list(
            "pk", "owner_id"
        )
    )


def _closes(user_ids: Collection[int], since: datetime) -> list[_Close]:
    """The manual closes of these users' main futures accounts at or after ``since`` with a loss over 1 USDT,
    oldest first by (closed_at, close id): two queries."""
    owners = _main_accounts(user_ids)
    if not owners:
        return []
    return [
        _Close(
            close_id=c.close_id,
            position_id=c.position_id,
            user_id=owners[c.account_id],
            closed_at=c.closed_at,
            loss=-c.realised_pnl,
            notional=c.qty * c.price,
        )
        for c in account_closes_losing(account_ids=list(owners), slot=MANUAL_SLOT, since=since)
        if -c.realised_pnl > MIN_LOSS
    ]


def _usable(voucher: LossCoverageVoucher, close: _Close) -> bool:
    """Closed after the voucher arrived and before it expires, meeting its campaign's closing-amount
    threshold if it has one, while some of it remains (R-LC-02)."""
    threshold = voucher.campaign.closing_threshold
    return (
        voucher.remaining > 0
        and voucher.granted_at < close.closed_at <= voucher.expires_at
        and (threshold is None or close.notional >= threshold)
    )


def loss_coverage_apply(*, payloads: list[dict]) -> int:
    """The outbox batch consumer: losing closes on main futures accounts use loss-coverage vouchers
    (R-LC-02 … R-LC-04); return how many compensations it created.

    The batch only names the users to look at: those with a losing manual close in it who
    hold an active loss-coverage voucher. Their closes are then read from the venue and
    settled by ``loss_coverage_settle``, whatever the order their events arrive in.
    """
    owners = {p["owner_id"] for p in payloads if _losing(p)}
    if not owners:
        return 0
    holders = set(
        LossCoverageVoucher.objects.filter(user_id__in=list(owners), state=LossCoverageState.ACTIVE)
        .values_list("user_id", flat=True)
        .distinct()
    )
    return loss_coverage_settle(user_ids=holders) if holders else 0


@transaction.atomic
def loss_coverage_settle(*, user_ids: Collection[int]) -> int:
    """Apply every losing close not yet compensated of these users' main futures accounts to their active
    loss-coverage vouchers; return how many compensations it created. (R-LC-01 … R-LC-04, R-VC-06)

    The users' active vouchers are locked first, in id order; only then are the closes read,
    so two workers settling the same user take turns and the second sees what the first
    committed. Every losing close since the users' earliest voucher's arrival is walked in
    (closed_at, close id) order — "first" is decided by the close's time and id, never by the
    order events arrive in. Eligible: a close of slot 0 on the user's main futures account (not
    copies, not follow or protected sub-accounts, R-LC-03), after the voucher's arrival and
    before its expiry, with a trading loss (−realised PnL; fees and funding are charged as
    usual and not covered) greater than 1 USDT, and a closing amount (quantity × price) of at
    least the campaign's closing threshold if it has one. Each close uses the earliest-obtained
    voucher it is eligible for — one voucher per close, up to its remaining amount — and
    creates a pending compensation. A voucher with nothing left is used up and leaves the
    voucher center (R-LC-01). A close is compensated once: a close with a compensation is
    decided and skipped (and ``close_id`` is unique), so an event delivered twice creates one.
    A close that used no voucher is walked again next time and again uses none: a voucher
    arriving later never covers an earlier close. Orders already using another voucher: none
    can reach here — coverage and experience vouchers apply only to copies, which are never in
    slot 0 of a main account — and a close uses at most one loss-coverage voucher.
    """
    live = list(
        LossCoverageVoucher.objects.filter(user_id__in=list(user_ids), state=LossCoverageState.ACTIVE)
        .select_related("campaign")
        .order_by("pk")
        .select_for_update(of=("self",))
    )
    if not live:
        return 0
    held: dict[int, list[LossCoverageVoucher]] = defaultdict(list)
    for v in sorted(live, key=lambda v: (v.granted_at, v.pk)):  # the earliest obtained is used first
        held[v.user_id].append(v)
    closes = _closes(list(held), min(v.granted_at for v in live))
    done = set(
        Compensation.objects.filter(close_id__in=[c.close_id for c in closes]).values_list("close_id", flat=True)
    )
    used: dict[int, LossCoverageVoucher] = {}
    compensations: list[Compensation] = []
    for close in closes:
        if close.close_id in done:
            continue  # decided before
        voucher = next((v for v in held[close.user_id] if _usable(v, close)), None)
        if voucher is None:
            continue
        amount = min(close.loss, voucher.remaining)
        voucher.remaining -= amount
        if voucher.remaining == 0:
            voucher.state, voucher.ended_at = LossCoverageState.USED_UP, close.closed_at
        used[voucher.pk] = voucher
        compensations.append(
            Compensation(
                voucher=voucher,
                campaign_id=voucher.campaign_id,
                user_id=close.user_id,
                close_id=close.close_id,
                position_id=close.position_id,
                loss=close.loss,
                amount=amount,
                closed_at=close.closed_at,
            )
        )
    if compensations:
        bulk_update_rows(LossCoverageVoucher, list(used.values()), ["remaining", "state", "ended_at"])
        copy_insert(Compensation, compensations)
    return len(compensations)
