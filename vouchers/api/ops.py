"""Operators run voucher campaigns over the API: list with each campaign's live liability, create, change,
publish, pause, end, and Finance's fundings. (R-VC-01, R-VC-09, R-OP-01)

Every write needs a reason and is recorded with who made it (``CampaignChange``);
the checks are the services' (``vouchers.services.campaigns``), the admin's too.
Publishing, pausing and ending move no money and are idempotent by themselves
(a repeated click changes nothing), so they take no Idempotency-Key; a funding
moves money from the marketing account and takes one.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.shortcuts import get_object_or_404
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.fields import AmountField, MoneyOutField
from accounts.api.permissions import operator_with
from accounts.api.views import IDEMPOTENCY_HEADER, MONEY_ERRORS
from accounts.idempotency import MoneyMovingApi, idempotency_key_require, idempotent
from config.api import ErrorSerializer
from vouchers.api.vouchers import TAGS
from vouchers.models import Audience, Campaign, CampaignKind
from vouchers.selectors import campaign_liabilities
from vouchers.services.campaigns import (
    MAX_DAYS,
    campaign_create,
    campaign_end,
    campaign_fund,
    campaign_pause,
    campaign_publish,
    campaign_update,
)

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


class _ReasonInputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "OpsCampaignReasonInput"

    reason = serializers.CharField(max_length=500, help_text="Why: recorded with the change.")


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


class _OpsCampaignMoveApi(APIView):
    """Shared by publish, pause and end: a reason is required and recorded with the operator."""

    permission_classes = [operator_with(CHANGE)]
    move = None

    def post(self, request, campaign_id: int):
        campaign = campaign_or_404(campaign_id)
        data = _ReasonInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        type(self).move(campaign=campaign, actor=request.user, reason=data.validated_data["reason"])
        return Response(OpsCampaignDetailOutputSerializer(campaign_loaded(campaign.pk)).data)


_MOVE_SCHEMA = {
    "tags": TAGS,
    "parameters": [CAMPAIGN_PATH],
    "request": _ReasonInputSerializer,
    "responses": {200: OpsCampaignDetailOutputSerializer, **MOVE_ERRORS},
}


class OpsCampaignPublishApi(_OpsCampaignMoveApi):
    """Publish a draft or paused campaign: users may claim during its promotion window."""

    move = staticmethod(campaign_publish)

    @extend_schema(
        operation_id="ops_campaigns_publish",
        summary="Publish a voucher campaign",
        description=(
            "A draft or paused campaign goes live: users may claim it in the app during its promotion "
            "window, up to its funded budget. A reason is required and recorded with the operator; "
            "publishing a live campaign changes nothing, so no Idempotency-Key is needed; an ended one "
            "answers 409. Operators holding `vouchers.change_campaign` only. (R-VC-01, R-OP-01)"
        ),
        **_MOVE_SCHEMA,
    )
    def post(self, request, campaign_id: int):
        return super().post(request, campaign_id)


class OpsCampaignPauseApi(_OpsCampaignMoveApi):
    """Pause a live campaign: no new claims; claimed vouchers keep working."""

    move = staticmethod(campaign_pause)

    @extend_schema(
        operation_id="ops_campaigns_pause",
        summary="Pause a voucher campaign",
        description=(
            "A live campaign stops taking claims until it is published again; claimed vouchers keep "
            "working. A reason is required and recorded with the operator; pausing twice changes nothing, "
            "so no Idempotency-Key is needed; a draft or ended one answers 409. Operators holding "
            "`vouchers.change_campaign` only. (R-VC-01, R-OP-01)"
        ),
        **_MOVE_SCHEMA,
    )
    def post(self, request, campaign_id: int):
        return super().post(request, campaign_id)


class OpsCampaignEndApi(_OpsCampaignMoveApi):
    """End a campaign for good: no new claims; claimed vouchers keep working until they expire."""

    move = staticmethod(campaign_end)

    @extend_schema(
        operation_id="ops_campaigns_end",
        summary="End a voucher campaign",
        description=(
            "Ends a draft, live or paused campaign for good: no new claims, no more funding, no more "
            "changes; claimed vouchers keep working until they expire. A reason is required and recorded "
            "with the operator; ending twice changes nothing, so no Idempotency-Key is needed. Operators "
            "holding `vouchers.change_campaign` only. (R-VC-01, R-OP-01)"
        ),
        **_MOVE_SCHEMA,
    )
    def post(self, request, campaign_id: int):
        return super().post(request, campaign_id)


class OpsCampaignFundingCreateApi(MoneyMovingApi, APIView):
    """Finance funds a campaign from the platform's marketing account, up to its budget. (R-VC-09, R-OP-01)"""

    permission_classes = [operator_with(FUND)]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "OpsCampaignFundingInput"

        amount = AmountField(help_text="USDT as a decimal string; the budget less what is funded at most.")
        reason = serializers.CharField(max_length=500, help_text="Why: recorded with the funding.")

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "OpsCampaignFundingOutput"

        id = serializers.IntegerField()
        campaign = serializers.IntegerField(source="campaign_id")
        amount = MoneyOutField()
        entry = serializers.IntegerField(source="entry_id", help_text="The ledger entry that moved the money.")
        actor = serializers.EmailField(source="actor.email")
        reason = serializers.CharField()
        at = serializers.DateTimeField()
        liability = LiabilityOutputSerializer(source="campaign.liability", help_text="The campaign's money after it.")

    @extend_schema(
        operation_id="ops_campaigns_fundings_create",
        summary="Fund a voucher campaign from the marketing account",
        description=(
            "Moves `amount` (a decimal string) from the platform's marketing account to the campaign, in "
            "one ledger entry recorded with the operator and the reason; the answer shows the campaign's "
            "liability after it. More than the budget less what is already funded is refused with 422 "
            "naming `amount`; an ended campaign answers 409. Finance operators holding "
            "`vouchers.fund_campaign` only. Needs an `Idempotency-Key` header: a replay with the same body "
            "returns the first response and funds once. (R-VC-09, R-OP-01)"
        ),
        tags=TAGS,
        parameters=[CAMPAIGN_PATH, IDEMPOTENCY_HEADER],
        request=InputSerializer,
        responses={201: OutputSerializer, 403: ErrorSerializer, 404: ErrorSerializer, **MONEY_ERRORS},
    )
    def post(self, request, campaign_id: int):
        campaign = campaign_or_404(campaign_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)

        def execute():
            funding = campaign_fund(
                campaign=campaign,
                amount=data.validated_data["amount"],
                actor=request.user,
                reason=data.validated_data["reason"],
                # Scoped to the operator: two operators' keys never meet.
                idempotency_key=f"api:{request.user.pk}:{idempotency_key_require(request)}",
            )
            funding.campaign.liability = campaign_liabilities([funding.campaign])[funding.campaign_id]
            return Response(self.OutputSerializer(funding).data, status=status.HTTP_201_CREATED)

        return idempotent(request, "ops-campaign-fundings", execute)
