"""How the fan-out decides one following's copy of a lead fill: sizing, caps, reasons. (R-CT-02, R-CT-04 …
R-CT-14, R-CT-21)

Pure decisions over rows the batch has locked and loaded; the fan-out
(``copytrading.services.fanout``) writes what they produce.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Sum

from accounts.money import ZERO, quantize
from copytrading.futures import margin as m
from copytrading.futures.lock_objects import Book
from copytrading.futures.models import (
    CloseReason,
    MarginMode,
    Market,
    Order,
    Position,
    PositionClose,
    PositionStatus,
)
from copytrading.futures.risk import cross_state, unrealised
from copytrading.futures.services.fills import Movements, Platform, close_fill, open_fill, wallet_free
from copytrading.models import (
    CopySettings,
    Following,
    FollowingStatus,
    FollowMode,
    LeverageChoice,
    ModeChoice,
    NotFollowedReason,
)

# Followings per transaction. Each batch costs about a dozen statements whatever
# its size; 1,000 keeps the statements' parameter lists and lock time moderate.


@dataclass
class LeadFill:
    """What the followers copy of one lead order."""

    order: Order
    market: Market
    side: str  # "buy" | "sell" of the open part
    open_qty: Decimal
    close_fraction: Decimal | None
    lead_margin: Decimal
    blocked: str
    existing: bool = False  # replicating an open lead position at the current mark: no slippage guard
    new_pair: bool = False  # the lead's first trade in this market: followers who auto-follow new pairs copy it


def lead_fill(order: Order) -> LeadFill:
    closed = PositionClose.objects.filter(order=order).aggregate(q=Sum("qty"))["q"] or ZERO
    open_qty = order.filled_qty - closed
    lead_margin = m.initial_margin(qty=open_qty, price=order.price, leverage=order.leverage) if open_qty else ZERO
    new_pair = not Order.objects.filter(
        account_id=order.account_id, market_id=order.market_id, pk__lt=order.pk
    ).exists()
    return LeadFill(
        order=order,
        market=order.market,
        side=order.side,
        open_qty=open_qty,
        close_fraction=order.closed_fraction,
        lead_margin=lead_margin,
        blocked=order.copy_blocked,
        new_pair=new_pair,
    )


@dataclass
class Sub:
    """One sub-account during a batch: its locked book and its open positions (kept current in memory)."""

    book: Book
    positions: list[Position] = field(default_factory=list)


DECISION_COLUMNS = (
    "lead_order_id",
    "following_id",
    "followed",
    "reason",
    "is_close",
    "qty",
    "price",
    "margin",
    "leverage",
    "margin_mode",
    "position_id",
    "created_at",
)


@dataclass(slots=True)
class Decision:
    """A copy decision being made; written as a ``CopyDecision`` row (without a model instance per follower)."""

    lead_order: Order
    following: Following
    followed: bool
    reason: str = ""
    is_close: bool = False
    qty: Decimal = ZERO
    price: Decimal | None = None
    margin: Decimal = ZERO
    leverage: int | None = None
    margin_mode: str = ""
    position: Position | None = None

    def row(self, now) -> tuple:
        return (
            self.lead_order.id,
            self.following.id,
            self.followed,
            str(self.reason),
            self.is_close,
            self.qty,
            self.price,
            self.margin,
            self.leverage,
            str(self.margin_mode),
            self.position.id if self.position else None,
            now,
        )


@dataclass
class Context:
    fill: LeadFill
    market: Market
    price: Decimal
    settings: CopySettings
    token_used: Decimal = ZERO
    moves: Movements = field(default_factory=Movements)
    platform: Platform = field(default_factory=Platform)
    touched: dict[int, Position] = field(default_factory=dict)  # id(position) → position
    closes: list[PositionClose] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    pairs_added: list[Following] = field(default_factory=list)


def _copy_position(sub: Sub, market: Market, following: Following) -> Position | None:
    for p in sub.positions:
        if p.market_id == market.id and p.slot == following.id and p.status == PositionStatus.OPEN:
            return p
    return None


def decide(ctx: Context, f: Following, sub: Sub) -> None:
    fill, decision = ctx.fill, None
    copy = _copy_position(sub, ctx.market, f)
    # Closes are always followed, whatever the caps (R-CT-13).
    if fill.close_fraction and copy is not None and (copy.side == "long") == (fill.side == "sell"):
        qty = (
            copy.qty
            if fill.close_fraction >= 1
            else m.round_step_down(copy.qty * fill.close_fraction, ctx.market.qty_step)
        )
        if qty > 0:
            close = close_fill(
                book=sub.book,
                position=copy,
                qty=qty,
                price=ctx.price,
                reason=CloseReason.COPY,
                moves=ctx.moves,
                platform=ctx.platform,
                save=False,
            )
            ctx.closes.append(close)
            ctx.touched[id(copy)] = copy
            decision = Decision(
                lead_order=fill.order,
                following=f,
                followed=True,
                is_close=True,
                qty=qty,
                price=ctx.price,
                margin_mode=copy.margin_mode,
                leverage=copy.leverage,
                position=copy,
            )
    if fill.open_qty > 0:
        opened = _open(ctx, f, sub)
        if decision is None or opened.followed:
            decision = opened
    if decision is None:  # a close with nothing to close
        decision = Decision(lead_order=fill.order, following=f, followed=True, is_close=True)
    ctx.decisions.append(decision)


def _not(ctx: Context, f: Following, reason: str) -> Decision:
    return Decision(lead_order=ctx.fill.order, following=f, followed=False, reason=reason, price=ctx.price)


def _leverage(ctx: Context, f: Following) -> int:
    symbol, lead_leverage = ctx.market.symbol, ctx.fill.order.leverage
    if f.leverage_mode == LeverageChoice.FIXED and f.fixed_leverage:
        leverage = f.fixed_leverage
    elif f.leverage_mode == LeverageChoice.CUSTOM and symbol in (f.custom_leverage or {}):
        leverage = int(f.custom_leverage[symbol])
    else:
        leverage = lead_leverage
    return max(1, min(leverage, ctx.market.max_leverage))


def _open(ctx: Context, f: Following, sub: Sub) -> Decision:
    fill, market, price = ctx.fill, ctx.market, ctx.price
    if fill.blocked:
        return _not(ctx, f, fill.blocked)
    if f.status != FollowingStatus.ACTIVE:
        return _not(ctx, f, NotFollowedReason.STOPPING)
    if f.pairs is not None and market.symbol not in f.pairs:
        if not (fill.new_pair and f.auto_follow_new_pairs):
            return _not(ctx, f, NotFollowedReason.PAIR)
        f.pairs = sorted([*f.pairs, market.symbol])  # auto-follow: the new pair joins the list
        ctx.pairs_added.append(f)
    book = sub.book
    margin_balance = book.margin.balance + ctx.moves.net(book.margin.id)
    upnl = sum((unrealised(p, p.market.mark_price) for p in sub.positions if p.status == "open"), ZERO)
    equity = book.wallet.balance + ctx.moves.net(book.wallet.id) + margin_balance + upnl
    minimum = max(ctx.settings.min_following_amount, f.lead.min_following_amount)
    if f.mode == FollowMode.SMART and equity < minimum:
        return _not(ctx, f, NotFollowedReason.INTERRUPTED)  # R-CT-04
    if not fill.existing and abs(price - fill.order.price) > fill.order.price * f.slippage_ratio:
        return _not(ctx, f, NotFollowedReason.SLIPPAGE)  # R-CT-09
    leverage = _leverage(ctx, f)
    copy = _copy_position(sub, market, f)
    if copy is not None and (copy.side == "long") != (fill.side == "buy"):
        copy = None  # an opposite copy was closed above; open fresh
    mode = (
        copy.margin_mode if copy else (fill.order.margin_mode if f.margin_mode == ModeChoice.FOLLOW else f.margin_mode)
    )

    # Size (R-CT-02).
    if f.mode == FollowMode.SMART:
        lead_equity = fill.order.lead_equity or ZERO
        if lead_equity <= 0:
            return _not(ctx, f, NotFollowedReason.INSUFFICIENT)
        qty = fill.open_qty * equity / lead_equity
    else:
        margin = f.diverse_margin if f.diverse_margin else quantize(fill.lead_margin * (f.diverse_multiple or 0))
        qty = margin * leverage / price
    # Caps (R-CT-10, R-CT-08, R-CT-11, R-CT-21): cut down to what is left, refuse when nothing is;
    # a cap that cuts an order below the minimum is its reason.
    limited_by = NotFollowedReason.INSUFFICIENT
    if f.max_margin_per_order_pct:
        qty = min(qty, equity * f.max_margin_per_order_pct * leverage / price)
    if f.max_margin_per_pair is not None:
        used = sum(
            (p.margin for p in sub.positions if p.market_id == market.id and p.slot == f.id and p.status == "open"),
            ZERO,
        )
        room = f.max_margin_per_pair - used
        if room <= 0:
            return _not(ctx, f, NotFollowedReason.PAIR_MARGIN)
        if room * leverage / price < qty:
            qty, limited_by = room * leverage / price, NotFollowedReason.PAIR_MARGIN
    value = sum((p.qty * p.market.mark_price for p in sub.positions if p.status == "open"), ZERO)
    room = f.max_position_value - value
    if room <= 0:
        return _not(ctx, f, NotFollowedReason.POSITION_VALUE)
    if room / price < qty:
        qty, limited_by = room / price, NotFollowedReason.POSITION_VALUE
    qty = m.round_step_down(qty, market.qty_step)
    if qty < market.min_qty:
        return _not(ctx, f, limited_by)
    if market.token_follow_limit is not None and ctx.token_used + qty * price > market.token_follow_limit:
        return _not(ctx, f, NotFollowedReason.TOKEN_LIMIT)

    if mode == MarginMode.ISOLATED:
        available = wallet_free(book, ctx.moves)
    else:
        cross = [p for p in sub.positions if p.status == "open" and p.margin_mode == MarginMode.CROSS]
        available = cross_state(book.wallet, cross).available + ctx.moves.net(book.wallet.id)
    needed = m.initial_margin(qty=qty, price=price, leverage=leverage) + m.fee(
        qty=qty, price=price, rate=market.taker_fee_rate
    )
    if needed > available:
        return _not(ctx, f, NotFollowedReason.INSUFFICIENT)
    position = open_fill(
        book=book,
        market=market,
        position=copy,
        side=fill.side,
        qty=qty,
        price=price,
        leverage=leverage,
        margin_mode=mode,
        slot=f.id,
        available=available,
        moves=ctx.moves,
        platform=ctx.platform,
        save=False,
    )
    _set_ratio_triggers(position, f, market)
    position.guarded = bool(f.guardian_max_loss or f.guardian_min_net_value)
    if copy is None:
        sub.positions.append(position)
    ctx.touched[id(position)] = position
    ctx.token_used += qty * price
    return Decision(
        lead_order=fill.order,
        following=f,
        followed=True,
        qty=qty,
        price=price,
        margin=m.initial_margin(qty=qty, price=price, leverage=leverage),
        leverage=leverage,
        margin_mode=mode,
        position=position,
    )


def _set_ratio_triggers(p: Position, f: Following, market: Market) -> None:
    """R-CT-07: close when the loss (profit) reaches the ratio of the position's margin, as SL/TP prices."""
    per_unit = p.margin / p.qty
    long = p.side == "long"
    if f.stop_loss_ratio:
        move = f.stop_loss_ratio * per_unit
        p.stop_loss_price = m.round_price(
            p.entry_price - move if long else p.entry_price + move, market.price_tick, up=long
        )
        if p.stop_loss_price <= 0:
            p.stop_loss_price = None
    if f.take_profit_ratio:
        move = f.take_profit_ratio * per_unit
        p.take_profit_price = m.round_price(
            p.entry_price + move if long else p.entry_price - move, market.price_tick, up=not long
        )
        if p.take_profit_price <= 0:
            p.take_profit_price = None
