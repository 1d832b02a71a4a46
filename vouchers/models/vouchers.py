"""A user's voucher from a campaign, and the moves of its life. (R-VC-01 … R-VC-08, R-LC-01)"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import MoneyField
from vouchers.models.campaigns import Campaign, CampaignKind


class VoucherState(models.TextChoices):
    # A coverage voucher: claimed (its face value reserved) → triggered by a close, or expired untriggered.
    CLAIMED = "claimed", "Claimed"
    TRIGGERED = "triggered", "Triggered"
    EXPIRED = "expired", "Expired"


class Voucher(models.Model):
    """A claimed voucher: its face value is reserved from the campaign until it is triggered or expires.

    ``valid_until`` is the end of the usage validity period (claim + the campaign's
    validity days): a trigger must happen before it (R-VC-04, R-VC-05).
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="vouchers")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="vouchers")
    kind = models.CharField(max_length=16, choices=CampaignKind.choices)
    face_value = MoneyField()
    state = models.CharField(max_length=12, choices=VoucherState.choices, default=VoucherState.CLAIMED)
    claimed_at = models.DateTimeField()
    valid_until = models.DateTimeField()
    # The client's Idempotency-Key of the claim: a retried claim returns this voucher.
    claim_key = models.CharField(max_length=200)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Triggered: the close (the venue's PositionClose id) and what it pays, min(loss, face value).
    trigger_close_id = models.BigIntegerField(null=True, blank=True, unique=True)
    reimbursement = MoneyField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "claim_key"], name="voucher_claim_once"),
            models.CheckConstraint(condition=Q(face_value__gt=0), name="voucher_face_value_positive"),
        ]
        indexes = [
            # The hourly expiry: live claims by the end of their validity.
            models.Index(fields=["valid_until"], condition=Q(state="claimed"), name="voucher_claimed_until_idx"),
            models.Index(fields=["user", "kind", "state"], name="voucher_user_kind_state_idx"),
        ]

    def __str__(self) -> str:
        return f"Voucher #{self.pk} {self.kind} {self.face_value} ({self.state})"


class Outcome(models.TextChoices):
    TRIGGERED = "triggered", "Triggered a voucher"
    DIVERSE = "diverse", "Diverse Exploration copies are not covered"
    OPENED_BEFORE = "opened_before_claim", "Opened before the voucher's validity period"
    OUTSIDE = "outside_validity", "Closed outside the voucher's validity period"
    EARLIER = "earlier_close_used", "An earlier close already triggered the voucher"
    NO_VOUCHER = "no_matching_voucher", "No live voucher of a kind this close can use"


class CloseDecision(models.Model):
    """What the vouchers made of one losing or liquidated copy close of a user holding vouchers (R-VC-04 …
    R-VC-06): which voucher it triggered and for how much, or why none; one row per close."""

    close_id = models.BigIntegerField(unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    voucher = models.OneToOneField(
        Voucher, null=True, blank=True, on_delete=models.PROTECT, related_name="trigger_decision"
    )
    outcome = models.CharField(max_length=24, choices=Outcome.choices)
    loss = MoneyField(help_text="The trading loss (fees and funding excluded), or the margin lost in a liquidation.")
    amount = MoneyField(null=True, blank=True, help_text="What the voucher pays: min(loss, face value).")
    liquidation = models.BooleanField(default=False)
    closed_at = models.DateTimeField()
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-closed_at", "-close_id"]
        indexes = [models.Index(fields=["user", "closed_at"], name="close_decision_user_idx")]

    def __str__(self) -> str:
        return f"close {self.close_id}: {self.outcome}"


class PayoutState(models.TextChoices):
    PENDING = "pending", "Pending (the next daily run issues it)"
    HELD = "held", "Held for review"
    ISSUED = "issued", "Issued: claim it in the app"
    CLAIMED = "claimed", "Claimed: apply it to a following"
    APPLIED = "applied", "Applied to a following"
    REJECTED = "rejected", "Rejected by an operator"
    WITHHELD = "withheld", "Withheld: account disabled for voucher abuse"
    EXPIRED = "expired", "Expired"


class Payout(models.Model):
    """A triggered voucher's reimbursement: an experience voucher worth ``amount`` (R-VC-07, R-XV).

    Created pending when the voucher triggers; the daily run after the trigger
    issues it (claimable until ``claim_by``), unless an operator holds it for
    review. Once claimed it is usable until ``usable_until``. Its amount stays
    reserved in the campaign until it is spent, or released when it is rejected,
    withheld or expires (R-VC-09).
    """

    voucher = models.OneToOneField(Voucher, on_delete=models.PROTECT, related_name="payout")
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="payouts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="voucher_payouts")
    amount = MoneyField()
    state = models.CharField(max_length=10, choices=PayoutState.choices, default=PayoutState.PENDING)
    triggered_at = models.DateTimeField()
    issued_at = models.DateTimeField(null=True, blank=True)
    claim_by = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    usable_until = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # An operator's hold and its outcome (R-OP-01: who and why).
    held_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    review_reason = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-id"]
        permissions = [("review_payout", "Can hold, release and reject voucher payouts")]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="payout_amount_positive")]
        indexes = [
            models.Index(fields=["triggered_at"], condition=Q(state="pending"), name="payout_pending_idx"),
            models.Index(fields=["claim_by"], condition=Q(state="issued"), name="payout_issued_idx"),
            models.Index(fields=["usable_until"], condition=Q(state="claimed"), name="payout_claimed_idx"),
            models.Index(fields=["held_at"], condition=Q(state="held"), name="payout_held_idx"),
        ]

    def __str__(self) -> str:
        return f"Payout #{self.pk} {self.amount} ({self.state})"
