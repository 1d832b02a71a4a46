"""Market orders: open, add, reduce, close and flip, filled at the mark. (R-MG-02, R-MG-03)"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from accounts.models import AccountKind, LedgerAccount
from accounts.money import parse_amount
from config.errors import InvalidInput, RuleViolation
from copytrading.futures import hooks
from copytrading.futures import margin as m
from copytrading.futures.lock_objects import lock_books
from copytrading.futures.models import (
    CloseReason,
    MarginMode,
    Market,
    Order,
    OrderStatus,
    Position,
    PositionStatus,
    Side,
)
from copytrading.futures.risk import cross_state, equity_before, open_cross_positions
from copytrading.futures.selectors import market_setting_get
from copytrading.futures.services.fills import Movements, Platform, close_fill, open_fill, wallet_free
from copytrading.futures.services.outbox import events_write
from copytrading.futures.services.risk import account_risk_refresh

TRADING_KINDS = (AccountKind.FUTURES, AccountKind.FOLLOW, AccountKind.PROTECTED)


def tradable_market(market: Market) -> Market:
    """Re-read the market for its current mark; refuse an inactive or unpriced one."""
    market = Market.objects.get(pk=market.pk)
    if not market.is_active:
        raise RuleViolation(f"{market.symbol} is not trading", fields={"market": ["market is not active"]})
    if market.mark_price is None:
        raise RuleViolation(f"{market.symbol} has no mark price yet", fields={"market": ["no mark price yet"]})
    return market


def _order_qty(
    *, market: Market, qty: Decimal | None, margin: Decimal | None, leverage: int, price: Decimal
) -> Decimal:
    if (qty is None) == (margin is None):
        raise InvalidInput("qty", "give either a quantity or a margin amount, not both")
    if qty is None:
        qty = parse_amount(margin, field="margin") * leverage / price
    else:
        qty = parse_amount(qty, field="qty")
    qty = m.round_step_down(qty, market.qty_step)
    if qty < market.min_qty:
        field = "qty" if margin is None else "margin"
        raise InvalidInput(field, f"order quantity {qty} is below the minimum {market.min_qty} of {market.symbol}")
    return qty


def order_place(
    *,
    account: LedgerAccount,
    market: Market,
    side: str,
    qty: Decimal | None = None,
    margin: Decimal | None = None,
    reduce_only: bool = False,
    slot: int = 0,
    idempotency_key: str,
    actor_id: int | None = None,
    close_reason: str = CloseReason.REDUCE_ONLY,
) -> Order:
    """Fill a market order at the current mark; retrying the same key returns the same order.

    One-way mode: an order against an open position reduces it first; what is
    left opens the other side (never for reduce-only orders). One order fills
    at most the market's liquidity cap; the rest is cancelled (immediate-or-cancel).
    """
    if side not in Side.values:
        raise InvalidInput("side", f"must be one of {', '.join(Side.values)}")
    if account.kind not in TRADING_KINDS or account.owner_id is None:
        raise InvalidInput("account", "not a trading account")
    key = f"order:{account.pk}:{idempotency_key}"
    existing = Order.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing

    with transaction.atomic():
        book = lock_books([account])[account.pk]
        existing = Order.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return existing
        market = tradable_market(market)
        setting = market_setting_get(account=account, market=market)
        # A maximum lowered since the setting was chosen caps it.
        setting.leverage = min(setting.leverage, market.max_leverage)
        hooks.order_check(account=account, market=market, leverage=setting.leverage, opens=not reduce_only)
        price = market.mark_price
        requested = _order_qty(market=market, qty=qty, margin=margin, leverage=setting.leverage, price=price)
        filled = min(requested, market.max_order_qty)
        position = (
            Position.objects.filter(account=account, market=market, slot=slot, status=PositionStatus.OPEN)
            .select_related("market")
            .select_for_update(of=("self",))
            .first()
        )
        opposite = position is not None and (position.side == "long") != (side == Side.BUY)
        if reduce_only:
            if not opposite:
                raise InvalidInput("reduce_only", "there is no open position on the other side to reduce")
            filled = min(filled, position.qty)

        watchers = hooks.fill_watchers(account)
        # Watched accounts (lead traders): their equity just before the fill sizes the followers' copies.
        lead_equity = equity_before(book) if watchers else None
        moves, platform, closes = Movements(), Platform(), []
        remainder, closed_fraction = filled, None
        if opposite:
            close_qty = min(filled, position.qty)
            closes.append(
                close_fill(
                    book=book,
                    position=position,
                    qty=close_qty,
                    price=price,
                    reason=close_reason if reduce_only else CloseReason.MANUAL,
                    moves=moves,
                    platform=platform,
                )
            )
            remainder = filled - close_qty
            closed_fraction = close_qty / (position.qty + close_qty)
            position = position if position.status == PositionStatus.OPEN else None
        leverage, mode = setting.leverage, setting.margin_mode
        if remainder > 0:
            if position is not None:
                mode = position.margin_mode
            if mode == MarginMode.ISOLATED:
                available = wallet_free(book, moves)
            else:
                available = cross_state(book.wallet, open_cross_positions(account.pk)).available + moves.net(
                    book.wallet.pk
                )
            position = open_fill(
                book=book,
                market=market,
                position=position,
                side=side,
                qty=remainder,
                price=price,
                leverage=leverage,
                margin_mode=mode,
                slot=slot,
                available=available,
                moves=moves,
                platform=platform,
            )
        order = Order.objects.create(
            account=account,
            market=market,
            side=side,
            reduce_only=reduce_only,
            slot=slot,
            requested_qty=requested,
            filled_qty=filled,
            price=price,
            leverage=leverage,
            margin_mode=mode,
            status=OrderStatus.FILLED if filled == requested else OrderStatus.PARTIALLY_FILLED,
            fee=moves.net(platform.fees),
            realised_pnl=sum((c.realised_pnl for c in closes), start=Decimal(0)),
            position=position or (closes[0].position if closes else None),
            idempotency_key=key,
            created_by_id=actor_id,
            lead_equity=lead_equity,
            closed_fraction=closed_fraction,
            copy_blocked=_note(watchers, filled=filled, requested=requested, opens=remainder > 0),
        )
        order.entry = moves.post(
            kind="futures_order", key=f"fill:{key}", reference=f"order:{order.pk}", actor_id=actor_id
        )
        order.save(update_fields=["entry"])
        for close in closes:
            close.order, close.entry = order, order.entry
            close.save(update_fields=["order", "entry"])
        events_write(closes)
        book.wallet.refresh_from_db()
        account_risk_refresh(book.wallet)
        for watcher, token in watchers:
            watcher.filled(token, order=order)
    return order


def _note(watchers: list, *, filled: Decimal, requested: Decimal, opens: bool) -> str:
    """The first watcher's reason why this fill's open is not followed, if any."""
    notes = (w.note(token, filled=filled, requested=requested, opens=opens) for w, token in watchers)
    return next((n for n in notes if n), "")


