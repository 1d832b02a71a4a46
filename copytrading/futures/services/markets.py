"""Operators create markets and change their parameters; every change is recorded with who and why.

One set of checks serves the ops API and the admin. Parameters that open
positions and their stored liquidation prices depend on — price tick,
quantity step, minimum quantity, maintenance-margin rate — change only while
the market has no open position; the rest (fees, funding, the liquidity cap,
the maximum leverage, which orders and copies are capped at, the token follow
limit, trading on or off) change at any time. (R-MG-01, R-OP-01)
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from accounts.models import User
from config.errors import InvalidInput, InvalidState
from copytrading.futures.models import Market, MarketChange, Position, PositionStatus

# Parameters whose change would silently alter open positions.
STRUCTURAL_FIELDS = ("price_tick", "qty_step", "min_qty", "maintenance_margin_rate")
EDITABLE_FIELDS = (
    *STRUCTURAL_FIELDS,
    "max_order_qty",
    "max_leverage",
    "taker_fee_rate",
    "funding_rate",
    "funding_interval_hours",
    "token_follow_limit",
    "is_active",
)
CREATE_FIELDS = ("symbol", "base_asset", *EDITABLE_FIELDS)
REQUIRED_ON_CREATE = (
    "symbol",
    "base_asset",
    "price_tick",
    "qty_step",
    "min_qty",
    "max_order_qty",
    "max_leverage",
    "maintenance_margin_rate",
    "taker_fee_rate",
)
MAX_LEVERAGE_CAP = 125  # the highest leverage the big USDT-margined venues offer
FUNDING_INTERVALS = (1, 2, 4, 8)
# A funding rate beyond ±3 % per interval is a typo, not a market.
FUNDING_RATE_CAP = Decimal("0.03")


def _check(params: Mapping[str, Any]) -> None:
    """Each value alone and together (the same checks as the database's constraints, said in words)."""
    positive = ("price_tick", "qty_step", "min_qty", "max_order_qty")
    for name in positive:
        if name in params and params[name] <= 0:
            raise InvalidInput(name, "must be above 0")
    if "max_leverage" in params and not 1 <= params["max_leverage"] <= MAX_LEVERAGE_CAP:
        raise InvalidInput("max_leverage", f"must be a whole number from 1 to {MAX_LEVERAGE_CAP}")
    if "maintenance_margin_rate" in params and not 0 < params["maintenance_margin_rate"] < 1:
        raise InvalidInput("maintenance_margin_rate", "must be above 0 and below 1")
    if "taker_fee_rate" in params and not 0 <= params["taker_fee_rate"] < 1:
        raise InvalidInput("taker_fee_rate", "must be at least 0 and below 1")
    if "funding_rate" in params and abs(params["funding_rate"]) > FUNDING_RATE_CAP:
        raise InvalidInput("funding_rate", f"must be between -{FUNDING_RATE_CAP} and {FUNDING_RATE_CAP}")
    if "funding_interval_hours" in params and params["funding_interval_hours"] not in FUNDING_INTERVALS:
        raise InvalidInput("funding_interval_hours", f"must be one of {', '.join(map(str, FUNDING_INTERVALS))}")
    limit = params.get("token_follow_limit")
    if limit is not None and limit <= 0:
        raise InvalidInput("token_follow_limit", "must be above 0, or null for no limit")
    if "min_qty" in params and "qty_step" in params and params["min_qty"] % params["qty_step"]:
        raise InvalidInput("min_qty", f"must be a multiple of the quantity step {params['qty_step']}")
    if "max_order_qty" in params and "min_qty" in params and params["max_order_qty"] < params["min_qty"]:
        raise InvalidInput("max_order_qty", "must be at least the minimum quantity")
    mmr, leverage = params.get("maintenance_margin_rate"), params.get("max_leverage")
    # At or above 1/leverage a position would be liquidated the moment it opened.
    if mmr is not None and leverage and mmr >= Decimal(1) / leverage:
        raise InvalidInput(
            "maintenance_margin_rate",
            f"must be below 1 / max_leverage ({Decimal(1) / params['max_leverage']:.8f}), "
            "or a position at the maximum leverage is liquidated as it opens",
        )


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("reason", "say why: the change is recorded with its reason (R-OP-01)")
    return reason


def _plain(value: Any) -> Any:
    return format(value, "f") if isinstance(value, Decimal) else value


def market_params_validate(*, params: Mapping[str, Any], market: Market | None = None) -> None:
    """Check ``params`` as they would stand on ``market`` (or on a new market); InvalidInput names the field."""
    unknown = set(params) - set(CREATE_FIELDS if market is None else EDITABLE_FIELDS)
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidInput(name, "cannot be set" if market is None else "cannot be changed once the market exists")
    if market is None:
        missing = [name for name in REQUIRED_ON_CREATE if params.get(name) in (None, "")]
        if missing:
            raise InvalidInput(missing[0], "is required")
        _check(params)
    else:
        _check({name: getattr(market, name) for name in EDITABLE_FIELDS} | dict(params))


def market_has_open_positions(*, market: Market) -> bool:
    return Position.objects.filter(market=market, status=PositionStatus.OPEN).exists()


def market_create(*, params: Mapping[str, Any], actor: User, reason: str) -> Market:
    """Create a market from ``params`` (symbol, tick, step …); recorded as a change with who and why."""
    reason = _reason(reason)
    params = dict(params)
    params["symbol"] = str(params.get("symbol", "")).strip().upper()
    market_params_validate(params=params)
    try:
        with transaction.atomic():
            market = Market.objects.create(**params)
            MarketChange.objects.create(
                market=market,
                actor=actor,
                reason=reason,
                created=True,
                changes={name: [None, _plain(value)] for name, value in sorted(params.items())},
            )
    except IntegrityError:
        raise InvalidState(
            f"a market {params['symbol']} already exists", fields={"symbol": ["already exists"]}
        ) from None
    return market


def market_update(*, market: Market, changes: Mapping[str, Any], actor: User, reason: str) -> Market:
    """Change some of ``market``'s parameters under its row lock; a structural one only with no open position.

    Changing nothing records nothing.
    """
    reason = _reason(reason)
    with transaction.atomic():
        market = Market.objects.select_for_update().get(pk=market.pk)
        market_params_validate(params=changes, market=market)
        diff = {
            name: [_plain(getattr(market, name)), _plain(value)]
            for name, value in changes.items()
            if getattr(market, name) != value
        }
        structural = sorted(set(diff) & set(STRUCTURAL_FIELDS))
        if structural and market_has_open_positions(market=market):
            raise InvalidState(
                f"{market.symbol} has open positions: {', '.join(structural)} cannot change until they close",
                fields={name: ["open positions and their liquidation prices depend on it"] for name in structural},
            )
        if diff:
            for name in diff:
                setattr(market, name, changes[name])
            market.save(update_fields=list(diff))
            market.refresh_from_db(fields=list(diff))  # record the values as stored (column precision)
            for name in diff:
                diff[name][1] = _plain(getattr(market, name))
            MarketChange.objects.create(market=market, actor=actor, reason=reason, changes=diff)
    return market
