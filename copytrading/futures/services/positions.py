"""A holder's actions on an open position: close, add or remove isolated margin, set TP/SL. (R-MG-05)"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from accounts.money import ZERO, parse_amount
from config.errors import InsufficientFunds, InvalidInput, InvalidState, RuleViolation
from copytrading.futures import margin as m
from copytrading.futures.lock_objects import lock_books, lock_open_positions
from copytrading.futures.models import CloseReason, Order, Position, PositionStatus, Side
from copytrading.futures.risk import isolated_liquidation_price, unrealised
from copytrading.futures.services.fills import Movements, wallet_free
from copytrading.futures.services.orders import order_place, tradable_market
from copytrading.futures.services.risk import account_risk_refresh


def position_close(
    *,
    position: Position,
    idempotency_key: str,
    qty: Decimal | None = None,
    fraction: Decimal | None = None,
    reason: str = CloseReason.MANUAL,
    actor_id: int | None = None,
) -> Order:
    """Close all (default), a quantity or a fraction of a position at the mark, as a reduce-only order."""
    if qty is not None and fraction is not None:
        raise InvalidInput("qty", "give a quantity or a fraction, not both")
    if position.status != PositionStatus.OPEN:
        raise InvalidState(f"position {position.pk} is already closed")
    if fraction is not None:
        fraction = parse_amount(fraction, field="fraction")
        if fraction > 1:
            raise InvalidInput("fraction", "must be greater than 0 and at most 1")
        qty = position.qty * fraction
    amount = position.qty if qty is None else min(parse_amount(qty, field="qty"), position.qty)
    if amount < position.qty:
        amount = m.round_step_down(amount, position.market.qty_step)
        if amount < position.market.min_qty:
            raise InvalidInput(
                "fraction" if fraction is not None else "qty",
                f"closes less than the minimum {position.market.min_qty}; close the whole position instead",
            )
    return order_place(
        account=position.account,
        market=position.market,
        side=Side.SELL if position.side == "long" else Side.BUY,
        qty=amount,
        reduce_only=True,
        slot=position.slot,
        idempotency_key=f"close:{position.pk}:{idempotency_key}",
        actor_id=actor_id,
        close_reason=reason,
    )


def position_margin_adjust(
    *, position: Position, amount: Decimal, idempotency_key: str, actor_id: int | None = None
) -> Position:
    """Add (amount > 0) or remove (amount < 0) isolated margin.

    Removal leaves at least the initial margin at the current mark, counting
    unrealised losses, so a removal can never bring a position near liquidation.
    """
    amount = parse_amount(amount, field="amount", positive=False)
    if amount == 0:
        raise InvalidInput("amount", "must not be zero")
    if not position.is_isolated:
        raise RuleViolation("margin can only be adjusted on an isolated position", fields={"position": ["cross"]})
    with transaction.atomic():
        book = lock_books([position.account])[position.account_id]
        locked = lock_open_positions([position.pk])
        if not locked:
            raise InvalidState(f"position {position.pk} is closed")
        position = locked[0]
        market = tradable_market(position.market)
        moves = Movements()
        if amount > 0:
            if wallet_free(book, moves) < amount:
                raise InsufficientFunds(
                    f"available {wallet_free(book, moves)}, needed {amount}", fields={"amount": ["exceeds available"]}
                )
            moves.move(book.wallet.pk, book.margin.pk, amount)
        else:
            price = market.mark_price
            keep = m.initial_margin(qty=position.qty, price=price, leverage=position.leverage)
            removable = max(position.margin + min(unrealised(position, price), ZERO) - keep, ZERO)
            if -amount > removable:
                raise RuleViolation(
                    f"at most {removable} can be removed from this position",
                    fields={"amount": [f"at most {removable} can be removed"]},
                )
            moves.move(book.margin.pk, book.wallet.pk, -amount)
        moves.post(
            kind="position_margin",
            key=f"margin:{position.pk}:{idempotency_key}",
            reference=f"position:{position.pk}",
            actor_id=actor_id,
        )
        position.margin += amount
        position.liquidation_price = isolated_liquidation_price(position)
        position.save(update_fields=["margin", "liquidation_price"])
        book.wallet.refresh_from_db()
        account_risk_refresh(book.wallet)
    return position


def position_tpsl_set(
    *,
    position: Position,
    take_profit_price: Decimal | None,
    stop_loss_price: Decimal | None,
    auto_add_margin: bool | None = None,
) -> Position:
    """Set (or clear, with None) the take-profit and stop-loss prices the risk sweep triggers on."""
    with transaction.atomic():
        locked = lock_open_positions([position.pk])
        if not locked:
            raise InvalidState(f"position {position.pk} is closed")
        position = locked[0]
        market = tradable_market(position.market)
        price, long = market.mark_price, position.side == "long"
        for field, value, must_be_above in (
            ("take_profit_price", take_profit_price, long),
            ("stop_loss_price", stop_loss_price, not long),
        ):
            if value is None:
                setattr(position, field, None)
                continue
            value = parse_amount(value, field=field)
            if value % market.price_tick:
                raise InvalidInput(field, f"must be a multiple of the price tick {market.price_tick}")
            if must_be_above and value <= price:
                raise InvalidInput(field, f"must be above the current mark {price} for a {position.side}")
            if not must_be_above and value >= price:
                raise InvalidInput(field, f"must be below the current mark {price} for a {position.side}")
            setattr(position, field, value)
        if auto_add_margin is not None:
            position.auto_add_margin = auto_add_margin
        position.save(update_fields=["take_profit_price", "stop_loss_price", "auto_add_margin"])
    return position
