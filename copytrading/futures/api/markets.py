"""Markets over the API: the list, price history, the caller's leverage and margin mode, operators' prices.
(R-MG-01, R-MG-03, R-MG-08)

An operator's mark price moves money (it may liquidate), so it takes an Idempotency-Key.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.fields import AmountField
from accounts.api.permissions import operator_with
from accounts.api.views import IDEMPOTENCY_HEADER, MONEY_ERRORS
from accounts.idempotency import MoneyMovingApi, idempotent
from config.api import CursorPagination, ErrorSerializer
from copytrading.futures.api.common import (
    NOT_FOUND,
    SYMBOL_PATH,
    MarketField,
    futures_account_of,
    market_or_404,
)
from copytrading.futures.api.serializers import (
    MarketOutputSerializer,
    MarketSettingOutputSerializer,
    MarkPriceOutputSerializer,
)
from copytrading.futures.models import MarginMode, PriceSource
from copytrading.futures.selectors import mark_price_history, market_list, market_setting_for
from copytrading.futures.services.market_settings import market_setting_set
from copytrading.futures.services.prices import mark_price_set


class MarketListApi(APIView):
    """The markets open for trading (public)."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="markets_list",
        summary="List the markets open for trading",
        description=(
            "Every market open for trading with its price tick, quantity step, order limits, maximum "
            "leverage, maintenance-margin and taker fee rates, funding, and current mark price. Public: "
            "no login needed."
        ),
        responses={200: MarketOutputSerializer(many=True)},
    )
    def get(self, request):
        return Response(MarketOutputSerializer(market_list(), many=True).data)


class MarkPriceCursorPagination(CursorPagination):
    ordering = ("-at", "-id")


class MarketPriceListApi(GenericAPIView):
    """A market's mark-price history, newest first (public)."""

    permission_classes = [AllowAny]
    serializer_class = MarkPriceOutputSerializer
    pagination_class = MarkPriceCursorPagination

    @extend_schema(
        operation_id="markets_prices_list",
        summary="List a market's mark-price history",
        description=(
            "The market's mark prices, newest first and cursor-paginated, each with its time and where it "
            "came from (an operator, a replayed file or the simulation). Public: no login needed. An "
            "unknown symbol answers 404."
        ),
        parameters=[SYMBOL_PATH],
        responses={200: MarkPriceOutputSerializer(many=True), **NOT_FOUND},
    )
    def get(self, request, symbol: str):
        market = market_or_404(symbol)
        page = self.paginate_queryset(mark_price_history(market=market).select_related("market"))
        return self.get_paginated_response(MarkPriceOutputSerializer(page, many=True).data)


class OpsMarkPriceCreateApi(MoneyMovingApi, APIView):
    """Risk operators set a market's mark price; the risk sweep for that market follows. (R-MG-08)"""

    permission_classes = [operator_with("futures.set_mark_price")]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "OpsMarkPriceCreateInput"

        symbol = MarketField()
        price = AmountField(help_text="A multiple of the market's price tick.")

        def validate(self, attrs):
            market = attrs["symbol"]
            if attrs["price"] % market.price_tick:
                raise serializers.ValidationError(
                    {"price": [f"must be a multiple of the price tick {market.price_tick}"]}
                )
            return attrs

    @extend_schema(
        operation_id="ops_prices_create",
        summary="Set a market's mark price",
        description=(
            "Risk operators set a market's mark price, a multiple of its price tick; the risk sweep for "
            "that market follows (liquidations, take-profit and stop-loss, Net Value Guardian). Operators "
            "holding `futures.set_mark_price` only. Needs an `Idempotency-Key` header: a replay with "
            "the same body returns the first response. (R-MG-08)"
        ),
        parameters=[IDEMPOTENCY_HEADER],
        request=InputSerializer,
        responses={201: MarkPriceOutputSerializer, 403: ErrorSerializer, **MONEY_ERRORS},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)

        def execute():
            tick = mark_price_set(
                market=data.validated_data["symbol"],
                price=data.validated_data["price"],
                source=PriceSource.OPERATOR,
                actor_id=request.user.pk,
            )
            return Response(MarkPriceOutputSerializer(tick).data, status=status.HTTP_201_CREATED)

        return idempotent(request, "ops-prices", execute)


# --- orders -------------------------------------------------------------------


class MarketSettingApi(APIView):
    """Your futures account's leverage and margin mode in one market. (R-MG-03)"""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "MarketSettingInput"

        leverage = serializers.IntegerField(required=False, min_value=1, help_text="1 … the market's maximum.")
        margin_mode = serializers.ChoiceField(choices=MarginMode.choices, required=False)

        def validate(self, attrs):
            if not attrs:
                raise serializers.ValidationError({"leverage": ["give leverage and/or margin_mode"]})
            return attrs

    @extend_schema(
        operation_id="markets_settings_retrieve",
        summary="Show your leverage and margin mode in a market",
        description=(
            "Your futures account's leverage and margin mode (cross or isolated) in the market: the "
            "defaults until you change them. Any signed-in user; read-only. (R-MG-03)"
        ),
        parameters=[SYMBOL_PATH],
        responses={200: MarketSettingOutputSerializer, 401: ErrorSerializer, **NOT_FOUND},
    )
    def get(self, request, symbol: str):
        market = market_or_404(symbol)
        return Response(MarketSettingOutputSerializer(market_setting_for(user=request.user, market=market)).data)

    @extend_schema(
        operation_id="markets_settings_update",
        summary="Change your leverage or margin mode in a market",
        description=(
            "Sets your futures account's leverage (1 up to the market's maximum) and/or margin mode in "
            "the market. A new leverage applies to what is opened after it, so open positions keep their "
            "margin and a change never liquidates at once; the margin mode cannot change while you hold a "
            "position in the market. Any signed-in user, on their own futures account. (R-MG-03)"
        ),
        parameters=[SYMBOL_PATH],
        request=InputSerializer,
        responses={
            200: MarketSettingOutputSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            422: ErrorSerializer,
            **NOT_FOUND,
        },
    )
    def put(self, request, symbol: str):
        market = market_or_404(symbol)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        setting = market_setting_set(account=futures_account_of(request.user), market=market, **data.validated_data)
        return Response(MarketSettingOutputSerializer(setting).data)
