"""Validation of a follower's settings: each error names the field and the allowed range. (R-CT-05, R-CT-06, R-CT-09)"""

from __future__ import annotations

from decimal import Decimal

from accounts.money import parse_amount
from config.errors import InvalidAmount, InvalidInput
from copytrading.futures.models import Market
from copytrading.models import FollowMode, LeverageChoice, ModeChoice

SLIPPAGE_MIN, SLIPPAGE_MAX = Decimal("0.001"), Decimal("0.03")
FIXED_LEVERAGE_MAX = 10

RATIO_FIELDS = ("stop_loss_ratio", "take_profit_ratio", "max_margin_per_order_pct")
MONEY_FIELDS = (
    "guardian_max_loss",
    "guardian_min_net_value",
    "max_margin_per_pair",
    "max_position_value",
    "diverse_margin",
)
EDITABLE = (
    "pairs",
    "auto_follow_new_pairs",
    "follow_existing",
    *MONEY_FIELDS,
    *RATIO_FIELDS,
    "slippage_ratio",
    "margin_mode",
    "leverage_mode",
    "fixed_leverage",
    "custom_leverage",
    "diverse_multiple",
)


def _ratio(field: str, value: object, *, low: Decimal, high: Decimal, low_open: bool = True) -> Decimal:
    try:
        ratio = parse_amount(value, field=field, positive=False)
    except InvalidAmount:
        raise InvalidInput(field, f"must be a decimal between {low} and {high}") from None
    if ratio > high or ratio < low or (low_open and ratio == low):
        raise InvalidInput(field, f"must be {'above' if low_open else 'at least'} {low} and at most {high}")
    return ratio


def _whole(field: str, value: object, *, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(field, f"must be a whole number from {low} to {high}")
    return value


def settings_validate(data: dict, *, mode: str, current: dict | None = None) -> dict:
    """Return the cleaned settings in ``data``; ``current`` holds the stored ones for cross-field rules."""
    unknown = set(data) - set(EDITABLE)
    if unknown:
        field = sorted(unknown)[0]
        raise InvalidInput(field, "is not a following setting")
    clean: dict = {}
    markets = {m.symbol: m for m in Market.objects.filter(is_active=True)}
    for field, value in data.items():
        if value is None and field not in (
            "auto_follow_new_pairs",
            "follow_existing",
            "margin_mode",
            "leverage_mode",
            "slippage_ratio",
            "max_position_value",
            "custom_leverage",
        ):
            clean[field] = None
            continue
        if field == "pairs":
            if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
                raise InvalidInput("pairs", "must be a list of market symbols, or null for all")
            unknown_pairs = [s for s in value if s not in markets]
            if unknown_pairs:
                raise InvalidInput("pairs", f"unknown or inactive market {unknown_pairs[0]}")
            clean[field] = sorted(set(value))
        elif field in ("auto_follow_new_pairs", "follow_existing"):
            if not isinstance(value, bool):
                raise InvalidInput(field, "must be true or false")
            clean[field] = value
        elif field in MONEY_FIELDS:
            clean[field] = parse_amount(value, field=field)
        elif field in RATIO_FIELDS:
            clean[field] = _ratio(field, value, low=Decimal(0), high=Decimal(1))
        elif field == "slippage_ratio":
            clean[field] = _ratio(field, value, low=SLIPPAGE_MIN, high=SLIPPAGE_MAX, low_open=False)
        elif field == "diverse_multiple":
            clean[field] = _ratio(field, value, low=Decimal(0), high=Decimal(100))
        elif field == "margin_mode":
            if value not in ModeChoice.values:
                raise InvalidInput(field, f"must be one of {', '.join(ModeChoice.values)}")
            clean[field] = value
        elif field == "leverage_mode":
            if value not in LeverageChoice.values:
                raise InvalidInput(field, f"must be one of {', '.join(LeverageChoice.values)}")
            clean[field] = value
        elif field == "fixed_leverage":
            clean[field] = _whole(field, value, low=1, high=FIXED_LEVERAGE_MAX)
        elif field == "custom_leverage":
            if not isinstance(value, dict):
                raise InvalidInput(field, "must map market symbols to leverage")
            for symbol, leverage in value.items():
                if symbol not in markets:
                    raise InvalidInput(field, f"unknown or inactive market {symbol}")
                _whole(field, leverage, low=1, high=markets[symbol].max_leverage)
            clean[field] = dict(value)
    merged = {**(current or {}), **clean}
    if merged.get("leverage_mode") == LeverageChoice.FIXED and not merged.get("fixed_leverage"):
        raise InvalidInput("fixed_leverage", f"is required with fixed leverage (1–{FIXED_LEVERAGE_MAX})")
    if mode == FollowMode.DIVERSE and not (merged.get("diverse_margin") or merged.get("diverse_multiple")):
        raise InvalidInput("diverse_margin", "Diverse Exploration needs a fixed margin or a multiple of the lead's")
    return clean
