"""Orders over the API: a follower's or lead's market orders, listed and placed. (R-MG-02, R-MG-03)

Orders are those of the caller's futures account; placing one moves money, so
it takes an Idempotency-Key.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from accounts.api.fields import AmountField
from accounts.api.views import IDEMPOTENCY_HEADER, MONEY_ERRORS
from accounts.idempotency import MoneyMovingApi, idempotent
from config.api import ErrorSerializer
from copytrading.futures.api.common import (
    MarketField,
    check_step,
    futures_account_of,
    idempotency_key_of,
)
from copytrading.futures.api.serializers import (
    OrderOutputSerializer,
)
from copytrading.futures.models import Side
from copytrading.futures.selectors import order_list
from copytrading.futures.services.orders import order_place


class OrderListCreateApi(MoneyMovingApi, GenericAPIView):
    """Market orders of your futures account: filled at once at the mark price. (R-MG-02)"""

    serializer_class = OrderOutputSerializer

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "OrderCreateInput"

        symbol = MarketField()
        side = serializers.ChoiceField(choices=Side.choices)
        qty = AmountField(required=False, help_text="Contracts in the base asset; a multiple of the market's step.")
        margin = AmountField(
            required=False, help_text="Or: the USDT margin to commit; the quantity is margin × leverage / mark."
        )
        reduce_only = serializers.BooleanField(default=False)

        def validate(self, attrs):
            market = attrs["symbol"]
            if not market.is_active:
                raise serializers.ValidationError({"symbol": [f"{market.symbol} is not trading"]})
            if market.mark_price is None:
                raise serializers.ValidationError({"symbol": [f"{market.symbol} has no mark price yet"]})
            if ("qty" in attrs) == ("margin" in attrs):
                raise serializers.ValidationError({"qty": ["give either qty or margin (exactly one)"]})
            if "qty" in attrs:
                check_step(market, attrs["qty"], "qty")
            return attrs

    def get_queryset(self):
        return order_list(user=self.request.user)

    @extend_schema(
        operation_id="orders_list",
        summary="List your orders",
        description=(
            "The market orders of your futures account, newest first and cursor-paginated, with the "
            "quantity asked and filled, the fill price, fee and realised PnL. Any signed-in user; "
            "read-only. (R-MG-02)"
        ),
        responses={200: OrderOutputSerializer(many=True), 401: ErrorSerializer},
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(OrderOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="orders_create",
        summary="Place a market order",
        description=(
            "Fills at once at the current mark price, sized by a quantity (a multiple of the market's "
            "step) or by the USDT margin to commit. One-way mode: an order against an open position "
            "reduces it first and what is left opens the other side (never for a reduce-only order); one "
            "order fills at most the market's liquidity cap and the rest is cancelled. Any signed-in "
            "user, on their own futures account. Needs an `Idempotency-Key` header: a replay with the "
            "same body returns the first response. (R-MG-02)"
        ),
        parameters=[IDEMPOTENCY_HEADER],
        request=InputSerializer,
        responses={201: OrderOutputSerializer, **MONEY_ERRORS},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data

        def execute():
            order = order_place(
                account=futures_account_of(request.user),
                market=values["symbol"],
                side=values["side"],
                qty=values.get("qty"),
                margin=values.get("margin"),
                reduce_only=values["reduce_only"],
                idempotency_key=idempotency_key_of(request),
                actor_id=request.user.pk,
            )
            return Response(OrderOutputSerializer(order).data, status=status.HTTP_201_CREATED)

        return idempotent(request, "orders", execute)


# --- positions ----------------------------------------------------------------


