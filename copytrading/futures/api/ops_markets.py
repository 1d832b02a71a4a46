"""Operators run markets over the API: list every market, create one, change its parameters.

Every create and change needs a reason and is recorded with who made it; the
checks are the admin's (``copytrading.futures.services.markets``). (R-MG-01, R-OP-01)
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.fields import AmountField, MoneyOutField
from accounts.api.permissions import operator_with
from accounts.money import parse_amount
from config.api import ErrorSerializer
from config.errors import InvalidAmount
from copytrading.futures.api.common import NOT_FOUND, SYMBOL_PATH, market_or_404
from copytrading.futures.api.serializers import MarketOutputSerializer
from copytrading.futures.selectors import market_changes, market_list_all
from copytrading.futures.services.markets import FUNDING_INTERVALS, MAX_LEVERAGE_CAP, market_create, market_update

# Enough history to see what changed lately; the admin shows all of it.
RECENT_CHANGES = 5
FORM_ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 409: ErrorSerializer}


class MarketChangeOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "MarketChangeOutput"

    id = serializers.IntegerField()
    actor = serializers.EmailField(source="actor.email")
    reason = serializers.CharField()
    created = serializers.BooleanField(help_text="true: the market's creation.")
    changes = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField(allow_null=True)),
        help_text="Field → [old, new]; old is null on creation.",
    )
    at = serializers.DateTimeField()


class OpsMarketOutputSerializer(MarketOutputSerializer):
    class Meta:
        ref_name = "OpsMarketOutput"

    is_active = serializers.BooleanField()
    token_follow_limit = MoneyOutField(allow_null=True)
    recent_changes = serializers.SerializerMethodField(help_text="The last changes of its parameters, newest first.")

    @extend_schema_field(MarketChangeOutputSerializer(many=True))
    def get_recent_changes(self, market) -> list[dict]:
        return MarketChangeOutputSerializer(market_changes(market=market)[:RECENT_CHANGES], many=True).data


class RateInField(AmountField):
    """A decimal string that may be zero or negative (rates); JSON floats are refused."""

    def to_internal_value(self, data):
        try:
            return parse_amount(data, field=self.field_name or "rate", positive=False)
        except InvalidAmount as exc:
            raise serializers.ValidationError(exc.fields[next(iter(exc.fields))][0]) from None


class _MarketParamsSerializer(serializers.Serializer):
    """The editable parameters; each optional here, required ones checked by the service on create."""

    price_tick = AmountField(required=False, help_text="Smallest price increment.")
    qty_step = AmountField(required=False, help_text="Smallest quantity increment.")
    min_qty = AmountField(required=False, help_text="Smallest quantity one order may fill; a multiple of the step.")
    max_order_qty = AmountField(required=False, help_text="One order fills at most this (the rest is cancelled).")
    max_leverage = serializers.IntegerField(required=False, min_value=1, max_value=MAX_LEVERAGE_CAP)
    maintenance_margin_rate = AmountField(required=False, help_text="Above 0, below 1 / max_leverage.")
    taker_fee_rate = RateInField(required=False, help_text="At least 0, below 1.")
    funding_rate = RateInField(required=False, help_text="Per interval; positive: longs pay shorts.")
    funding_interval_hours = serializers.ChoiceField(choices=FUNDING_INTERVALS, required=False)
    token_follow_limit = AmountField(required=False, allow_null=True, help_text="null: no limit (R-CT-21).")
    is_active = serializers.BooleanField(required=False, help_text="false stops trading in the market.")
    reason = serializers.CharField(max_length=500, help_text="Why: recorded with the change.")


class OpsMarketListCreateApi(APIView):
    """Every market, trading or stopped; or create a market.

    A new market needs its symbol, base asset, price tick, quantity step, minimum and maximum
    order quantity, maximum leverage, maintenance-margin rate and taker fee rate, and a reason.
    """

    def get_permissions(self):
        perm = "futures.add_market" if self.request.method == "POST" else "futures.view_market"
        return [operator_with(perm)()]

    class InputSerializer(_MarketParamsSerializer):
        class Meta:
            ref_name = "OpsMarketCreateInput"

        symbol = serializers.RegexField(r"^[A-Za-z0-9]{2,20}$", help_text="e.g. BTCUSDT; letters and digits.")
        base_asset = serializers.RegexField(r"^[A-Za-z0-9]{1,12}$", help_text="e.g. BTC.")

    @extend_schema(
        operation_id="ops_markets_list",
        summary="List every market, trading or stopped",
        description=(
            "Every market with all its parameters, whether it trades, its token follow limit and its last "
            "changes (who, why, what changed), newest first. Operators holding `futures.view_market` "
            "only; read-only. (R-MG-01, R-OP-01)"
        ),
        responses={200: OpsMarketOutputSerializer(many=True), 401: ErrorSerializer, 403: ErrorSerializer},
    )
    def get(self, request):
        return Response(OpsMarketOutputSerializer(market_list_all(), many=True).data)

    @extend_schema(
        operation_id="ops_markets_create",
        summary="Create a market",
        description=(
            "Creates a market from its symbol, base asset, price tick, quantity step, minimum and maximum "
            "order quantity, maximum leverage, maintenance-margin rate and taker fee rate; the creation "
            "is recorded with who made it and the reason given. Operators holding "
            "`futures.add_market` only. (R-MG-01, R-OP-01)"
        ),
        request=InputSerializer,
        responses={201: OpsMarketOutputSerializer, **FORM_ERRORS},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        params = dict(data.validated_data)
        reason = params.pop("reason")
        market = market_create(params=params, actor=request.user, reason=reason)
        return Response(OpsMarketOutputSerializer(market).data, status=status.HTTP_201_CREATED)


class OpsMarketApi(APIView):
    """Change a market's parameters.

    Fees, funding, the liquidity cap, the maximum leverage, the token follow limit and trading
    on/off change at any time; the price tick, quantity step, minimum quantity and maintenance
    rate only while no position is open (409 otherwise). Give only what changes, and a reason.
    """

    permission_classes = [operator_with("futures.change_market")]

    class InputSerializer(_MarketParamsSerializer):
        class Meta:
            ref_name = "OpsMarketUpdateInput"

        def validate(self, attrs):
            if set(attrs) == {"reason"}:
                raise serializers.ValidationError({"non_field_errors": ["give at least one parameter to change"]})
            return attrs

    @extend_schema(
        operation_id="ops_markets_update",
        summary="Change a market's parameters",
        description=(
            "Changes only the parameters given, with a reason recorded beside who made the change. Fees, "
            "funding, the liquidity cap, the maximum leverage, the token follow limit and trading on/off "
            "change at any time; the price tick, quantity step, minimum quantity and maintenance rate "
            "only while no position is open (409 otherwise). Operators holding "
            "`futures.change_market` only. (R-MG-01, R-OP-01)"
        ),
        parameters=[SYMBOL_PATH],
        request=InputSerializer,
        responses={200: OpsMarketOutputSerializer, **NOT_FOUND, **FORM_ERRORS},
    )
    def patch(self, request, symbol: str):
        market = market_or_404(symbol)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        reason = changes.pop("reason")
        market = market_update(market=market, changes=changes, actor=request.user, reason=reason)
        return Response(OpsMarketOutputSerializer(market).data)
