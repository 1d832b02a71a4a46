"""How a fill moves money: the ledger legs of opening, adding, reducing, closing and liquidating.

Internal to the futures services: callers lock the books and positions first
(``copytrading.futures.lock_objects``), then build one ``Movements`` per operation
and post it as one balanced journal entry.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from django.utils import timezone

from accounts.models import AccountKind, JournalEntry
from accounts.money import ZERO, quantize
from accounts.services.accounts import platform_accounts
from accounts.services.ledger import Leg, entry_post
from config.db import instance_new
from config.errors import InsufficientFunds
from copytrading.futures import margin as m
from copytrading.futures.lock_objects import Book
from copytrading.futures.models import CloseReason, Market, Position, PositionClose, PositionSide, PositionStatus
from copytrading.futures.risk import isolated_liquidation_price


@dataclass
class Movements:
    """Money moves of one operation, netted per account, posted as one entry."""

    legs: dict[int, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))

    def move(self, source_id: int, destination_id: int, amount: Decimal) -> None:
        if amount < 0:
            raise ValueError("a movement is positive; swap source and destination")
        if amount:
            self.legs[source_id] -= amount
            self.legs[destination_id] += amount

    def net(self, account_id: int) -> Decimal:
        return self.legs.get(account_id, ZERO)

    def post(
        self, *, kind: str, key: str, reference: str, actor_id: int | None = None, locked: dict | None = None
    ) -> JournalEntry | None:
        legs = [Leg(a, amt) for a, amt in self.legs.items() if amt]
        if not legs:
            return None
        return entry_post(
            kind=kind, idempotency_key=key, legs=legs, reference=reference, actor_id=actor_id, locked=locked
        )


class Platform:
    """The platform's counter-accounts, fetched once per operation."""

    KINDS = (AccountKind.HOUSE, AccountKind.FEE_REVENUE, AccountKind.INSURANCE_FUND)

    def __init__(self) -> None:
        ids = platform_accounts(kinds=self.KINDS)
        self.house = ids[AccountKind.HOUSE]
        self.fees = ids[AccountKind.FEE_REVENUE]
        self.insurance = ids[AccountKind.INSURANCE_FUND]


def wallet_free(book: Book, moves: Movements) -> Decimal:
    """What the wallet holds beyond held amounts, counting this operation's pending moves."""
    return book.wallet.balance - book.wallet.held + moves.net(book.wallet.id)


def pay_first_from_funds(book: Book, moves: Movements, destination_id: int, amount: Decimal) -> Decimal:
    """Pay up to ``amount`` from the book's first-paying funds account (``hooks.register_funds_source``).

    Returns what it paid; the caller takes the rest from the position or the wallet as usual.
    """
    paid = min(max(amount, ZERO), _funds_free(book, moves))
    if paid:
        moves.move(book.funds.id, destination_id, paid)
    return paid


def open_fill(
    *,
    book: Book,
    market: Market,
    position: Position | None,
    side: str,
    qty: Decimal,
    price: Decimal,
    leverage: int,
    margin_mode: str,
    slot: int,
    available: Decimal,
    moves: Movements,
    platform: Platform,
    save: bool = True,
) -> Position:
    """Open or add to a position at ``price``: margin reserved (isolated) and the taker fee charged.

    With ``save=False`` the caller persists the position (bulk writers such as the copy fan-out).
    """
    initial = m.initial_margin(qty=qty, price=price, leverage=leverage)
    fee = m.fee(qty=qty, price=price, rate=market.taker_fee_rate)
    covered = min(fee, _funds_free(book, moves))
    if initial + fee - covered > available:
        raise InsufficientFunds(
            f"insufficient margin: this order needs {initial} margin + {fee} fee, available {available}",
            fields={"qty": ["exceeds what the available margin can open"]},
        )
    moves.move(book.wallet.id, platform.fees, fee - pay_first_from_funds(book, moves, platform.fees, covered))
    if margin_mode == "isolated":
        moves.move(book.wallet.id, book.margin.id, initial)
    if position is None:
        position = instance_new(
            Position,
            account=book.wallet,
            market=market,
            slot=slot,
            side=PositionSide.LONG if side == "buy" else PositionSide.SHORT,
            qty=qty,
            entry_price=price,
            leverage=leverage,
            margin_mode=margin_mode,
            margin=initial,
            fees_paid=fee,
        )
    else:
        position.entry_price = m.average_entry(qty=position.qty, entry=position.entry_price, add_qty=qty, price=price)
        position.qty += qty
        position.margin += initial
        position.fees_paid += fee
    if position.is_isolated:
        position.liquidation_price = isolated_liquidation_price(position)
    if save:
        position.save()
    return position


def _funds_free(book: Book, moves: Movements) -> Decimal:
    if book.funds is None:
        return ZERO
    return max(book.funds.balance - book.funds.held + moves.net(book.funds.id), ZERO)


def close_fill(
    *,
    book: Book,
    position: Position,
    qty: Decimal,
    price: Decimal,
    reason: str,
    moves: Movements,
    platform: Platform,
    order=None,
    save: bool = True,
) -> PositionClose:
    """Close ``qty`` of a position at ``price``; the user never loses more than it has there.

    Isolated: the closed share of the margin pays the loss and the fee; what it
    cannot pay is borne by the insurance fund. Cross: the wallet pays, and the
    insurance fund covers a shortfall. A liquidation charges no taker fee but a
    liquidation fee of up to the maintenance margin, to the insurance fund.
    """
    market = position.market
    qty = min(qty, position.qty)
    full = qty == position.qty
    liquidation = reason == CloseReason.LIQUIDATION
    result = m.pnl(sign=position.sign, qty=qty, entry=position.entry_price, price=price)
    released = position.margin if full else quantize(position.margin * qty / position.qty, rounding=ROUND_DOWN)
    funding_share = (
        position.funding_paid if full else quantize(position.funding_paid * qty / position.qty, rounding=ROUND_DOWN)
    )
    fee_due = ZERO if liquidation else m.fee(qty=qty, price=price, rate=market.taker_fee_rate)
    liq_fee_due = (
        m.maintenance_margin(qty=qty, price=price, rate=market.maintenance_margin_rate) if liquidation else ZERO
    )
    profit, loss = max(result, ZERO), max(-result, ZERO)
    fee_from_funds = pay_first_from_funds(book, moves, platform.fees, fee_due)
    fee_due -= fee_from_funds

    if position.is_isolated:
        paid_loss = min(loss, released)
        moves.move(book.margin.id, platform.house, paid_loss)
        moves.move(platform.insurance, platform.house, loss - paid_loss)
        moves.move(platform.house, book.wallet.id, profit)
        left = released - paid_loss
        liq_fee = min(liq_fee_due, left)
        moves.move(book.margin.id, platform.insurance, liq_fee)
        left -= liq_fee
        fee_from_margin = min(fee_due, left)
        moves.move(book.margin.id, platform.fees, fee_from_margin)
        moves.move(book.margin.id, book.wallet.id, left - fee_from_margin)
        fee_from_wallet = min(fee_due - fee_from_margin, max(wallet_free(book, moves), ZERO))
        moves.move(book.wallet.id, platform.fees, fee_from_wallet)
        fee = fee_from_funds + fee_from_margin + fee_from_wallet
        margin_lost = paid_loss + liq_fee if liquidation else ZERO
    else:
        moves.move(platform.house, book.wallet.id, profit)
        paid_loss = min(loss, max(wallet_free(book, moves), ZERO))
        moves.move(book.wallet.id, platform.house, paid_loss)
        moves.move(platform.insurance, platform.house, loss - paid_loss)
        liq_fee = min(liq_fee_due, max(wallet_free(book, moves), ZERO))
        moves.move(book.wallet.id, platform.insurance, liq_fee)
        fee = min(fee_due, max(wallet_free(book, moves), ZERO))
        moves.move(book.wallet.id, platform.fees, fee)
        fee += fee_from_funds
        margin_lost = paid_loss + liq_fee if liquidation else ZERO

    position.qty -= qty
    position.margin -= released
    position.realised_pnl += result
    position.fees_paid += fee
    position.funding_paid -= funding_share
    if full:
        position.status = PositionStatus.CLOSED
        position.closed_at = timezone.now()
        position.liquidation_price = None
        position.cross_multi = False
    elif position.is_isolated:
        position.liquidation_price = isolated_liquidation_price(position)
    close = PositionClose(
        position=position,
        order=order,
        qty=qty,
        price=price,
        realised_pnl=result,
        fee=fee,
        funding=funding_share,
        margin_released=released,
        margin_lost=margin_lost,
        liquidation_fee=liq_fee,
        reason=reason,
    )
    if save:  # bulk callers (the risk sweep) persist many at once instead
        position.save()
        close.save()
    return close


POSITION_CLOSE_FIELDS = [
    "qty",
    "margin",
    "realised_pnl",
    "fees_paid",
    "funding_paid",
    "status",
    "closed_at",
    "liquidation_price",
    "cross_multi",
]
