"""Output serializers of the futures API: every amount, price, quantity and rate is a decimal string."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api.fields import MoneyOutField
from accounts.money import ZERO
from copytrading.futures.models import (
    CloseReason,
    MarginMode,
    OrderStatus,
    PositionSide,
    PositionStatus,
    PriceSource,
    Side,
)
from copytrading.futures.selectors import position_unrealised_pnl

_NULLABLE_DECIMAL = {"type": "string", "format": "decimal", "nullable": True}


class MarketOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "MarketOutput"

    symbol = serializers.CharField()
    base_asset = serializers.CharField()
    price_tick = MoneyOutField()
    qty_step = MoneyOutField()
    min_qty = MoneyOutField()
    max_order_qty = MoneyOutField(help_text="One order fills at most this; the rest is cancelled.")
    max_leverage = serializers.IntegerField()
    maintenance_margin_rate = MoneyOutField()
    taker_fee_rate = MoneyOutField()
    funding_rate = MoneyOutField(help_text="Per funding interval; positive: longs pay shorts.")
    funding_interval_hours = serializers.IntegerField()
    mark_price = MoneyOutField(allow_null=True)
    mark_price_at = serializers.DateTimeField(allow_null=True)


class MarkPriceOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "MarkPriceOutput"

    id = serializers.IntegerField()
    symbol = serializers.CharField(source="market.symbol")
    price = MoneyOutField()
    source = serializers.ChoiceField(choices=PriceSource.choices)
    at = serializers.DateTimeField()


class OrderOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "OrderOutput"

    id = serializers.IntegerField()
    symbol = serializers.CharField(source="market.symbol")
    side = serializers.ChoiceField(choices=Side.choices)
    reduce_only = serializers.BooleanField()
    status = serializers.ChoiceField(
        choices=OrderStatus.choices,
        help_text="partially_filled: the market's liquidity cap was hit, the rest cancelled.",
    )
    requested_qty = MoneyOutField()
    filled_qty = MoneyOutField()
    price = MoneyOutField(help_text="The mark price the order filled at.")
    fee = MoneyOutField()
    realised_pnl = MoneyOutField(help_text="Trading result of what the order closed, fees excluded.")
    leverage = serializers.IntegerField()
    margin_mode = serializers.ChoiceField(choices=MarginMode.choices)
    position_id = serializers.IntegerField(allow_null=True)
    copy_blocked = serializers.CharField(
        help_text=(
            "For a lead trader's open that followers will not copy, why: lead_frequency_limit (within 3 s of "
            "the previous open), partial_fill, lead_suspended. Empty otherwise."
        )
    )
    created_at = serializers.DateTimeField()


class PositionCloseOutputSerializer(serializers.Serializer):
    """One close of a position, full or partial, and what it realised."""

    class Meta:
        ref_name = "PositionCloseOutput"

    id = serializers.IntegerField()
    reason = serializers.ChoiceField(
        choices=CloseReason.choices,
        help_text="manual, reduce_only, take_profit, stop_loss, liquidation, copy (the lead closed), guardian "
        "(Net Value Guardian), stop_following.",
    )
    qty = MoneyOutField()
    price = MoneyOutField(help_text="The mark price the close filled at.")
    realised_pnl = MoneyOutField(help_text="Trading result of the closed quantity, fees excluded.")
    fee = MoneyOutField(help_text="Taker fee of the close.")
    funding = MoneyOutField(help_text="Net funding paid over the closed quantity's life (negative: received).")
    liquidation_fee = MoneyOutField(help_text="Liquidations: the fee paid to the insurance fund; 0 otherwise.")
    margin_lost = MoneyOutField(help_text="Liquidations: the margin lost, liquidation fee included; 0 otherwise.")
    order_id = serializers.IntegerField(allow_null=True)
    closed_at = serializers.DateTimeField(source="created_at")


class PositionOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "PositionOutput"

    id = serializers.IntegerField()
    symbol = serializers.CharField(source="market.symbol")
    side = serializers.CharField(help_text=f"One of: {', '.join(PositionSide.values)}.")
    status = serializers.CharField(help_text=f"One of: {', '.join(PositionStatus.values)}.")
    qty = MoneyOutField()
    entry_price = MoneyOutField()
    mark_price = MoneyOutField(source="market.mark_price", allow_null=True)
    leverage = serializers.IntegerField()
    margin_mode = serializers.ChoiceField(choices=MarginMode.choices)
    margin = MoneyOutField(help_text="Isolated: the margin assigned. Cross: the initial margin it uses.")
    liquidation_price = MoneyOutField(allow_null=True, help_text="Estimated; null when no price liquidates it.")
    unrealised_pnl = serializers.SerializerMethodField(help_text="At the current mark; null once closed.")
    take_profit_price = MoneyOutField(allow_null=True)
    stop_loss_price = MoneyOutField(allow_null=True)
    auto_add_margin = serializers.BooleanField()
    realised_pnl = MoneyOutField()
    fees_paid = MoneyOutField()
    funding_paid = MoneyOutField(help_text="Net funding paid (negative: received).")
    liquidation_fee = serializers.SerializerMethodField(help_text="Liquidation fees paid over its closes.")
    close_reason = serializers.SerializerMethodField(
        help_text="Why the position ended (see closes[].reason); null while it is open."
    )
    close_price = serializers.SerializerMethodField(help_text="The price of the close that ended it; null while open.")
    closes = PositionCloseOutputSerializer(
        many=True, source="closes.all", help_text="Every close, full or partial, newest first."
    )
    opened_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)

    @staticmethod
    def _final_close(position):
        if position.status != PositionStatus.CLOSED:
            return None
        closes = position.closes.all()  # newest first; one query, or none when prefetched
        return closes[0] if closes else None

    @extend_schema_field({"type": "string", "format": "decimal"})
    def get_liquidation_fee(self, position) -> str:
        return MoneyOutField().to_representation(sum((c.liquidation_fee for c in position.closes.all()), ZERO))

    @extend_schema_field({"type": "string", "enum": CloseReason.values, "nullable": True})
    def get_close_reason(self, position) -> str | None:
        close = self._final_close(position)
        return close.reason if close else None

    @extend_schema_field(_NULLABLE_DECIMAL)
    def get_close_price(self, position) -> str | None:
        close = self._final_close(position)
        return MoneyOutField().to_representation(close.price) if close else None

    @extend_schema_field(_NULLABLE_DECIMAL)
    def get_unrealised_pnl(self, position) -> str | None:
        value = position_unrealised_pnl(position)
        return None if value is None else MoneyOutField().to_representation(value)


class MarketSettingOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "MarketSettingOutput"

    symbol = serializers.CharField(source="market.symbol")
    leverage = serializers.IntegerField()
    margin_mode = serializers.ChoiceField(choices=MarginMode.choices)
    max_leverage = serializers.IntegerField(source="market.max_leverage")
