"""Daily equity snapshots and the precomputed statistics read by the API. (R-CT-18, R-CT-19, R-CT-20, R-CT-24)

Reads never aggregate raw history: the daily run takes one snapshot per lead
trader's futures account and per live following, then ``trader_stats_refresh``
and ``following_stats_refresh`` store one row per trader and per following.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models

from accounts.models import MoneyField
from copytrading.models.copy import Following, LeadTrader


def StatField(**kwargs) -> models.DecimalField:  # noqa: N802 - reads like a field class
    """A ratio or statistic (ROI 0.1234 = 12.34 %, Sharpe, basis points): wide enough for 1,000,000 %."""
    kwargs.setdefault("max_digits", 24)
    kwargs.setdefault("decimal_places", 8)
    return models.DecimalField(**kwargs)


class SnapshotKind(models.TextChoices):
    LEAD = "lead", "Lead trader's futures account"
    FOLLOWING = "following", "Following"


class EquitySnapshot(models.Model):
    """The equity of a lead trader (its futures account) or a following at the end of one platform date.

    ``net_flow`` is money put in minus money taken out that day (transfers, not trading), so returns can be
    computed time-weighted: (equity − net_flow) / previous equity.
    """

    kind = models.CharField(max_length=10, choices=SnapshotKind.choices)
    subject_id = models.BigIntegerField(help_text="The lead trader's or the following's id.")
    day = models.DateField(help_text="Platform date (Asia/Shanghai).")
    equity = MoneyField()
    net_flow = MoneyField(default=Decimal("0"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "subject_id", "day"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "subject_id", "day"], name="equity_snapshot_once_a_day"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.subject_id} {self.day}: {self.equity}"


class TraderStats(models.Model):
    """A lead trader's statistics, risk flags and copy quality, precomputed. (R-CT-18, R-CT-19, R-CT-24)

    Ratios are fractions (0.05 = 5 %); slippage is in basis points.
    """

    lead = models.OneToOneField(LeadTrader, on_delete=models.CASCADE, related_name="stats")
    roi_7 = StatField(default=Decimal("0"))
    roi_30 = StatField(default=Decimal("0"))
    roi_90 = StatField(default=Decimal("0"))
    roi_all = StatField(default=Decimal("0"))
    pnl_all = MoneyField(default=Decimal("0"))
    win_rate = StatField(null=True, blank=True, help_text="Share of closes with a positive net result.")
    max_drawdown = StatField(default=Decimal("0"))
    trading_days = models.PositiveIntegerField(default=0)
    sharpe = StatField(null=True, blank=True)
    btc_eth_share = StatField(default=Decimal("0"), help_text="BTC+ETH share of the notional traded over 90 days.")
    followers_count = models.PositiveIntegerField(default=0)
    followers_pnl = MoneyField(default=Decimal("0"))
    aum = MoneyField(default=Decimal("0"), help_text="Assets under copy: the live followings' equity.")
    slippage_avg_bps = StatField(null=True, blank=True)
    slippage_p95_bps = StatField(null=True, blank=True)
    missed_rates = models.JSONField(default=dict, blank=True, help_text="Reason → share of decisions not followed.")
    roi_gap_30 = StatField(null=True, blank=True, help_text="Lead's 30-day ROI − its followers' average.")
    flags = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "trader stats"
        indexes = [
            models.Index(fields=["-roi_30", "lead"], name="trader_stats_roi30_idx"),
            models.Index(fields=["-followers_pnl", "lead"], name="trader_stats_fpnl_idx"),
            models.Index(fields=["-aum", "lead"], name="trader_stats_aum_idx"),
            models.Index(fields=["max_drawdown", "lead"], name="trader_stats_mdd_idx"),
        ]

    def __str__(self) -> str:
        return f"Stats of {self.lead_id}"


class FollowingStats(models.Model):
    """One following's statistics, precomputed. (R-CT-20)"""

    following = models.OneToOneField(Following, on_delete=models.CASCADE, related_name="stats")
    pnl = MoneyField(default=Decimal("0"), help_text="Net realised result plus unrealised PnL of open copies.")
    roi = StatField(default=Decimal("0"), help_text="pnl / money transferred in.")
    roi_30 = StatField(null=True, blank=True, help_text="Time-weighted, from the daily snapshots.")
    win_rate = StatField(null=True, blank=True)
    open_positions = models.PositiveIntegerField(default=0)
    fees_paid = MoneyField(default=Decimal("0"))
    share_paid = MoneyField(default=Decimal("0"))
    share_pending = MoneyField(default=Decimal("0"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "following stats"

    def __str__(self) -> str:
        return f"Stats of following {self.following_id}"
