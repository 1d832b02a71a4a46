"""Serializers of the copy-trading API: lead traders, followings and their settings, decisions, records.

Settings are checked in two steps: the fields here refuse wrong types (a JSON
float for money, a string for a boolean, an unknown setting), then
``follow_settings.settings_validate`` — the service's own validator — checks
ranges, so a refused value is named with its allowed range exactly as the
service would name it. (R-CT-05, R-CT-09)
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api.fields import MoneyOutField
from accounts.money import parse_amount
from config.errors import InvalidAmount, InvalidInput
from copytrading.follow_settings import EDITABLE, FIXED_LEVERAGE_MAX, SLIPPAGE_MAX, SLIPPAGE_MIN
from copytrading.futures.api.serializers import PositionOutputSerializer
from copytrading.futures.models import MarginMode
from copytrading.metrics import FLAGS
from copytrading.models import (
    FollowingStatus,
    FollowMode,
    LeadTraderStatus,
    LeverageChoice,
    ModeChoice,
    NotFollowedReason,
    StopMethod,
)

# Statistics (shared by the trader detail and the statistics views).
STAT = {"max_digits": 20, "decimal_places": 8, "coerce_to_string": True}


class TraderStatsOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "TraderStatsOutput"

    lead_id = serializers.IntegerField()
    nickname = serializers.CharField(source="lead.nickname")
    roi_7 = serializers.DecimalField(**STAT)
    roi_30 = serializers.DecimalField(**STAT)
    roi_90 = serializers.DecimalField(**STAT)
    roi_all = serializers.DecimalField(**STAT)
    pnl_all = serializers.DecimalField(**STAT)
    win_rate = serializers.DecimalField(allow_null=True, **STAT)
    max_drawdown = serializers.DecimalField(**STAT)
    trading_days = serializers.IntegerField()
    sharpe = serializers.DecimalField(allow_null=True, **STAT)
    followers_count = serializers.IntegerField()
    followers_pnl = serializers.DecimalField(**STAT)
    aum = serializers.DecimalField(**STAT)
    slippage_avg_bps = serializers.DecimalField(allow_null=True, **STAT)
    slippage_p95_bps = serializers.DecimalField(allow_null=True, **STAT)
    missed_rates = serializers.DictField(child=serializers.CharField())
    roi_gap_30 = serializers.DecimalField(allow_null=True, **STAT)
    flags = serializers.ListField(child=serializers.ChoiceField(choices=sorted(FLAGS)))
    updated_at = serializers.DateTimeField()


class FollowingStatsOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "FollowingStatsOutput"

    following_id = serializers.IntegerField()
    pnl = serializers.DecimalField(**STAT)
    roi = serializers.DecimalField(**STAT)
    roi_30 = serializers.DecimalField(allow_null=True, **STAT)
    win_rate = serializers.DecimalField(allow_null=True, **STAT)
    open_positions = serializers.IntegerField()
    fees_paid = serializers.DecimalField(**STAT)
    share_paid = serializers.DecimalField(**STAT)
    share_pending = serializers.DecimalField(**STAT)
    updated_at = serializers.DateTimeField()


class EquityPointSerializer(serializers.Serializer):
    class Meta:
        ref_name = "EquityPoint"

    day = serializers.DateField()
    equity = serializers.DecimalField(**STAT)


@extend_schema_field({"type": "string", "format": "decimal", "pattern": r"^\d{1,20}(\.\d{1,8})?$", "example": "0.005"})
class DecimalInputField(serializers.Field):
    """A decimal string (or integer); JSON floats are refused. Ranges are the service's to check."""

    def to_internal_value(self, data):
        try:
            return parse_amount(data, field=self.field_name or "value", positive=False)
        except InvalidAmount as exc:
            raise serializers.ValidationError(next(iter(exc.fields.values()))[0]) from None

    def to_representation(self, value):
        return format(value, "f")


@extend_schema_field(
    {"type": "string", "pattern": f"^({'|'.join(ModeChoice.values)})$", "example": ModeChoice.FOLLOW.value}
)
class CopyMarginModeField(serializers.ChoiceField):
    """follow, cross or isolated. A pattern, not an enum: ``margin_mode`` elsewhere means cross or isolated."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", f"One of: {', '.join(ModeChoice.values)}.")
        super().__init__(choices=ModeChoice.choices, **kwargs)


def _decimal(help_text: str, *, allow_null: bool = True) -> DecimalInputField:
    return DecimalInputField(required=False, allow_null=allow_null, help_text=help_text)


class FollowSettingsInputSerializer(serializers.Serializer):
    """Any of a follower's settings; a field left out keeps its value, null clears an optional one. (R-CT-05)"""

    class Meta:
        ref_name = "FollowSettingsInput"

    pairs = serializers.ListField(
        child=serializers.CharField(max_length=20),
        required=False,
        allow_null=True,
        help_text="Market symbols followed; null: all markets.",
    )
    auto_follow_new_pairs = serializers.BooleanField(required=False, help_text="Follow pairs the lead newly trades.")
    follow_existing = serializers.BooleanField(
        required=False, help_text="At start: replicate the lead's open positions at the current mark."
    )
    guardian_max_loss = _decimal("Net Value Guardian: stop when the net loss reaches this (USDT, above 0).")
    guardian_min_net_value = _decimal("Net Value Guardian: stop when the net value falls to this (USDT, above 0).")
    stop_loss_ratio = _decimal("Close a copy when its loss exceeds this share of its margin (above 0, at most 1).")
    take_profit_ratio = _decimal("Close a copy when its profit exceeds this share of its margin (above 0, at most 1).")
    max_margin_per_pair = _decimal("Maximum following margin per pair (USDT, above 0).")
    max_position_value = _decimal("Maximum total value of open positions (USDT, above 0).", allow_null=False)
    diverse_margin = _decimal("Diverse Exploration: fixed margin per copy (USDT, above 0).")
    max_margin_per_order_pct = _decimal("Maximum margin per copy order, as a share of total assets (above 0, ≤ 1).")
    slippage_ratio = _decimal(f"Slippage ratio, {SLIPPAGE_MIN} to {SLIPPAGE_MAX}.", allow_null=False)
    margin_mode = CopyMarginModeField(required=False)
    leverage_mode = serializers.ChoiceField(choices=LeverageChoice.choices, required=False)
    fixed_leverage = serializers.IntegerField(
        required=False, allow_null=True, help_text=f"With leverage_mode fixed: 1 to {FIXED_LEVERAGE_MAX}."
    )
    custom_leverage = serializers.DictField(
        child=serializers.IntegerField(),
        required=False,
        help_text="With leverage_mode custom: symbol → leverage, 1 to the market's maximum.",
    )
    diverse_multiple = _decimal("Diverse Exploration: multiple of the lead's margin (above 0, at most 100).")

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(EDITABLE))
            if unknown:
                raise serializers.ValidationError({name: ["is not a following setting"] for name in unknown})
        return super().to_internal_value(data)


def settings_errors(exc: InvalidInput) -> serializers.ValidationError:
    """A settings error of the service, named inside the ``settings`` object of the request."""
    return serializers.ValidationError({"settings": exc.fields or {"non_field_errors": [exc.detail]}})


class FollowSettingsOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "FollowSettingsOutput"

    pairs = serializers.ListField(child=serializers.CharField(), allow_null=True, help_text="null: all markets.")
    auto_follow_new_pairs = serializers.BooleanField()
    follow_existing = serializers.BooleanField()
    guardian_max_loss = MoneyOutField(allow_null=True)
    guardian_min_net_value = MoneyOutField(allow_null=True)
    stop_loss_ratio = MoneyOutField(allow_null=True)
    take_profit_ratio = MoneyOutField(allow_null=True)
    max_margin_per_pair = MoneyOutField(allow_null=True)
    max_position_value = MoneyOutField()
    diverse_margin = MoneyOutField(allow_null=True)
    max_margin_per_order_pct = MoneyOutField(allow_null=True)
    slippage_ratio = MoneyOutField()
    margin_mode = serializers.CharField(help_text=f"One of: {', '.join(ModeChoice.values)}.")
    leverage_mode = serializers.ChoiceField(choices=LeverageChoice.choices)
    fixed_leverage = serializers.IntegerField(allow_null=True)
    custom_leverage = serializers.DictField(child=serializers.IntegerField())
    diverse_multiple = MoneyOutField(allow_null=True)


# --- lead traders -------------------------------------------------------------


class LeadTraderOutputSerializer(serializers.Serializer):
    """A lead trader as its owner sees it."""

    class Meta:
        ref_name = "LeadTraderOutput"

    id = serializers.IntegerField()
    nickname = serializers.CharField()
    bio = serializers.CharField()
    profit_share_ratio = MoneyOutField()
    min_following_amount = MoneyOutField()
    max_followers = serializers.IntegerField(allow_null=True)
    status = serializers.CharField(help_text=f"One of: {', '.join(LeadTraderStatus.values)}.")
    status_reason = serializers.CharField(help_text="The operators' reason for the last decision.")
    decided_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class OpsLeadTraderOutputSerializer(LeadTraderOutputSerializer):
    class Meta:
        ref_name = "OpsLeadTraderOutput"

    user_id = serializers.IntegerField()
    decided_by_id = serializers.IntegerField(allow_null=True)


class TraderOutputSerializer(serializers.Serializer):
    """An approved lead trader as followers see it."""

    class Meta:
        ref_name = "TraderOutput"

    id = serializers.IntegerField()
    nickname = serializers.CharField()
    bio = serializers.CharField()
    profit_share_ratio = MoneyOutField()
    min_following_amount = MoneyOutField(help_text="The lead's own minimum first transfer (0: the platform's).")
    followers_count = serializers.IntegerField(help_text="Live followings.")
    approved_at = serializers.DateTimeField(source="decided_at", allow_null=True)


class TraderDetailOutputSerializer(TraderOutputSerializer):
    class Meta:
        ref_name = "TraderDetailOutput"

    max_followers = serializers.IntegerField(allow_null=True, help_text="The lead's own limit, if any.")
    follower_slots = serializers.IntegerField(help_text="From the lead's futures equity, capped by its own limit.")
    free_slots = serializers.IntegerField()
    min_first_transfer = MoneyOutField(help_text="A new following's first transfer is at least this.")
    stats = TraderStatsOutputSerializer(
        source="stats_row",
        allow_null=True,
        help_text="Statistics, risk flags and copy quality; null before the first daily run.",
    )


# --- followings -------------------------------------------------------------------


class FollowingLeadSerializer(serializers.Serializer):
    class Meta:
        ref_name = "FollowingLead"

    id = serializers.IntegerField()
    nickname = serializers.CharField()
    profit_share_ratio = MoneyOutField()


class FollowingOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "FollowingOutput"

    id = serializers.IntegerField()
    lead = FollowingLeadSerializer()
    mode = serializers.ChoiceField(choices=FollowMode.choices)
    status = serializers.CharField(help_text=f"One of: {', '.join(FollowingStatus.values)}.")
    stop_method = serializers.CharField(help_text=f"Empty while following; else one of {', '.join(StopMethod.values)}.")
    invested = MoneyOutField(help_text="Net amount transferred in.")
    sub_account_id = serializers.IntegerField(help_text="Smart Ratio: its own; Diverse: the shared pool.")
    started_at = serializers.DateTimeField()
    stopped_at = serializers.DateTimeField(allow_null=True)


class FollowingDetailOutputSerializer(FollowingOutputSerializer):
    """A following with its money, open copy positions and settings (``following_detail`` fills them in)."""

    class Meta:
        ref_name = "FollowingDetailOutput"

    equity = MoneyOutField(
        source="funds.equity", help_text="Sub-account (Diverse: shared pool) equity, unrealised PnL included."
    )
    available = MoneyOutField(source="funds.available", help_text="What may be withdrawn now.")
    net_value = MoneyOutField(
        source="funds.net_value", help_text="This following's own net value (Smart Ratio: the equity)."
    )
    positions = PositionOutputSerializer(many=True, source="open_positions", help_text="Open copy positions.")
    net_result = MoneyOutField(source="share.net_result", help_text="C: net realised result of the copies (R-PS-01).")
    high_water_mark = MoneyOutField(help_text="H: the profit share is due on C above it.")
    share_pending = MoneyOutField(source="share.pending", help_text="The lead's share now due: ratio × max(0, C − H).")
    share_frozen = MoneyOutField(source="share.frozen", help_text="Share frozen by withdrawals until 00:00 UTC+8.")
    share_paid = MoneyOutField()
    settings = FollowSettingsOutputSerializer(source="*")


class DecisionOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "CopyDecisionOutput"

    id = serializers.IntegerField()
    lead_order_id = serializers.IntegerField()
    symbol = serializers.CharField(source="lead_order.market.symbol")
    followed = serializers.BooleanField()
    reason = serializers.CharField(help_text=f"Empty when followed; else one of {', '.join(NotFollowedReason.values)}.")
    reason_text = serializers.CharField(source="get_reason_display")
    is_close = serializers.BooleanField()
    qty = MoneyOutField()
    price = MoneyOutField(allow_null=True)
    margin = MoneyOutField()
    leverage = serializers.IntegerField(allow_null=True)
    margin_mode = serializers.CharField(
        help_text=f"Empty when not followed; else one of {', '.join(MarginMode.values)}."
    )
    position_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()


class FollowingWithdrawalOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "FollowingWithdrawalOutput"

    confirmed = serializers.BooleanField(help_text="false: a preview; nothing changed.")
    entry_id = serializers.IntegerField(allow_null=True)
    requested = MoneyOutField()
    amount = MoneyOutField(help_text="What reaches (or would reach) the spot account.")
    frozen_now = MoneyOutField(help_text="Profit share frozen by this withdrawal (R-PS-03).")
    loan = MoneyOutField(help_text="Lent against positive unrealised PnL beyond the free cash (R-PS-08).")
    frozen_total = MoneyOutField(help_text="All profit share frozen on this following after it.")
    pending_share = MoneyOutField()
    liquidation_prices = serializers.DictField(
        child=MoneyOutField(allow_null=True), help_text="Position id → estimated liquidation price after it."
    )
    created_at = serializers.DateTimeField(allow_null=True)
    following = FollowingDetailOutputSerializer()
