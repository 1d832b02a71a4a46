"""Positions over the API: list, close, isolated margin and TP/SL. (R-MG-04, R-MG-05, R-MG-06)

Anyone else's position answers 404; every POST takes an Idempotency-Key.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.fields import AmountField
from accounts.api.views import IDEMPOTENCY_HEADER, MONEY_ERRORS
from accounts.idempotency import MoneyMovingApi, idempotent
from config.api import ErrorSerializer
from copytrading.futures.api.common import (
    NOT_FOUND,
    POSITION_PATH,
    check_step,
    idempotency_key_of,
    position_or_404,
)
from copytrading.futures.api.fields import SignedAmountField
from copytrading.futures.api.serializers import OrderOutputSerializer, PositionOutputSerializer
from copytrading.futures.models import PositionStatus
from copytrading.futures.selectors import position_list
from copytrading.futures.services.positions import position_close, position_margin_adjust, position_tpsl_set


class PositionListApi(GenericAPIView):
    """Your futures positions: open ones by default, ``?status=closed`` for the closed ones. (R-MG-06)"""

    serializer_class = PositionOutputSerializer

    class FilterSerializer(serializers.Serializer):
        class Meta:
            ref_name = "PositionListFilter"

        status = serializers.ChoiceField(choices=PositionStatus.choices, default=PositionStatus.OPEN)

    def get_queryset(self):
        return position_list(user=self.request.user)

    @extend_schema(
        operation_id="positions_list",
        summary="List your positions",
        description=(
            "Your futures positions, open ones by default and `?status=closed` for the closed ones, each "
            "with its estimated liquidation price, margin, PnL and fees, its closes so far and, once "
            "closed, why it ended. Any signed-in user; read-only. (R-MG-06)"
        ),
        parameters=[
            OpenApiParameter(
                "status", str, OpenApiParameter.QUERY, enum=PositionStatus.values, description="Default: open."
            )
        ],
        responses={200: PositionOutputSerializer(many=True), 400: ErrorSerializer, 401: ErrorSerializer},
    )
    def get(self, request):
        query = self.FilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        positions = position_list(user=request.user, status=query.validated_data["status"])
        page = self.paginate_queryset(positions)
        return self.get_paginated_response(PositionOutputSerializer(page, many=True).data)


class PositionCloseApi(MoneyMovingApi, APIView):
    """Close all of a position (empty body), a quantity, or a fraction of it, at the mark."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "PositionCloseInput"

        qty = AmountField(required=False, help_text="Quantity to close; a multiple of the market's step.")
        fraction = AmountField(required=False, help_text="Or: the share to close, above 0 and at most 1.")

        def validate_fraction(self, value):
            if value > 1:
                raise serializers.ValidationError("must be greater than 0 and at most 1")
            return value

        def validate(self, attrs):
            if "qty" in attrs and "fraction" in attrs:
                raise serializers.ValidationError({"qty": ["give qty or fraction, not both"]})
            position = self.context["position"]
            if "qty" in attrs and attrs["qty"] < position.qty:
                check_step(position.market, attrs["qty"], "qty")
            return attrs

    @extend_schema(
        operation_id="positions_close",
        summary="Close a position",
        description=(
            "Closes all of the position (empty body), a quantity, or a fraction of it at the mark price "
            "with a reduce-only market order, and returns that order. Only your own positions: anyone "
            "else's answers 404. Needs an `Idempotency-Key` header: a replay with the same body returns "
            "the first response."
        ),
        parameters=[POSITION_PATH, IDEMPOTENCY_HEADER],
        request=InputSerializer,
        responses={200: OrderOutputSerializer, **NOT_FOUND, **MONEY_ERRORS},
    )
    def post(self, request, position_id: int):
        position = position_or_404(request, position_id)
        data = self.InputSerializer(data=request.data, context={"position": position})
        data.is_valid(raise_exception=True)

        def execute():
            order = position_close(
                position=position,
                idempotency_key=idempotency_key_of(request),
                qty=data.validated_data.get("qty"),
                fraction=data.validated_data.get("fraction"),
                actor_id=request.user.pk,
            )
            return Response(OrderOutputSerializer(order).data)

        return idempotent(request, "positions-close", execute)


class PositionMarginApi(MoneyMovingApi, APIView):
    """Add margin to an isolated position (positive amount) or remove some (negative). (R-MG-05)"""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "PositionMarginInput"

        amount = SignedAmountField(help_text="USDT; positive adds margin, negative removes it.")

    @extend_schema(
        operation_id="positions_margin",
        summary="Add or remove isolated margin",
        description=(
            "Adds margin to an isolated position from your futures account's available balance (positive "
            "amount) or takes some back (negative); a removal always leaves at least the initial margin "
            "at the current mark, unrealised losses counted. Only your own positions: anyone else's "
            "answers 404. Needs an `Idempotency-Key` header: a replay with the same body returns the "
            "first response. (R-MG-05)"
        ),
        parameters=[POSITION_PATH, IDEMPOTENCY_HEADER],
        request=InputSerializer,
        responses={200: PositionOutputSerializer, **NOT_FOUND, **MONEY_ERRORS},
    )
    def post(self, request, position_id: int):
        position = position_or_404(request, position_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)

        def execute():
            adjusted = position_margin_adjust(
                position=position,
                amount=data.validated_data["amount"],
                idempotency_key=idempotency_key_of(request),
                actor_id=request.user.pk,
            )
            return Response(PositionOutputSerializer(adjusted).data)

        return idempotent(request, "positions-margin", execute)


class PositionTpslApi(MoneyMovingApi, APIView):
    """Set or clear (null) the take-profit and stop-loss prices, and switch auto-add margin. (R-MG-05)

    A price left out of the body keeps its current value.
    """

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "PositionTpslInput"

        take_profit_price = AmountField(required=False, allow_null=True, help_text="null clears it.")
        stop_loss_price = AmountField(required=False, allow_null=True, help_text="null clears it.")
        auto_add_margin = serializers.BooleanField(
            required=False, help_text="Isolated positions: top up from the available balance to avoid liquidation."
        )

    @extend_schema(
        operation_id="positions_tpsl",
        summary="Set a position's take-profit and stop-loss",
        description=(
            "Sets or clears (null) the take-profit and stop-loss prices and switches auto-add margin; a "
            "price left out of the body keeps its current value. Each new mark price checks them and "
            "closes the position when one is reached. Only your own positions: anyone else's answers 404. "
            "Needs an `Idempotency-Key` header: a replay with the same body returns the first response. "
            "(R-MG-05)"
        ),
        parameters=[POSITION_PATH, IDEMPOTENCY_HEADER],
        request=InputSerializer,
        responses={200: PositionOutputSerializer, **NOT_FOUND, **MONEY_ERRORS},
    )
    def post(self, request, position_id: int):
        position = position_or_404(request, position_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data

        def execute():
            updated = position_tpsl_set(
                position=position,
                take_profit_price=values.get("take_profit_price", position.take_profit_price),
                stop_loss_price=values.get("stop_loss_price", position.stop_loss_price),
                auto_add_margin=values.get("auto_add_margin"),
            )
            return Response(PositionOutputSerializer(updated).data)

        return idempotent(request, "positions-tpsl", execute)


# --- per-market settings ------------------------------------------------------
