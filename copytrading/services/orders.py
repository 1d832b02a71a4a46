"""Market orders: open, add, reduce, close and flip, filled at the mark. (R-MG-02, R-MG-03)"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from accounts.errors import InvalidInput, RuleViolation
from accounts.models import AccountKind, LedgerAccount
from accounts.money import parse_amount
from copytrading import margin as m
from copytrading.lock_objects import lock_books
from copytrading.models import CloseReason, MarginMode, Market, Order, OrderStatus, Position, PositionStatus, Side
from copytrading.services.fills import Movements, Platform, close_fill, open_fill, wallet_free
from copytrading.services.market_settings import market_setting_get
from copytrading.services.outbox import events_write
from copytrading.services.risk import account_risk_refresh, cross_state, open_cross_positions

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

        lead = lead_of(account)
        lead_equity = lead_equity_before(book, market) if lead else None
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
            copy_blocked=copy_block(lead, filled=filled, requested=requested, opens=remainder > 0) if lead else "",
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
        if lead is not None:
            from copytrading.tasks import copy_fanout_run

            transaction.on_commit(lambda: copy_fanout_run.delay(order.pk))
    return order


def lead_of(account: LedgerAccount):
    """The approved lead trader whose futures account this is, if any: its fills are copied."""
    from copytrading.models import LeadTrader, LeadTraderStatus

    if account.kind != AccountKind.FUTURES:
        return None
    lead = LeadTrader.objects.filter(user_id=account.owner_id).first()
    if lead is None or lead.status == LeadTraderStatus.APPROVED:
        return lead
    # Suspended: its opens are not copied, but followers' copies must still follow its closes.
    return (
        lead
        if lead.status == LeadTraderStatus.SUSPENDED and lead.followings.exclude(status="stopped").exists()
        else None
    )


def lead_equity_before(book, market: Market) -> Decimal:
    """The lead's futures equity just before its fill (Smart Ratio sizes copies by it)."""
    from copytrading.services.risk import account_equity

    positions = Position.objects.filter(account=book.wallet, status=PositionStatus.OPEN).select_related("market")
    return account_equity(book.wallet, book.margin.balance, positions)


def copy_block(lead, *, filled: Decimal, requested: Decimal, opens: bool) -> str:
    """Why a lead's open is not copied: partly filled (R-CT-12) or within the frequency limit (R-CT-15)."""
    from django.utils import timezone

    from copytrading.models import CopySettings, LeadTrader, NotFollowedReason

    if not opens:
        return ""
    if lead.status != "approved":
        return NotFollowedReason.LEAD_SUSPENDED
    now = timezone.now()
    last = lead.last_open_at
    LeadTrader.objects.filter(pk=lead.pk).update(last_open_at=now)
    if filled < requested:
        return NotFollowedReason.PARTIAL_FILL
    limit = CopySettings.current().frequency_limit_seconds
    if last is not None and (now - last).total_seconds() < limit:
        return NotFollowedReason.FREQUENCY
    return ""
