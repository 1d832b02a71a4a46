"""Losing closes on the main futures account use loss-coverage vouchers automatically. (R-LC-02 … R-LC-04)

Applying a voucher moves no money: what a close uses passes from the voucher's
remaining amount to a pending ``Compensation``, both reserved in the campaign
(R-VC-09). The users' active vouchers are locked by id before anything is read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from accounts.models import AccountKind, LedgerAccount
from vouchers.models.loss_coverage import Compensation, LossCoverageState, LossCoverageVoucher

# R-LC-02: only a trading loss greater than this uses a voucher.
MIN_LOSS = Decimal("1")


@dataclass(frozen=True)
class _Close:
    """A losing close on a main futures account, as its "position closed" event tells it."""

    close_id: int
    position_id: int
    user_id: int
    closed_at: datetime
    loss: Decimal  # the trading loss: −realised PnL, fees and funding excluded (R-LC-04)
    notional: Decimal  # the closing amount: quantity × price


def _losing(payload: dict) -> bool:
    """A manual-trading close (slot 0; copies use the following's id) with a loss over 1 USDT (R-LC-02/03)."""
    return payload.get("slot") == 0 and -Decimal(payload["realised_pnl"]) > MIN_LOSS


def _main_account_closes(payloads: list[dict], user_ids: Collection[int]) -> list[_Close]:
    """The losing closes of these users on their main futures account (kind futures, ref ""), never a follow or
    protected sub-account (R-LC-03), in (closed_at, close id) order, each once."""
    account_ids = {p["account_id"] for p in payloads if p["owner_id"] in user_ids}
    main = dict(
        LedgerAccount.objects.filter(
            pk__in=list(account_ids), owner_id__in=list(user_ids), kind=AccountKind.FUTURES, ref=""
        ).values_list("pk", "owner_id")
    )
    closes: dict[int, _Close] = {}
    for p in payloads:
        if main.get(p["account_id"]) != p["owner_id"] or not _losing(p):
            continue
        closes[p["close_id"]] = _Close(
            close_id=p["close_id"],
            position_id=p["position_id"],
            user_id=p["owner_id"],
            closed_at=datetime.fromisoformat(p["closed_at"]),
            loss=-Decimal(p["realised_pnl"]),
            notional=Decimal(p["qty"]) * Decimal(p["price"]),
        )
    return sorted(closes.values(), key=lambda c: (c.closed_at, c.close_id))


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

    Eligible: a close of slot 0 on the user's main futures account (not copies, not follow or
    protected sub-accounts, R-LC-03), after the voucher's arrival and before its expiry, with a
    trading loss (−realised PnL; fees and funding are charged as usual and not covered) greater
    than 1 USDT, and a closing amount (quantity × price) of at least the campaign's closing
    threshold if it has one. The batch's closes are taken in (closed_at, close id) order; each
    uses the earliest-obtained voucher it is eligible for — one voucher per close, up to its
    remaining amount — and creates a pending compensation. A voucher with nothing left is used
    up and leaves the voucher center (R-LC-01). A close is compensated once: its compensation
    is unique, and the users' vouchers are locked while the existing ones are read, so an event
    delivered twice, or two batches at once, create one. Orders already using another voucher:
    none can reach here — coverage and experience vouchers apply only to copies, which are
    never in slot 0 of a main account — and a close uses at most one loss-coverage voucher.
    """
    owners = {p["owner_id"] for p in payloads if _losing(p)}
    if not owners:
        return 0
    holders = set(
        LossCoverageVoucher.objects.filter(user_id__in=list(owners), state=LossCoverageState.ACTIVE)
        .values_list("user_id", flat=True)
        .distinct()
    )
    if not holders:
        return 0
    closes = _main_account_closes(payloads, holders)
    return _apply(closes) if closes else 0


@transaction.atomic
def _apply(closes: list[_Close]) -> int:
    users = sorted({c.user_id for c in closes})
    live = list(
        LossCoverageVoucher.objects.filter(user_id__in=users, state=LossCoverageState.ACTIVE)
        .select_related("campaign")
        .order_by("pk")
        .select_for_update(of=("self",))
    )
    held: dict[int, list[LossCoverageVoucher]] = defaultdict(list)
    for v in sorted(live, key=lambda v: (v.granted_at, v.pk)):  # the earliest obtained is used first
        held[v.user_id].append(v)
    done = set(
        Compensation.objects.filter(close_id__in=[c.close_id for c in closes]).values_list("close_id", flat=True)
    )
    used: dict[int, LossCoverageVoucher] = {}
    compensations: list[Compensation] = []
    for close in closes:
        if close.close_id in done:
            continue  # delivered before
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
        LossCoverageVoucher.objects.bulk_update(list(used.values()), ["remaining", "state", "ended_at"])
        Compensation.objects.bulk_create(compensations)
    return len(compensations)
