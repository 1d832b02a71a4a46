"""The voucher center over the API: the caller's vouchers with both deadlines, and one of them. (R-VC-08)

Reading the center is open to the web too (a session): only claiming is app-only
(``vouchers.api.campaigns``, R-VC-02). Anyone else's voucher answers 404.
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import pagination, serializers
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.fields import MoneyOutField
from config.api import ErrorSerializer
from vouchers.models import CampaignKind, Voucher, VoucherState
from vouchers.selectors import voucher_center, voucher_get

# Every voucher operation is tagged by its feature, whatever the first segment of its path.
TAGS = ["vouchers"]
VOUCHER_PATH = OpenApiParameter("voucher_id", int, OpenApiParameter.PATH, description="One of your vouchers.")

AVAILABLE, USED, EXPIRED = "available", "used", "expired"


def voucher_status(voucher: Voucher) -> str:
    """What the center shows: available until its validity ends, used once triggered, else expired.

    A claimed voucher past its ``valid_until`` is expired even before the hourly expiry has
    released its reservation: it can no longer be triggered (R-VC-04, R-VC-05).
    """
    if voucher.state == VoucherState.TRIGGERED:
        return USED
    if voucher.state == VoucherState.CLAIMED and voucher.valid_until > timezone.now():
        return AVAILABLE
    return EXPIRED


class VoucherOutputSerializer(serializers.Serializer):
    """A voucher in the center, with the usage deadline and its campaign's collection deadline."""

    class Meta:
        ref_name = "VoucherOutput"

    class CampaignOutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "VoucherCampaignOutput"

        id = serializers.IntegerField()
        name = serializers.CharField()

    id = serializers.IntegerField()
    campaign = CampaignOutputSerializer()
    kind = serializers.ChoiceField(choices=CampaignKind.choices)
    face_value = MoneyOutField(help_text="The most the voucher pays (USDT, a decimal string).")
    state = serializers.ChoiceField(
        choices=VoucherState.choices,
        help_text="claimed: its face value is reserved and it may still trigger; triggered; expired untriggered.",
    )
    status = serializers.SerializerMethodField(help_text="What the center shows: available, used or expired.")
    claimed_at = serializers.DateTimeField()
    valid_until = serializers.DateTimeField(
        help_text="Usage deadline: the loss or liquidation must happen before it (claim + the validity days)."
    )
    claim_deadline = serializers.DateTimeField(
        source="campaign.claim_deadline", help_text="The campaign's collection deadline: no claim after it."
    )
    ended_at = serializers.DateTimeField(allow_null=True, help_text="When it was triggered or expired.")

    def get_status(self, voucher: Voucher) -> str:
        return voucher_status(voucher)


class VoucherPagination(pagination.PageNumberPagination):
    """Pages, not cursors: the center lists live vouchers first, and a voucher's state changes."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class VoucherListApi(GenericAPIView):
    """Your voucher center: available, used and expired vouchers with both deadlines. (R-VC-08)"""

    serializer_class = VoucherOutputSerializer
    pagination_class = VoucherPagination

    def get_queryset(self):
        return voucher_center(user=self.request.user)

    @extend_schema(
        operation_id="vouchers_list",
        summary="List your vouchers (the voucher center)",
        description=(
            "Your vouchers, live ones first, page by page: each with its campaign, kind, face value, state "
            "(available, used or expired), when it was claimed, its usage deadline (`valid_until`) and its "
            "campaign's collection deadline (`claim_deadline`). Any signed-in user, web or app: only "
            "claiming is app-only. Read-only. (R-VC-08, R-VC-02)"
        ),
        tags=TAGS,
        responses={200: VoucherOutputSerializer(many=True), 401: ErrorSerializer},
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(VoucherOutputSerializer(page, many=True).data)


class VoucherDetailApi(APIView):
    """One of your vouchers; anyone else's answers 404. (R-VC-08)"""

    @extend_schema(
        operation_id="vouchers_retrieve",
        summary="Show one of your vouchers",
        description=(
            "One of your vouchers with its campaign, kind, face value, state, claim time, usage deadline "
            "(`valid_until`) and collection deadline (`claim_deadline`). Anyone else's voucher, or an "
            "unknown id, answers 404. Any signed-in user, web or app; read-only. (R-VC-08)"
        ),
        tags=TAGS,
        parameters=[VOUCHER_PATH],
        responses={200: VoucherOutputSerializer, 401: ErrorSerializer, 404: ErrorSerializer},
    )
    def get(self, request, voucher_id: int):
        voucher = voucher_get(user=request.user, voucher_id=voucher_id)
        if voucher is None:
            raise NotFound(f"no voucher {voucher_id} of yours")
        return Response(VoucherOutputSerializer(voucher).data)
