"""Loss-coverage vouchers on manual futures trading, and the compensations they pay. (R-LC-01 … R-LC-06)

An operator grants a voucher of the campaign's ``face_value`` (its total amount);
the grant reserves that amount from the campaign's available budget (R-VC-09).
Losing closes on the user's main futures account use it up, each creating a
pending ``Compensation``; the 00:05 UTC run credits the compensations of earlier
UTC days to the user's spot account (R-LC-05). What is reserved for the voucher
is always its remaining amount plus its pending compensations.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from accounts.models import JournalEntry, MoneyField
from vouchers.models.campaigns import Campaign


class LossCoverageState(models.TextChoices):
    ACTIVE = "active", "Active"
    USED_UP = "used_up", "Used up"
    EXPIRED = "expired", "Expired"


class LossCoverageVoucher(models.Model):
    """A user's loss-coverage voucher: a total amount, and the remaining amount losing closes may still use.

    ``granted_at`` is its arrival time: only closes after it, and before ``expires_at``
    (arrival + the campaign's validity days), use it (R-LC-02). Of a user's active
    vouchers the earliest obtained is used first. Reserved in the campaign: ``remaining``
    while active; at expiry the remaining amount returns to the campaign's available budget.
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="loss_coverage_vouchers")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="loss_coverage_vouchers")
    total_amount = MoneyField()
    remaining = MoneyField()
    state = models.CharField(max_length=8, choices=LossCoverageState.choices, default=LossCoverageState.ACTIVE)
    granted_at = models.DateTimeField(help_text="Arrival time: only closes after it use the voucher.")
    expires_at = models.DateTimeField()
    # Who granted it and why (R-OP-01); null for a voucher a user obtained without an operator.
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(blank=True, default="")
    # The grant's idempotency key: granting again with the same key returns this voucher.
    grant_key = models.CharField(max_length=200)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "user", "grant_key"], name="loss_coverage_grant_once"),
            models.CheckConstraint(condition=Q(total_amount__gt=0), name="loss_coverage_total_positive"),
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=F("total_amount")),
                name="loss_coverage_remaining_within_total",
            ),
            models.CheckConstraint(
                condition=~Q(state="active") | Q(remaining__gt=0), name="loss_coverage_active_has_remaining"
            ),
            models.CheckConstraint(condition=~Q(state="used_up") | Q(remaining=0), name="loss_coverage_used_up_empty"),
            models.CheckConstraint(
                condition=Q(granted_at__lt=F("expires_at")), name="loss_coverage_expiry_after_arrival"
            ),
        ]
        indexes = [
            # The hourly expiry: active vouchers by their expiry.
            models.Index(fields=["expires_at"], condition=Q(state="active"), name="loss_coverage_active_idx"),
            models.Index(fields=["user", "state"], name="loss_coverage_user_state_idx"),
        ]

    def __str__(self) -> str:
        return f"Loss-coverage voucher #{self.pk} {self.remaining}/{self.total_amount} ({self.state})"


class CompensationState(models.TextChoices):
    PENDING = "pending", "Pending (credited the next UTC day)"
    CREDITED = "credited", "Credited to spot"
    WITHHELD = "withheld", "Withheld: account disabled for voucher abuse"


class Compensation(models.Model):
    """What one losing close on the main futures account gets from one loss-coverage voucher (R-LC-02 … 06).

    One per close (``close_id`` is unique): min(trading loss, the voucher's remaining
    amount), fees and funding excluded. Pending until the 00:05 UTC run of a later UTC
    day credits it to the user's spot account (``entry``), or withholds it if the user
    is disabled for voucher abuse (its amount then returns to the campaign's budget).
    """

    voucher = models.ForeignKey(LossCoverageVoucher, on_delete=models.PROTECT, related_name="compensations")
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="compensations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="loss_compensations")
    close_id = models.BigIntegerField(unique=True, help_text="The venue's PositionClose id.")
    position_id = models.BigIntegerField()
    loss = MoneyField(help_text="The trading loss of the close (fees and funding excluded).")
    amount = MoneyField(help_text="What the voucher pays: min(loss, its remaining amount).")
    state = models.CharField(max_length=8, choices=CompensationState.choices, default=CompensationState.PENDING)
    closed_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    credited_at = models.DateTimeField(null=True, blank=True)
    withheld_at = models.DateTimeField(null=True, blank=True)
    # The entry that paid it to spot, or (withheld) the one that released its amount to the campaign.
    entry = models.ForeignKey(JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-closed_at", "-close_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0) & Q(amount__lte=F("loss")), name="compensation_amount_within_loss"
            ),
        ]
        indexes = [
            # The 00:05 UTC run: pending compensations by close time.
            models.Index(fields=["closed_at"], condition=Q(state="pending"), name="compensation_pending_idx"),
            models.Index(fields=["user", "closed_at"], name="compensation_user_idx"),
        ]

    def __str__(self) -> str:
        return f"Compensation of close {self.close_id}: {self.amount} ({self.state})"
