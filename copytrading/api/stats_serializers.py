"""Output serializers of the statistics (shared by the trader detail and the statistics views)."""

from __future__ import annotations

from rest_framework import serializers

from copytrading.stats import FLAGS

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
