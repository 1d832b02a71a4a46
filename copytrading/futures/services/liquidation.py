"""The risk sweep of one market after a price tick: liquidations, auto-add margin, TP/SL. (R-MG-04, R-MG-05, R-MG-08)

Candidates come from range queries on indexed trigger prices — positions whose
stored liquidation, take-profit or stop-loss price the new mark crosses — plus
the cross accounts flagged for exact evaluation (cross positions in several
markets or on both sides). Never a scan of every position. Each candidate is
then checked exactly under its locks, and a batch of accounts is settled in
one transaction with bulk writes and one journal entry.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q

from accounts.models import LedgerAccount
from config.db import bulk_update_rows
from copytrading.futures import hooks
from copytrading.futures import margin as m
from copytrading.futures.lock_objects import lock_books, refresh_balances
from copytrading.futures.models import (
    CloseReason,
    MarginMode,
    Market,
    MarkPrice,
    Position,
    PositionClose,
    PositionStatus,
    RiskSweep,
)
from copytrading.futures.risk import cross_state, isolated_liquidation_price, unrealised
from copytrading.futures.services.fills import POSITION_CLOSE_FIELDS, Movements, Platform, close_fill, wallet_free
from copytrading.futures.services.outbox import events_write
from copytrading.futures.services.risk import accounts_risk_refresh

# Accounts settled per transaction: each costs a few rows locked and written;
# 500 keeps a batch well under a second and its locks short.
SWEEP_BATCH = 500


def sweep_candidates(market: Market, price: Decimal) -> dict[int, set[int]]:
    """Account id → ids of its open positions in ``market`` that ``price`` may affect."""
    open_here = Position.objects.filter(market=market, status=PositionStatus.OPEN)
    crossed = (
        Q(side="long", liquidation_price__gte=price)
        | Q(side="short", liquidation_price__lte=price)
        | Q(side="long", take_profit_price__lte=price)
        | Q(side="short", take_profit_price__gte=price)
        | Q(side="long", stop_loss_price__gte=price)
        | Q(side="short", stop_loss_price__lte=price)
        | Q(cross_multi=True)
        | Q(guarded=True)
    )
    found: dict[int, set[int]] = defaultdict(set)
    # No ORDER BY: the model's default (-id) would make the planner walk the primary key.
    for pk, account_id in open_here.filter(crossed).order_by().values_list("pk", "account_id"):
        found[account_id].add(pk)
    return found


def guarded_slots(market: Market) -> list[int]:
    """Slots of open positions marked ``guarded`` in ``market``: the guard listeners check them after a sweep.

    (The copy engine marks the copies of followings with a Net Value Guardian, R-CT-06.)
    """
    return list(
        Position.objects.filter(market=market, status=PositionStatus.OPEN, guarded=True)
        .order_by()
        .values_list("slot", flat=True)
        .distinct()
    )


def risk_sweep(*, market_id: int, tick_id: int) -> RiskSweep | None:
    """Sweep ``market`` at its current mark, once per (market, tick); a duplicate returns None."""
    tick = MarkPrice.objects.get(pk=tick_id)
    try:
        with transaction.atomic():
            sweep = RiskSweep.objects.create(market_id=market_id, tick=tick, price=tick.price)
    except IntegrityError:
        return None
    market = Market.objects.get(pk=market_id)
    price = market.mark_price
    candidates = sweep_candidates(market, price)
    account_ids = sorted(candidates)
    for start in range(0, len(account_ids), SWEEP_BATCH):
        batch = account_ids[start : start + SWEEP_BATCH]
        liquidated, triggered = _settle_batch(market_id, batch, candidates, key=f"sweep:{sweep.pk}")
        sweep.liquidated += liquidated
        sweep.triggered += triggered
    if account_ids:
        RiskSweep.objects.filter(pk=sweep.pk).update(liquidated=sweep.liquidated, triggered=sweep.triggered)
        guarded = guarded_slots(market)
        if guarded:
            hooks.guarded_slots_checked(slots=guarded, key=f"sweep:{sweep.pk}")
    return sweep


def _settle_batch(market_id: int, account_ids: list[int], candidates: dict[int, set[int]], key: str) -> tuple[int, int]:
    with transaction.atomic():
        books = lock_books(LedgerAccount.objects.filter(pk__in=account_ids).order_by("pk"))
        # The candidates, and every open cross position of their accounts (cross equity spans markets).
        wanted = Q(pk__in=[pk for a in account_ids for pk in candidates[a]]) | Q(
            account_id__in=account_ids, margin_mode=MarginMode.CROSS
        )
        positions = list(
            Position.objects.filter(wanted, status=PositionStatus.OPEN)
            .select_related("market")
            .order_by("pk")
            .select_for_update(of=("self",))
        )
        by_account: dict[int, list[Position]] = defaultdict(list)
        for p in positions:
            by_account[p.account_id].append(p)

        moves, platform = Movements(), Platform()
        closes: list[PositionClose] = []
        touched: dict[int, Position] = {}
        topped_up: list[Position] = []
        liquidated = triggered = 0
        for account_id in account_ids:
            book, held = books[account_id], by_account.get(account_id, [])
            cross = [p for p in held if p.margin_mode == MarginMode.CROSS]
            if cross and cross_state(book.wallet, cross).liquidatable:
                for p in cross:
                    closes.append(_close(book, p, CloseReason.LIQUIDATION, moves, platform))
                    touched[p.pk] = p
                    liquidated += 1
            for p in held:
                if p.status != PositionStatus.OPEN or p.pk not in candidates[account_id] or p.market_id != market_id:
                    continue
                price = p.market.mark_price
                if p.is_isolated and _isolated_liquidatable(p, price):
                    if p.auto_add_margin and _auto_add(book, p, price, moves):
                        topped_up.append(p)
                        continue
                    closes.append(_close(book, p, CloseReason.LIQUIDATION, moves, platform))
                    touched[p.pk] = p
                    liquidated += 1
                    continue
                reason = _tpsl_reason(p, price)
                if reason:
                    closes.append(_close(book, p, reason, moves, platform))
                    touched[p.pk] = p
                    triggered += 1

        if touched:
            bulk_update_rows(Position, list(touched.values()), POSITION_CLOSE_FIELDS)
        if topped_up:
            bulk_update_rows(Position, topped_up, ["margin", "liquidation_price"])
        if closes or topped_up:
            digest = hashlib.sha256(
                ",".join(str(c.position_id) for c in closes).encode()
                + b"|"
                + ",".join(f"{p.pk}:{p.margin}" for p in topped_up).encode()
            ).hexdigest()[:32]
            entry = moves.post(kind="risk_sweep", key=f"{key}:{digest}", reference=key)
            for close in closes:
                close.entry = entry
            PositionClose.objects.bulk_create(closes)
            events_write(closes)
            refresh_balances([b.wallet for b in books.values()])
        accounts_risk_refresh([books[a].wallet for a in account_ids])
    return liquidated, triggered


def _isolated_liquidatable(p: Position, price: Decimal) -> bool:
    maintenance = m.maintenance_margin(qty=p.qty, price=price, rate=p.market.maintenance_margin_rate)
    return p.margin + unrealised(p, price) < maintenance


def _auto_add(book, p: Position, price: Decimal, moves: Movements) -> bool:
    """Top an isolated position back up to its initial margin at the mark, if the wallet can (R-MG-05)."""
    target = m.initial_margin(qty=p.qty, price=price, leverage=p.leverage)
    needed = target - (p.margin + unrealised(p, price))
    if needed <= 0 or wallet_free(book, moves) < needed:
        return False
    moves.move(book.wallet.pk, book.margin.pk, needed)
    p.margin += needed
    p.liquidation_price = isolated_liquidation_price(p)
    return True


def _tpsl_reason(p: Position, price: Decimal) -> str | None:
    long = p.side == "long"
    if p.take_profit_price is not None and (price >= p.take_profit_price if long else price <= p.take_profit_price):
        return CloseReason.TAKE_PROFIT
    if p.stop_loss_price is not None and (price <= p.stop_loss_price if long else price >= p.stop_loss_price):
        return CloseReason.STOP_LOSS
    return None


def _close(book, p: Position, reason: str, moves: Movements, platform: Platform) -> PositionClose:
    return close_fill(
        book=book,
        position=p,
        qty=p.qty,
        price=p.market.mark_price,
        reason=reason,
        moves=moves,
        platform=platform,
        save=False,
    )
