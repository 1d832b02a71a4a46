"""Margin arithmetic, free of the database: PnL, fees, margins and liquidation prices. (R-MG-02, R-MG-04)

All inputs and outputs are Decimal. Amounts the user pays are rounded up and
amounts the user receives rounded down (to 8 places), so rounding never
creates money the platform does not have; prices round to the market tick.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_UP, Decimal

from accounts.money import ZERO, quantize


def round_step_down(value: Decimal, step: Decimal) -> Decimal:
    """Round a quantity down to the market's step (never more than asked)."""
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


def round_price(value: Decimal, tick: Decimal, *, up: bool) -> Decimal:
    return (value / tick).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR) * tick


def pnl(*, sign: int, qty: Decimal, entry: Decimal, price: Decimal) -> Decimal:
    """Trading result of ``qty`` from ``entry`` to ``price`` (sign +1 long, -1 short), floored for the user."""
    return quantize(sign * qty * (price - entry), rounding=ROUND_FLOOR)


def fee(*, qty: Decimal, price: Decimal, rate: Decimal) -> Decimal:
    """Taker fee on a fill: notional × rate, rounded up."""
    return quantize(qty * price * rate, rounding=ROUND_UP)


def initial_margin(*, qty: Decimal, price: Decimal, leverage: int) -> Decimal:
    """Opening margin: notional / leverage, rounded up."""
    return quantize(qty * price / leverage, rounding=ROUND_UP)


def maintenance_margin(*, qty: Decimal, price: Decimal, rate: Decimal) -> Decimal:
    """Maintenance margin at a mark: notional × maintenance rate, rounded up."""
    return quantize(qty * price * rate, rounding=ROUND_UP)


def average_entry(*, qty: Decimal, entry: Decimal, add_qty: Decimal, price: Decimal) -> Decimal:
    return quantize((qty * entry + add_qty * price) / (qty + add_qty))


def isolated_liquidation_price(
    *, sign: int, qty: Decimal, entry: Decimal, margin: Decimal, mmr: Decimal, tick: Decimal
) -> Decimal | None:
    """The mark at which margin + unrealised PnL equals the maintenance margin.

    Long: M + q(P − E) = q·P·m  →  P = (qE − M) / (q(1 − m)).
    Short: M + q(E − P) = q·P·m  →  P = (qE + M) / (q(1 + m)).
    Rounded one tick towards the entry (up for a long, down for a short), so a
    range query on it finds every position a price could liquidate. None when
    no positive price liquidates it (a long backed by more than its notional).
    """
    if qty <= 0:
        return None
    if sign > 0:
        raw = (qty * entry - margin) / (qty * (1 - mmr))
    else:
        raw = (qty * entry + margin) / (qty * (1 + mmr))
    if raw <= 0:
        return None
    return round_price(raw, tick, up=sign > 0)


@dataclass(frozen=True)
class Leg:
    """A cross position as the liquidation maths sees it."""

    sign: int
    qty: Decimal
    entry: Decimal


def cross_liquidation_price(*, legs: Iterable[Leg], cushion: Decimal, mmr: Decimal, tick: Decimal) -> Decimal | None:
    """Liquidation price of a cross account's positions in one market, all on one side.

    ``cushion`` is the account's equity from everything else: balance − held +
    unrealised PnL of its positions in other markets − their maintenance margin.
    Solves cushion + Σ s·qᵢ(P − Eᵢ) = m·P·Σqᵢ for P; rounded one tick towards the
    current side as for isolated positions.
    """
    legs = list(legs)
    if not legs:
        return None
    sign = legs[0].sign
    total_qty = sum((leg.qty for leg in legs), ZERO)
    if total_qty <= 0:
        return None
    weighted_entry = sum((leg.qty * leg.entry for leg in legs), ZERO)
    denominator = total_qty * (sign - mmr)
    raw = (sign * weighted_entry - cushion) / denominator
    if raw <= 0:
        return None
    return round_price(raw, tick, up=sign > 0)
