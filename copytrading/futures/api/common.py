"""Helpers shared by the futures API views: path parameters, lookups that answer 404, field checks."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.exceptions import NotFound

from accounts.idempotency import idempotency_key_require
from accounts.models import AccountKind
from accounts.services.accounts import account_open
from config.api import ErrorSerializer
from copytrading.futures.margin import round_step_down
from copytrading.futures.models import Market, Position
from copytrading.futures.selectors import market_get, position_get

SYMBOL_PATH = OpenApiParameter("symbol", str, OpenApiParameter.PATH, description="Market symbol, e.g. BTCUSDT.")
POSITION_PATH = OpenApiParameter("position_id", int, OpenApiParameter.PATH, description="One of your positions.")
NOT_FOUND = {404: ErrorSerializer}


def market_or_404(symbol: str) -> Market:
    market = market_get(symbol=symbol)
    if market is None:
        raise NotFound(f"no market {symbol!r}")
    return market


def position_or_404(request, position_id: int) -> Position:
    position = position_get(user=request.user, position_id=position_id)
    if position is None:
        raise NotFound(f"no position {position_id} of yours")
    return position


def idempotency_key_of(request) -> str:
    return idempotency_key_require(request)


def futures_account_of(user):
    return account_open(owner=user, kind=AccountKind.FUTURES)


class MarketField(serializers.CharField):
    """A market symbol in a body, resolved to the market: an unknown one is a 400 naming the field."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault("help_text", "Market symbol, e.g. BTCUSDT.")
        super().__init__(**kwargs)

    def run_validation(self, data=serializers.empty):
        symbol = super().run_validation(data)
        market = market_get(symbol=symbol)
        if market is None:
            raise serializers.ValidationError(f"no market {symbol!r}")
        return market


def check_step(market: Market, qty: Decimal, field: str) -> None:
    """Quantities round down to the market's step; what is then below the minimum is refused."""
    if round_step_down(qty, market.qty_step) < market.min_qty:
        raise serializers.ValidationError(
            {field: [f"rounds down to less than the minimum quantity {market.min_qty} (step {market.qty_step})"]}
        )


# --- markets and prices -------------------------------------------------------
