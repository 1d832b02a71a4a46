"""Statistics and risk flags from a daily equity curve: pure functions, Decimal in and out. (R-CT-18, R-CT-19)

A curve is a list of ``Point`` (platform date, equity at the end of that day, net flow of that day:
money put in minus money taken out), in date order. Returns are time-weighted, so deposits and
withdrawals are neither gains nor losses: the return of day t is (equity_t − flow_t) / equity_{t−1} − 1.
A day whose previous equity is zero or less has no return (nothing was at risk).

Windows are by date: "the last N days" of a curve ending on day E are the returns of days E−N+1 … E,
measured from the point of day E−N (or, for a younger curve, from its first point).

Ratios are fractions (0.05 = 5 %). No money goes through a float; the Sharpe ratio and the standard
deviation are Decimal too (``Decimal.sqrt``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise

from django.conf import settings

ZERO = Decimal("0")
ONE = Decimal("1")

# R-CT-19's defaults. Override any of them with settings.TRADER_FLAG_THRESHOLDS = {name: value}.
DEFAULT_FLAG_THRESHOLDS: dict[str, Decimal | int] = {
    "new_days": 30,  # new: fewer than 30 trading days
    "young_days": 60,  # young: fewer than 60
    "conservative_share": Decimal("0.80"),  # ≥ 80 % of the 90-day notional in BTC and ETH
    "conservative_window_days": 90,
    "drawdown_conservative": Decimal("0.30"),  # max drawdown above 30 % (conservative)
    "drawdown_aggressive": Decimal("0.50"),  # above 50 % (any other)
    "freefall_window_days": 90,
    "freefall_rise_share": Decimal("0.70"),  # rose on ≥ 70 % of the days from the window start to the peak
    "freefall_fall": Decimal("0.20"),  # then fell ≥ 20 % from the peak
    "freefall_fall_days": 3,  # within 3 days
    "past_star_recent_days": 30,  # the last 30 days …
    "past_star_window_days": 90,  # … and days 31–90 back
    "past_star_roi": Decimal("0.30"),  # ROI of days 31–90 back ≥ 30 %
    "past_star_recent_roi": ZERO,  # and ROI of the last 30 days ≤ 0
    "heart_monitor_days": 30,
    "heart_monitor_stdev": Decimal("0.08"),  # stdev of daily returns over the last 30 days > 8 %
}

FLAGS = ("new", "young", "drawdown", "freefall", "past_star", "heart_monitor")


def flag_thresholds() -> dict[str, Decimal | int]:
    """The defaults, with any overrides from ``settings.TRADER_FLAG_THRESHOLDS`` (Decimal-able values)."""

    thresholds = dict(DEFAULT_FLAG_THRESHOLDS)
    for name, value in (getattr(settings, "TRADER_FLAG_THRESHOLDS", None) or {}).items():
        if name not in thresholds:
            raise ValueError(f"unknown trader flag threshold {name!r}")
        thresholds[name] = int(value) if isinstance(DEFAULT_FLAG_THRESHOLDS[name], int) else Decimal(str(value))
    return thresholds


@dataclass(frozen=True)
class Point:
    day: date
    equity: Decimal
    flow: Decimal = ZERO


def daily_returns(points: Sequence[Point]) -> list[tuple[date, Decimal]]:
    """(day, return) for every point after the first whose previous equity is positive."""
    out = []
    for prev, cur in pairwise(points):
        if prev.equity > 0:
            out.append((cur.day, (cur.equity - cur.flow) / prev.equity - ONE))
    return out


def _returns_between(points: Sequence[Point], after: date | None, until: date) -> list[Decimal]:
    """Returns of the days in (after, until]; ``after`` None: from the start."""
    return [r for day, r in daily_returns(points) if (after is None or day > after) and day <= until]


def compound(returns: Iterable[Decimal]) -> Decimal:
    """The time-weighted return of consecutive daily returns: Π(1 + r) − 1."""
    growth = ONE
    for r in returns:
        growth *= ONE + r
    return growth - ONE


def roi(points: Sequence[Point], days: int | None = None) -> Decimal:
    """Time-weighted ROI of the last ``days`` days of the curve (None: all time); 0 for fewer than two points."""
    if not points:
        return ZERO
    end = points[-1].day
    return roi_between(points, None if days is None else end - timedelta(days=days), end)


def roi_between(points: Sequence[Point], after: date | None, until: date) -> Decimal:
    """Time-weighted ROI from the end of day ``after`` to the end of day ``until``."""
    return compound(_returns_between(points, after, until))


def index_curve(points: Sequence[Point]) -> list[tuple[date, Decimal]]:
    """The flow-adjusted growth of 1 over the curve: (day, Π(1 + r) so far), starting at (first day, 1)."""
    if not points:
        return []
    out = [(points[0].day, ONE)]
    level = ONE
    for day, r in daily_returns(points):
        level *= ONE + r
        out.append((day, level))
    return out


def max_drawdown(points: Sequence[Point]) -> Decimal:
    """The largest fall from a peak, as a fraction of the peak, of the flow-adjusted curve (0 … 1)."""
    peak, worst = None, ZERO
    for _, level in index_curve(points):
        if peak is None or level > peak:
            peak = level
        elif peak > 0:
            worst = max(worst, (peak - level) / peak)
    return worst


def win_rate(results: Iterable[Decimal]) -> Decimal | None:
    """Share of closed results above zero; None when nothing was closed."""
    results = list(results)
    if not results:
        return None
    return Decimal(sum(1 for r in results if r > 0)) / Decimal(len(results))


def mean(values: Sequence[Decimal]) -> Decimal:
    return sum(values, ZERO) / Decimal(len(values)) if values else ZERO


def stdev(values: Sequence[Decimal]) -> Decimal:
    """Sample standard deviation (n − 1); 0 for fewer than two values."""
    n = len(values)
    if n < 2:
        return ZERO
    m = mean(values)
    return (sum(((v - m) ** 2 for v in values), ZERO) / Decimal(n - 1)).sqrt()


SQRT_365 = Decimal(365).sqrt()


def sharpe(returns: Sequence[Decimal]) -> Decimal | None:
    """Annualised Sharpe ratio of daily returns (risk-free rate 0): mean / stdev × √365; None when undefined."""
    sd = stdev(returns)
    if sd == 0:
        return None
    return mean(returns) / sd * SQRT_365


def percentile(values: Sequence[Decimal], q: Decimal) -> Decimal | None:
    """Nearest-rank percentile: the smallest value with at least ``q`` of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(math.ceil(q * len(ordered)), 1)
    return ordered[rank - 1]


def _window(points: Sequence[Point], days: int) -> list[Point]:
    """The points of the last ``days`` days plus the point the window starts from (day E − days)."""
    if not points:
        return []
    start = points[-1].day - timedelta(days=days)
    base = [p for p in points if p.day <= start][-1:]
    return base + [p for p in points if p.day > start]


def is_freefall(points: Sequence[Point], t: dict) -> bool:
    """Rose on ≥ 70 % of the days from the window start to the window's peak, then fell ≥ 20 % within 3 days."""
    curve = index_curve(_window(points, t["freefall_window_days"]))
    if len(curve) < 3:
        return False
    levels = [level for _, level in curve]
    peak_at = max(range(len(levels)), key=lambda i: (levels[i], -i))  # the first time the peak is reached
    if peak_at == 0:
        return False
    rises = sum(1 for i in range(1, peak_at + 1) if levels[i] > levels[i - 1])
    if Decimal(rises) / Decimal(peak_at) < t["freefall_rise_share"]:
        return False
    peak_day, peak = curve[peak_at]
    floor = peak * (ONE - t["freefall_fall"])
    last_day = peak_day + timedelta(days=t["freefall_fall_days"])
    return any(level <= floor for day, level in curve[peak_at + 1 :] if day <= last_day)


def trader_flags(
    points: Sequence[Point],
    *,
    trading_days: int,
    btc_eth_share: Decimal,
    drawdown: Decimal | None = None,
    thresholds: dict | None = None,
) -> list[str]:
    """R-CT-19's flags, in the order of ``FLAGS``. ``drawdown`` defaults to the curve's max drawdown."""
    t = thresholds or flag_thresholds()
    flags = []
    if trading_days < t["new_days"]:
        flags.append("new")
    if trading_days < t["young_days"]:
        flags.append("young")
    drawdown = max_drawdown(points) if drawdown is None else drawdown
    conservative = btc_eth_share >= t["conservative_share"]
    if drawdown > t["drawdown_conservative" if conservative else "drawdown_aggressive"]:
        flags.append("drawdown")
    if is_freefall(points, t):
        flags.append("freefall")
    if points:
        end = points[-1].day
        recent_from = end - timedelta(days=t["past_star_recent_days"])
        past = roi_between(points, end - timedelta(days=t["past_star_window_days"]), recent_from)
        recent = roi_between(points, recent_from, end)
        if past >= t["past_star_roi"] and recent <= t["past_star_recent_roi"]:
            flags.append("past_star")
        recent_returns = _returns_between(points, end - timedelta(days=t["heart_monitor_days"]), end)
        if stdev(recent_returns) > t["heart_monitor_stdev"]:
            flags.append("heart_monitor")
    return flags
