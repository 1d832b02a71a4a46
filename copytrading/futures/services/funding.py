"""Funding between longs and shorts at 00:00, 08:00 and 16:00 UTC. (R-MG-07)

Positive rate: longs pay shorts. Isolated positions pay from and receive into
their margin, cross positions their account balance; every payment flows
through the house account, which so takes the other side of any imbalance.
Payers are charged rounded up and receivers paid rounded down, never more
than they hold. Idempotent per (market, funding time), resumable per batch.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import LedgerAccount
from accounts.money import ZERO, quantize
from config.db import bulk_update_rows
from copytrading.futures.lock_objects import lock_books, refresh_balances
from copytrading.futures.models import FundingRun, MarginMode, Market, Position, PositionStatus
from copytrading.futures.risk import isolated_liquidation_price
from copytrading.futures.services.fills import Movements, Platform, pay_first_from_funds, wallet_free
from copytrading.futures.services.risk import accounts_risk_refresh

# Positions settled per transaction: each is one row locked and updated plus
# its account's rows; 1,000 keeps a batch around a second of lock time.
FUNDING_BATCH = 1000
FUNDING_HOURS = (0, 8, 16)


def funding_time_at_or_before(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    hour = max(h for h in FUNDING_HOURS if h <= moment.hour)
    return moment.replace(hour=hour, minute=0, second=0, microsecond=0)


def funding_settle_due(*, now: datetime | None = None) -> int:
    """Run funding for every active, priced market at the latest funding time; return positions settled now."""
    funding_time = funding_time_at_or_before(now or timezone.now())
    done = FundingRun.objects.filter(funding_time=funding_time, completed_at__isnull=False).values("market_id")
    total = 0
    markets = Market.objects.filter(is_active=True, mark_price__isnull=False).exclude(pk__in=done).order_by("pk")
    for market in markets:
        total += funding_run(market=market, funding_time=funding_time).positions
    return total


def funding_run(*, market: Market, funding_time: datetime) -> FundingRun:
    """Settle funding of ``market`` for ``funding_time``; a second run finishes what a crashed one left."""
    try:
        with transaction.atomic():
            run = FundingRun.objects.create(
                market=market, funding_time=funding_time, rate=market.funding_rate, mark_price=market.mark_price
            )
    except IntegrityError:
        run = FundingRun.objects.get(market=market, funding_time=funding_time)
        if run.completed_at is not None:
            return run
    while True:
        with transaction.atomic():
            run = FundingRun.objects.select_for_update().get(pk=run.pk)
            if run.completed_at is not None:
                return run
            ids = list(
                Position.objects.filter(market=market, status=PositionStatus.OPEN, pk__gt=run.last_position_id)
                .order_by("pk")
                .values_list("pk", flat=True)[:FUNDING_BATCH]
            )
            if not ids:
                run.completed_at = timezone.now()
                run.save(update_fields=["completed_at"])
                return run
            _settle(run, ids)
            run.last_position_id = ids[-1]
            run.positions += len(ids)
            run.save(update_fields=["last_position_id", "positions"])


def _settle(run: FundingRun, position_ids: list[int]) -> None:
    account_ids = set(Position.objects.filter(pk__in=position_ids).values_list("account_id", flat=True))
    books = lock_books(LedgerAccount.objects.filter(pk__in=account_ids).order_by("pk"))
    positions = list(
        Position.objects.filter(pk__in=position_ids, status=PositionStatus.OPEN)
        .select_related("market")
        .order_by("pk")
        .select_for_update(of=("self",))
    )
    moves, platform = Movements(), Platform()
    for p in positions:
        book = books[p.account_id]
        owed = p.sign * p.qty * run.mark_price * run.rate  # > 0: this position pays
        if owed > 0:
            due = quantize(owed, rounding="ROUND_UP")
            from_funds = pay_first_from_funds(book, moves, platform.house, due)
            due -= from_funds
            if p.margin_mode == MarginMode.ISOLATED:
                paid = min(due, p.margin)
                moves.move(book.margin.pk, platform.house, paid)
                p.margin -= paid
            else:
                paid = min(due, max(wallet_free(book, moves), ZERO))
                moves.move(book.wallet.pk, platform.house, paid)
            p.funding_paid += from_funds + paid
        elif owed < 0:
            received = quantize(-owed, rounding="ROUND_DOWN")
            target = book.margin.pk if p.margin_mode == MarginMode.ISOLATED else book.wallet.pk
            moves.move(platform.house, target, received)
            if p.margin_mode == MarginMode.ISOLATED:
                p.margin += received
            p.funding_paid -= received
        if p.margin_mode == MarginMode.ISOLATED:
            p.liquidation_price = isolated_liquidation_price(p)
    bulk_update_rows(Position, positions, ["margin", "funding_paid", "liquidation_price"])
    moves.post(
        kind="funding",
        key=f"funding:{run.market_id}:{run.funding_time:%Y%m%d%H}:{position_ids[0]}-{position_ids[-1]}",
        reference=f"funding:{run.pk}",
    )
    refresh_balances([b.wallet for b in books.values()])
    accounts_risk_refresh([b.wallet for b in books.values()])
