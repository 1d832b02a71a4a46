"""Lead traders, followings with their settings, and the record of every copy decision. (R-CT-01 … R-CT-24)"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import LedgerAccount, MoneyField
from copytrading.futures.models.trading import Order, Position


def RatioField(**kwargs) -> models.DecimalField:  # noqa: N802 - reads like a field class
    return models.DecimalField(max_digits=9, decimal_places=6, **kwargs)


def default_slot_tiers() -> list[list[int]]:
    """Bitget's published tiers: 100–1,000 USDT: 100 slots; 1,000–5,000: 300; 5,000 and above: 500."""
    return [[100, 100], [1000, 300], [5000, 500]]


class CopySettings(models.Model):
    """Operator-editable platform settings of copy trading (one row). (R-CT-22, R-CT-15, R-CT-03)"""

    max_profit_share_ratio = RatioField(default=Decimal("0.20"))
    min_following_amount = MoneyField(default=Decimal("50"))
    frequency_limit_seconds = models.PositiveSmallIntegerField(default=3)
    loan_daily_interest_rate = RatioField(
        default=Decimal("0.0005"), help_text="Daily interest on loans against unrealised profit (R-PS-08)."
    )
    # [[minimum futures equity, follower slots], …] ascending; below the first tier: no slots.
    follower_slot_tiers = models.JSONField(default=default_slot_tiers)

    class Meta:
        verbose_name = "copy-trading settings"
        verbose_name_plural = "copy-trading settings"

    def __str__(self) -> str:
        return "Copy-trading settings"

    @classmethod
    def current(cls) -> CopySettings:
        return cls.objects.order_by("pk").first() or cls.objects.create()

    def slots_for(self, equity: Decimal) -> int:
        slots = 0
        for minimum, count in self.follower_slot_tiers:
            if equity >= Decimal(str(minimum)):
                slots = int(count)
        return slots


class LeadTraderStatus(models.TextChoices):
    PENDING = "pending", "Pending approval"
    APPROVED = "approved", "Approved"
    SUSPENDED = "suspended", "Suspended"
    REJECTED = "rejected", "Rejected"


class LeadTrader(models.Model):
    """A user approved by operators to be copied ("trading expert"). (R-CT-01)"""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="lead_trader")
    nickname = models.CharField(max_length=40, unique=True)
    bio = models.TextField(blank=True, default="")
    profit_share_ratio = RatioField()
    min_following_amount = MoneyField(default=Decimal("0"))
    max_followers = models.PositiveIntegerField(null=True, blank=True, help_text="The lead's own limit, if any.")
    status = models.CharField(max_length=12, choices=LeadTraderStatus.choices, default=LeadTraderStatus.PENDING)
    status_reason = models.TextField(blank=True, default="")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    last_open_at = models.DateTimeField(null=True, blank=True, help_text="For the 3-second frequency limit.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        permissions = [("review_lead_trader", "Can approve, suspend and reinstate lead traders")]
        constraints = [
            models.CheckConstraint(
                condition=Q(profit_share_ratio__gte=0, profit_share_ratio__lte=1), name="lead_profit_share_range"
            ),
        ]

    def __str__(self) -> str:
        return self.nickname

    @property
    def is_approved(self) -> bool:
        return self.status == LeadTraderStatus.APPROVED


class FollowMode(models.TextChoices):
    SMART = "smart", "Smart Ratio"
    DIVERSE = "diverse", "Diverse Exploration"


class FollowingStatus(models.TextChoices):
    ACTIVE = "active", "Following"
    STOPPING = "stopping", "Stopping: following the trader to close"
    STOPPED = "stopped", "Stopped"


class StopMethod(models.TextChoices):
    MARKET = "market", "Close at market"
    FOLLOW_CLOSE = "follow_close", "Follow the trader to close"


class ModeChoice(models.TextChoices):
    FOLLOW = "follow", "Follow the trader"
    CROSS = "cross", "Cross"
    ISOLATED = "isolated", "Isolated"


class LeverageChoice(models.TextChoices):
    FOLLOW = "follow", "Follow the trader"
    FIXED = "fixed", "Fixed"
    CUSTOM = "custom", "Custom per pair"


class Following(models.Model):
    """A follower copying one lead trader, from a sub-account, with its own settings. (R-CT-02 … R-CT-06)

    Smart Ratio uses a sub-account dedicated to this lead; Diverse Exploration
    the follower's one shared pool. Copy positions sit in the sub-account in
    the slot of this following's id, so two leads never merge.
    """

    follower = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="followings")
    lead = models.ForeignKey(LeadTrader, on_delete=models.PROTECT, related_name="followings")
    mode = models.CharField(max_length=8, choices=FollowMode.choices)
    sub_account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="followings")
    status = models.CharField(max_length=10, choices=FollowingStatus.choices, default=FollowingStatus.ACTIVE)
    stop_method = models.CharField(max_length=12, choices=StopMethod.choices, blank=True, default="")
    invested = MoneyField(default=Decimal("0"), help_text="Net amount transferred in.")
    # Profit share (R-PS-01): the high-water mark H of the net realised result, and what was paid.
    high_water_mark = MoneyField(default=Decimal("0"))
    share_paid = MoneyField(default=Decimal("0"))
    # Settings (R-CT-05); a change applies to copy opens made after it.
    pairs = models.JSONField(null=True, blank=True, help_text="Symbols followed; null: all.")
    auto_follow_new_pairs = models.BooleanField(default=True)
    follow_existing = models.BooleanField(default=False)
    guardian_max_loss = MoneyField(null=True, blank=True)
    guardian_min_net_value = MoneyField(null=True, blank=True)
    stop_loss_ratio = RatioField(null=True, blank=True)
    take_profit_ratio = RatioField(null=True, blank=True)
    max_margin_per_pair = MoneyField(null=True, blank=True)
    slippage_ratio = RatioField(default=Decimal("0.005"))
    margin_mode = models.CharField(max_length=8, choices=ModeChoice.choices, default=ModeChoice.FOLLOW)
    leverage_mode = models.CharField(max_length=8, choices=LeverageChoice.choices, default=LeverageChoice.FOLLOW)
    fixed_leverage = models.PositiveSmallIntegerField(null=True, blank=True)
    custom_leverage = models.JSONField(default=dict, blank=True)
    max_margin_per_order_pct = RatioField(null=True, blank=True, help_text="Share of total assets, 0–1.")
    max_position_value = MoneyField(default=Decimal("1000000"))
    diverse_margin = MoneyField(null=True, blank=True, help_text="Diverse: fixed margin per copy.")
    diverse_multiple = RatioField(null=True, blank=True, help_text="Diverse: multiple of the lead's margin.")
    started_at = models.DateTimeField(auto_now_add=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["lead", "status"], name="following_lead_status_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["follower", "lead"], condition=~Q(status="stopped"), name="following_one_live_per_lead"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.follower_id} → {self.lead_id} ({self.mode})"

    @property
    def is_live(self) -> bool:
        return self.status != FollowingStatus.STOPPED


class NotFollowedReason(models.TextChoices):
    TOKEN_LIMIT = "token_limit", "Token follow limit"
    FREQUENCY = "lead_frequency_limit", "Lead frequency limit"
    PARTIAL_FILL = "partial_fill", "Lead order partially filled"
    INSUFFICIENT = "insufficient_balance", "Insufficient balance"
    SLIPPAGE = "slippage", "Slippage above the ratio"
    PAIR = "pair_not_followed", "Pair not followed"
    PAIR_MARGIN = "per_pair_margin_limit", "Maximum margin per pair reached"
    POSITION_VALUE = "max_position_value", "Maximum position value reached"
    INTERRUPTED = "following_interrupted", "Following interrupted (below the minimum)"
    CAPACITY = "capacity_paused", "Protected program capacity paused"
    STOPPING = "following_stopping", "Following is stopping"
    LEAD_SUSPENDED = "lead_suspended", "Lead trader suspended"


class CopyDecision(models.Model):
    """What the fan-out decided for one following on one lead fill. (R-CT-14)"""

    lead_order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="copy_decisions")
    following = models.ForeignKey(Following, on_delete=models.PROTECT, related_name="decisions")
    followed = models.BooleanField()
    reason = models.CharField(max_length=24, choices=NotFollowedReason.choices, blank=True, default="")
    is_close = models.BooleanField(default=False)
    qty = MoneyField(default=Decimal("0"))
    price = MoneyField(null=True, blank=True)
    margin = MoneyField(default=Decimal("0"))
    leverage = models.PositiveSmallIntegerField(null=True, blank=True)
    margin_mode = models.CharField(max_length=8, blank=True, default="")
    position = models.ForeignKey(Position, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["following", "-id"], name="decision_following_idx")]
        constraints = [
            models.UniqueConstraint(fields=["lead_order", "following"], name="decision_once_per_fill"),
        ]

    def __str__(self) -> str:
        return f"{self.lead_order_id}/{self.following_id}: {'followed' if self.followed else self.reason}"


class ShareSettlement(models.Model):
    """One daily profit-share settlement of a following on a platform date: the run's key (R-PS-06)."""

    following = models.ForeignKey(Following, on_delete=models.PROTECT, related_name="share_settlements")
    day = models.DateField(help_text="Platform date (Asia/Shanghai).")
    paid = MoneyField(default=Decimal("0"))
    unfrozen = MoneyField(default=Decimal("0"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["following", "day"], name="share_settlement_once_a_day")]

    def __str__(self) -> str:
        return f"{self.following_id} {self.day}: paid {self.paid}"
