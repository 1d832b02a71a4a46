"""Operators publish, pause and end voucher campaigns, each with a reason. (R-VC-01, R-OP-01)

These move no money and are idempotent by themselves (a repeated click changes
nothing), so they take no Idempotency-Key.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import operator_with
from vouchers.api.ops.common import (
    CAMPAIGN_PATH,
    CHANGE,
    MOVE_ERRORS,
    OpsCampaignDetailOutputSerializer,
    campaign_loaded,
    campaign_or_404,
)
from vouchers.api.vouchers import TAGS
from vouchers.services.campaigns import campaign_end, campaign_pause, campaign_publish


class _ReasonInputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "OpsCampaignReasonInput"

    reason = serializers.CharField(max_length=500, help_text="Why: recorded with the change.")


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
