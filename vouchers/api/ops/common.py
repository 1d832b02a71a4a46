"""What the operators' campaign views share: permissions, path parameter, error sets, reading a campaign with
its liability, and the campaign's output. (R-VC-01, R-VC-09, R-OP-01)"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from accounts.api.fields import MoneyOutField
from config.api import ErrorSerializer
from vouchers.models import Audience, Campaign, CampaignKind
from vouchers.selectors import campaign_liabilities

VIEW, ADD, CHANGE, FUND = (
    "vouchers.view_campaign",
    "vouchers.add_campaign",
    "vouchers.change_campaign",
    "vouchers.fund_campaign",
)
# Enough history to see what changed lately; the admin shows all of it.
RECENT_CHANGES = 10
CAMPAIGN_PATH = OpenApiParameter("campaign_id", int, OpenApiParameter.PATH, description="A campaign's id.")
ERRORS = {401: ErrorSerializer, 403: ErrorSerializer}
# A move (publish, pause, end) is refused only as a bad request or from the wrong state; a change also by a rule.
MOVE_ERRORS = {400: ErrorSerializer, **ERRORS, 404: ErrorSerializer, 409: ErrorSerializer}
FORM_ERRORS = {**MOVE_ERRORS, 422: ErrorSerializer}


def campaign_or_404(campaign_id: int) -> Campaign:
    return get_object_or_404(Campaign.objects.select_related("created_by"), pk=campaign_id)


def campaign_loaded(campaign_id: int) -> Campaign:
    """The campaign read fresh, with its live liability and latest changes (what the detail output shows)."""
    campaign = campaign_or_404(campaign_id)
    campaign.liability = campaign_liabilities([campaign])[campaign.pk]
    campaign.recent_changes = list(campaign.changes.select_related("actor").order_by("-id")[:RECENT_CHANGES])
    return campaign


# --- output -------------------------------------------------------------------


class LiabilityOutputSerializer(serializers.Serializer):
    """The campaign's money now (R-VC-09): funded = available + reserved + paid out."""

    class Meta:
        ref_name = "CampaignLiabilityOutput"

    budget = MoneyOutField(help_text="What the campaign may spend.")
    funded = MoneyOutField(help_text="What Finance has moved in from the marketing account.")
    available = MoneyOutField(help_text="Funded money free for new claims.")
    reserved = MoneyOutField(help_text="Reserved on the ledger by live claims and payouts not yet spent.")
    paid_out = MoneyOutField(help_text="What the campaign has paid out to users.")
    live_claims = serializers.IntegerField(help_text="Claimed vouchers not yet triggered or expired.")
    triggered = serializers.IntegerField(help_text="Triggered vouchers whose payout is still reserved.")
    pending_payouts = MoneyOutField(help_text="Payouts pending, held, issued or claimed: reserved until spent.")
    reserved_by_claims = MoneyOutField(
        help_text="What the vouchers' states say is reserved: live claims' face value plus unspent payouts."
    )


class CampaignChangeOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "CampaignChangeOutput"

    id = serializers.IntegerField()
    action = serializers.CharField(help_text="created, updated, published, paused, ended or funded.")
    actor = serializers.EmailField(source="actor.email")
    reason = serializers.CharField()
    changes = serializers.JSONField(help_text="The settings given (money as strings, times as ISO), or the amount.")
    at = serializers.DateTimeField()


class OpsCampaignOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "OpsCampaignOutput"

    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=CampaignKind.choices)
    # A plain string in the schema: "status" names other choice sets there (orders, job runs).
    status = serializers.CharField(help_text="draft, live (claimable in its window), paused or ended.")
    face_value = MoneyOutField()
    closing_threshold = MoneyOutField(allow_null=True)
    promotion_starts_at = serializers.DateTimeField()
    promotion_ends_at = serializers.DateTimeField()
    claim_deadline = serializers.DateTimeField()
    validity_days = serializers.IntegerField()
    payout_claim_days = serializers.IntegerField()
    payout_usage_days = serializers.IntegerField()
    budget = MoneyOutField()
    per_user_limit = serializers.IntegerField()
    audience = serializers.ChoiceField(choices=Audience.choices)
    created_by = serializers.EmailField(source="created_by.email")
    created_at = serializers.DateTimeField()
    liability = LiabilityOutputSerializer()


class OpsCampaignDetailOutputSerializer(OpsCampaignOutputSerializer):
    class Meta:
        ref_name = "OpsCampaignDetailOutput"

    recent_changes = CampaignChangeOutputSerializer(many=True, help_text="The latest changes, newest first.")
