"""Markets (USDT-margined perpetuals), their mark prices, and per-account market settings. (R-MG-01, R-MG-08)"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import LedgerAccount, MoneyField


def RateField(**kwargs) -> models.DecimalField:  # noqa: N802 - reads like a field class
    return models.DecimalField(max_digits=12, decimal_places=8, **kwargs)


class Market(models.Model):
    """A perpetual futures market. The platform is the venue: orders fill at the mark price."""

    symbol = models.CharField(max_length=20, unique=True)
    base_asset = models.CharField(max_length=12)
    price_tick = MoneyField(help_text="Smallest price increment.")
    qty_step = MoneyField(help_text="Smallest quantity increment.")
    min_qty = MoneyField(help_text="Smallest quantity one order may fill.")
    max_order_qty = MoneyField(help_text="Liquidity cap: one order fills at most this; the rest is cancelled (IOC).")
    max_leverage = models.PositiveSmallIntegerField()
    maintenance_margin_rate = RateField()
    taker_fee_rate = RateField()
    funding_rate = RateField(default=Decimal("0.0001"), help_text="Per interval; positive: longs pay shorts.")
    funding_interval_hours = models.PositiveSmallIntegerField(default=8)
    token_follow_limit = MoneyField(
        null=True, blank=True, help_text="Platform cap on the total value copied on this token (copy engine)."
    )
    is_active = models.BooleanField(default=True)
    mark_price = MoneyField(null=True, blank=True)
    mark_price_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "copytrading_market"
        ordering = ["symbol"]
        permissions = [("set_mark_price", "Can set a market's mark price (operator price feed)")]
        constraints = [
            models.CheckConstraint(condition=Q(price_tick__gt=0), name="market_price_tick_positive"),
            models.CheckConstraint(condition=Q(qty_step__gt=0), name="market_qty_step_positive"),
            models.CheckConstraint(condition=Q(min_qty__gt=0), name="market_min_qty_positive"),
            models.CheckConstraint(condition=Q(max_order_qty__gte=models.F("min_qty")), name="market_cap_above_min"),
            models.CheckConstraint(condition=Q(max_leverage__gte=1), name="market_max_leverage_positive"),
            models.CheckConstraint(
                condition=Q(maintenance_margin_rate__gt=0, maintenance_margin_rate__lt=1), name="market_mmr_range"
            ),
            models.CheckConstraint(condition=Q(taker_fee_rate__gte=0, taker_fee_rate__lt=1), name="market_fee_range"),
        ]

    def __str__(self) -> str:
        return self.symbol


class MarketChange(models.Model):
    """One operator change to a market's parameters (or its creation), with who and why. (R-OP-01)"""

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="changes")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    # {field: [old, new]} as decimal strings; old is null on creation.
    changes = models.JSONField()
    created = models.BooleanField(default=False)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "copytrading_marketchange"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.market_id} {'created' if self.created else 'changed'} by {self.actor_id}"


class PriceSource(models.TextChoices):
    OPERATOR = "operator", "Operator"
    REPLAY = "replay", "Replayed file"
    SIMULATED = "simulated", "Simulated"


class MarkPrice(models.Model):
    """One tick of a market's mark price, kept as history for charts and statistics."""

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="prices")
    price = MoneyField()
    source = models.CharField(max_length=16, choices=PriceSource.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "copytrading_markprice"
        ordering = ["-id"]
        indexes = [models.Index(fields=["market", "-at"], name="markprice_market_at_idx")]
        constraints = [models.CheckConstraint(condition=Q(price__gt=0), name="markprice_positive")]

    def __str__(self) -> str:
        return f"{self.market_id}@{self.price}"


class MarginMode(models.TextChoices):
    CROSS = "cross", "Cross"
    ISOLATED = "isolated", "Isolated"


class MarketSetting(models.Model):
    """An account's leverage and margin mode in one market (R-MG-03)."""

    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="market_settings")
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    leverage = models.PositiveSmallIntegerField(default=10)
    margin_mode = models.CharField(max_length=8, choices=MarginMode.choices, default=MarginMode.CROSS)

    class Meta:
        db_table = "copytrading_marketsetting"
        constraints = [
            models.UniqueConstraint(fields=["account", "market"], name="market_setting_unique"),
            models.CheckConstraint(condition=Q(leverage__gte=1), name="market_setting_leverage_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}/{self.market_id}: {self.leverage}x {self.margin_mode}"
