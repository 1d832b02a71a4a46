"""Operators list, create, read and change voucher campaigns. (R-VC-01, R-VC-09, R-OP-01)"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.fields import AmountField
from accounts.api.permissions import operator_with
from config.api import ErrorSerializer
from vouchers.api.ops.common import (
    ADD,
    CAMPAIGN_PATH,
    CHANGE,
    ERRORS,
    FORM_ERRORS,
    VIEW,
    OpsCampaignDetailOutputSerializer,
    OpsCampaignOutputSerializer,
    campaign_loaded,
    campaign_or_404,
)
from vouchers.api.vouchers import TAGS
from vouchers.models import Audience, Campaign, CampaignKind
from vouchers.selectors import campaign_liabilities
from vouchers.services.campaigns import MAX_DAYS, campaign_create, campaign_update


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date and time with its UTC offset; a time without one is refused, not guessed."""

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None  # well formed but no real date: DRF's own message says so
            if parsed is not None and parsed.tzinfo is None:
                raise serializers.ValidationError("must be an ISO 8601 date and time with its UTC offset, e.g. Z")
        return super().to_internal_value(value)


# --- input --------------------------------------------------------------------


class _CampaignSettingsSerializer(serializers.Serializer):
    """A campaign's settings, each optional here; a key that is not a setting is refused, naming it."""

    name = serializers.CharField(required=False, max_length=120, help_text="3 to 120 characters.")
    kind = serializers.ChoiceField(choices=CampaignKind.choices, required=False)
    face_value = AmountField(
        required=False, help_text="Coverage: the most one voucher pays. Loss coverage: a voucher's total amount."
    )
    closing_threshold = AmountField(
        required=False, allow_null=True, help_text="Loss coverage only: a close must be at least this notional."
    )
    budget = AmountField(required=False, help_text="What the campaign may spend; at least one face value.")
    promotion_starts_at = AwareDateTimeField(required=False)
    promotion_ends_at = AwareDateTimeField(required=False)
    claim_deadline = AwareDateTimeField(required=False, help_text="Collection deadline: no claim after it.")
    validity_days = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_DAYS, help_text="Days after a claim the voucher stays valid."
    )
    payout_claim_days = serializers.IntegerField(required=False, min_value=1, max_value=MAX_DAYS)
    payout_usage_days = serializers.IntegerField(required=False, min_value=1, max_value=MAX_DAYS)
    per_user_limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_DAYS)
    audience = serializers.ChoiceField(choices=Audience.choices, required=False)

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["is not a campaign setting"] for name in unknown})
        return super().to_internal_value(data)


# --- views --------------------------------------------------------------------


class OpsCampaignListCreateApi(GenericAPIView):
    """Every campaign with its live liability, newest first; or create one (a draft). (R-VC-01, R-VC-09)"""

    serializer_class = OpsCampaignOutputSerializer

    def get_permissions(self):
        return [operator_with(ADD if self.request.method == "POST" else VIEW)()]

    def get_queryset(self):
        return Campaign.objects.select_related("created_by")

    class InputSerializer(_CampaignSettingsSerializer):
        class Meta:
            ref_name = "OpsCampaignCreateInput"

        REQUIRED = (
            "name",
            "kind",
            "face_value",
            "budget",
            "promotion_starts_at",
            "promotion_ends_at",
            "claim_deadline",
        )

        reason = serializers.CharField(max_length=500, help_text="Why: recorded with the creation.")

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            for name in self.REQUIRED:
                self.fields[name].required = True

    @extend_schema(
        operation_id="ops_campaigns_list",
        summary="List the voucher campaigns with their liability",
        description=(
            "Every voucher campaign, newest first and cursor-paginated, with all its settings, its status "
            "and its live liability: budget, funded, available, reserved by live claims, paid out, and the "
            "live claims (funded = available + reserved + paid out). Operators holding "
            "`vouchers.view_campaign` (Campaign operators, Finance) only; read-only. (R-VC-09, R-OP-01)"
        ),
        tags=TAGS,
        responses={200: OpsCampaignOutputSerializer(many=True), **ERRORS},
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        liabilities = campaign_liabilities(page)
        for campaign in page:
            campaign.liability = liabilities[campaign.pk]
        return self.get_paginated_response(OpsCampaignOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="ops_campaigns_create",
        summary="Create a voucher campaign",
        description=(
            "Creates a campaign, in draft, from its name, kind, face value, budget, promotion window and "
            "collection deadline, with optional validity days, payout claim and usage days, per-user limit, "
            "audience (everyone or new copy traders) and, for loss coverage, a closing threshold. Money is "
            "a decimal string; times are ISO 8601 with their offset. A bad setting is a 400 naming it. The "
            "creation is recorded with who made it and the reason given; nobody can claim until it is "
            "funded and published. Operators holding `vouchers.add_campaign` only. (R-VC-01, R-OP-01)"
        ),
        tags=TAGS,
        request=InputSerializer,
        responses={201: OpsCampaignDetailOutputSerializer, 400: ErrorSerializer, **ERRORS},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        reason = values.pop("reason")
        campaign = campaign_create(actor=request.user, reason=reason, **values)
        return Response(
            OpsCampaignDetailOutputSerializer(campaign_loaded(campaign.pk)).data, status=status.HTTP_201_CREATED
        )


class OpsCampaignApi(APIView):
    """One campaign with its liability and latest changes; or change its settings. (R-VC-01, R-VC-09, R-OP-01)"""

    def get_permissions(self):
        return [operator_with(CHANGE if self.request.method == "PATCH" else VIEW)()]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "OpsCampaignUpdateInput"

        class ChangesSerializer(_CampaignSettingsSerializer):
            class Meta:
                ref_name = "OpsCampaignChanges"

            def validate(self, attrs):
                if not attrs:
                    raise serializers.ValidationError({"non_field_errors": ["give at least one setting to change"]})
                return attrs

        changes = ChangesSerializer(help_text="Only the settings that change.")
        reason = serializers.CharField(max_length=500, help_text="Why: recorded with the change.")

    @extend_schema(
        operation_id="ops_campaigns_retrieve",
        summary="Show a voucher campaign with its liability and changes",
        description=(
            "One campaign with all its settings, its status, its live liability (budget, funded, available, "
            "reserved by live claims, paid out) and its latest changes, newest first, each with who made "
            "it, why and what changed. Operators holding `vouchers.view_campaign` only; read-only. "
            "(R-VC-09, R-OP-01)"
        ),
        tags=TAGS,
        parameters=[CAMPAIGN_PATH],
        responses={200: OpsCampaignDetailOutputSerializer, **ERRORS, 404: ErrorSerializer},
    )
    def get(self, request, campaign_id: int):
        return Response(OpsCampaignDetailOutputSerializer(campaign_loaded(campaign_id)).data)

    @extend_schema(
        operation_id="ops_campaigns_update",
        summary="Change a voucher campaign's settings",
        description=(
            "Changes only the settings given in `changes`, with a reason recorded beside who made the "
            "change. A draft changes freely; a live or paused campaign only in its reach and timing (name, "
            "promotion end, collection deadline, budget, per-user limit, audience): what a claimed voucher "
            "is worth is fixed once published (422 naming the setting). The budget never goes below what "
            "Finance has funded (422); an ended campaign changes no more (409). Operators holding "
            "`vouchers.change_campaign` only. (R-VC-01, R-OP-01)"
        ),
        tags=TAGS,
        parameters=[CAMPAIGN_PATH],
        request=InputSerializer,
        responses={200: OpsCampaignDetailOutputSerializer, **FORM_ERRORS},
    )
    def patch(self, request, campaign_id: int):
        campaign = campaign_or_404(campaign_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        campaign_update(
            campaign=campaign,
            actor=request.user,
            reason=data.validated_data["reason"],
            changes=data.validated_data["changes"],
        )
        return Response(OpsCampaignDetailOutputSerializer(campaign_loaded(campaign.pk)).data)
