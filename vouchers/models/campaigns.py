"""Campaigns: what operators offer, when, to whom, and the money behind it. (R-VC-01, R-VC-09, R-OP-01)"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from accounts.models import JournalEntry, MoneyField


class CampaignKind(models.TextChoices):
    FIRST_LOSS = "first_loss", "First-loss coverage"
    LIQUIDATION = "liquidation", "Liquidation coverage"
    LOSS_COVERAGE = "loss_coverage", "Loss coverage (manual futures)"


COVERAGE_KINDS = (CampaignKind.FIRST_LOSS, CampaignKind.LIQUIDATION)


class Audience(models.TextChoices):
    EVERYONE = "everyone", "Everyone"
    NEW_COPY_TRADERS = "new_copy_traders", "New copy traders only"


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    LIVE = "live", "Live"
    PAUSED = "paused", "Paused"
    ENDED = "ended", "Ended"


class Campaign(models.Model):
    """An operator's voucher campaign.

    Coverage campaigns (first loss, liquidation) give vouchers of ``face_value``;
    loss-coverage campaigns give vouchers of ``face_value`` as their total amount,
    used on closes of at least ``closing_threshold`` (if set). Users claim during
    the promotion window and until the collection deadline; a claimed coverage
    voucher must be triggered within ``validity_days`` of the claim. Payouts are
    experience vouchers claimable for ``payout_claim_days`` and usable for
    ``payout_usage_days`` after their claim (R-VC-07).

    Money: the campaign's ledger accounts are ``campaign_budget`` accounts with
    refs ``campaign:<id>`` (available) and ``campaign:<id>:reserved``; Finance
    funds it from the platform's marketing account (``CampaignFunding``).
    """

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=CampaignKind.choices)
    face_value = MoneyField(help_text="Coverage: the most one voucher pays. Loss coverage: a voucher's total amount.")
    closing_threshold = MoneyField(
        null=True, blank=True, help_text="Loss coverage: a close must be at least this notional to use a voucher."
    )
    promotion_starts_at = models.DateTimeField()
    promotion_ends_at = models.DateTimeField()
    claim_deadline = models.DateTimeField(help_text="Collection deadline: no claim after it.")
    validity_days = models.PositiveSmallIntegerField(default=7, help_text="Days after a claim the voucher stays valid.")
    payout_claim_days = models.PositiveSmallIntegerField(default=7)
    payout_usage_days = models.PositiveSmallIntegerField(default=14)
    budget = MoneyField(help_text="What the campaign may spend: claims stop when the funded budget is reserved.")
    per_user_limit = models.PositiveSmallIntegerField(default=1)
    audience = models.CharField(max_length=20, choices=Audience.choices, default=Audience.EVERYONE)
    status = models.CharField(max_length=8, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        permissions = [("fund_campaign", "Can fund a campaign from the marketing account")]
        constraints = [
            models.CheckConstraint(condition=Q(face_value__gt=0), name="campaign_face_value_positive"),
            models.CheckConstraint(condition=Q(budget__gt=0), name="campaign_budget_positive"),
            models.CheckConstraint(condition=Q(per_user_limit__gte=1), name="campaign_per_user_limit_positive"),
            models.CheckConstraint(condition=Q(validity_days__gte=1), name="campaign_validity_positive"),
            models.CheckConstraint(
                condition=Q(promotion_starts_at__lt=F("promotion_ends_at")), name="campaign_promotion_ordered"
            ),
            models.CheckConstraint(
                condition=Q(claim_deadline__gte=F("promotion_starts_at")), name="campaign_deadline_after_start"
            ),
            models.CheckConstraint(
                condition=Q(closing_threshold__isnull=True) | Q(closing_threshold__gt=0),
                name="campaign_threshold_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def account_ref(self) -> str:
        return f"campaign:{self.pk}"

    @property
    def reserved_ref(self) -> str:
        return f"campaign:{self.pk}:reserved"

    @property
    def validity(self) -> timedelta:
        return timedelta(days=self.validity_days)


class CampaignChange(models.Model):
    """Who changed a campaign, when, why and what (R-OP-01). Append-only."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="changes")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=16)  # created, updated, published, paused, ended, funded
    reason = models.TextField()
    changes = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.campaign_id} by {self.actor_id}"


class CampaignFunding(models.Model):
    """One funding of a campaign by Finance: the amount moved from the marketing account, with its entry."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="fundings")
    amount = MoneyField()
    entry = models.OneToOneField(JournalEntry, on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="campaign_funding_positive")]

    def __str__(self) -> str:
        return f"{self.amount} to campaign {self.campaign_id}"
