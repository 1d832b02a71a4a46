"""The voucher center's loss-coverage vouchers over the API: each with its total and remaining amounts, shown
live, and the compensations its losing closes earned. (R-LC-01, R-LC-05, R-VC-08)

Read-only, so open to the web too (a session), like the rest of the center
(``vouchers.api.vouchers``). Only the caller's own vouchers are listed; a fully
used voucher has left the center (R-LC-01).
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView

from accounts.api.fields import MoneyOutField
from config.api import ErrorSerializer
from vouchers.api.vouchers import TAGS, VoucherPagination
from vouchers.models import CompensationState, LossCoverageState, LossCoverageVoucher
from vouchers.selectors import loss_coverage_center

ACTIVE, EXPIRED = "active", "expired"


def loss_coverage_status(voucher: LossCoverageVoucher) -> str:
    """What the center shows: active while it may still be used, else expired.

    An active voucher past its ``expires_at`` is expired even before the hourly expiry has
    released its remaining amount: no later close uses it (R-LC-02).
    """
    if voucher.state == LossCoverageState.ACTIVE and voucher.expires_at > timezone.now():
        return ACTIVE
    return EXPIRED


class CompensationOutputSerializer(serializers.Serializer):
    """What one losing close got from the voucher, credited to spot the following UTC day (R-LC-05)."""

    class Meta:
        ref_name = "LossCoverageCompensationOutput"

    id = serializers.IntegerField()
    close_id = serializers.IntegerField(help_text="The close (of one of your manual futures positions) it covers.")
    position_id = serializers.IntegerField()
    loss = MoneyOutField(help_text="The close's trading loss, fees and funding excluded.")
    amount = MoneyOutField(help_text="What the voucher pays: the loss, up to what remained of the voucher.")
    state = serializers.ChoiceField(
        choices=CompensationState.choices,
        help_text="pending: credited at 00:05 UTC the day after the close; credited to spot; or withheld.",
    )
    closed_at = serializers.DateTimeField()
    credited_at = serializers.DateTimeField(allow_null=True)
    withheld_at = serializers.DateTimeField(allow_null=True)


class LossCoverageOutputSerializer(serializers.Serializer):
    """A loss-coverage voucher in the center, with its remaining amount and its compensations."""

    class Meta:
        ref_name = "LossCoverageVoucherOutput"

    class CampaignOutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "LossCoverageCampaignOutput"

        id = serializers.IntegerField()
        name = serializers.CharField()

    id = serializers.IntegerField()
    campaign = CampaignOutputSerializer()
    total_amount = MoneyOutField(help_text="What the voucher covers in all (USDT, a decimal string).")
    remaining = MoneyOutField(help_text="What later losing closes may still use, as of now.")
    status = serializers.SerializerMethodField(help_text="What the center shows: active or expired.")
    granted_at = serializers.DateTimeField(help_text="Arrival: only closes after it use the voucher.")
    expires_at = serializers.DateTimeField(help_text="Usage deadline: only closes before it use the voucher.")
    closing_threshold = MoneyOutField(
        source="campaign.closing_threshold",
        allow_null=True,
        help_text="The smallest closing amount (quantity × price) a close must reach; null: any.",
    )
    compensations = CompensationOutputSerializer(many=True, help_text="Oldest close first.")

    def get_status(self, voucher: LossCoverageVoucher) -> str:
        return loss_coverage_status(voucher)


class LossCoverageListApi(GenericAPIView):
    """Your loss-coverage vouchers: active and expired, with what remains and what they paid. (R-LC-01, R-VC-08)"""

    serializer_class = LossCoverageOutputSerializer
    pagination_class = VoucherPagination

    def get_queryset(self):
        return loss_coverage_center(user=self.request.user)

    @extend_schema(
        operation_id="vouchers_loss_coverage_list",
        summary="List your loss-coverage vouchers",
        description=(
            "Your loss-coverage vouchers for manual futures trading, active ones first, then expired ones, "
            "each by arrival, page by page: its campaign, total amount, remaining amount (live: what later "
            "losing closes may still use), status, arrival (`granted_at`), usage deadline (`expires_at`), "
            "the campaign's closing threshold, and the compensations its closes earned, each pending until "
            "the 00:05 UTC run of the following day credits it to your spot account (or withheld for an "
            "account disabled for voucher abuse). A fully used voucher leaves the center. Any signed-in "
            "user, web or app; read-only. (R-LC-01, R-LC-05, R-VC-08)"
        ),
        tags=TAGS,
        responses={200: LossCoverageOutputSerializer(many=True), 401: ErrorSerializer},
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(LossCoverageOutputSerializer(page, many=True).data)
