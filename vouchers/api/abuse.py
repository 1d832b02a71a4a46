"""Voucher abuse over the operators' API: a campaign's flagged claimants, and disabling an account.
(R-VC-09, R-LC-06, R-OP-01)

A campaign's claimants that share a registration or login address or a withdrawal
destination with another of its claimants are flagged for review
(``vouchers.selectors.campaign_flags``). An operator holding
``vouchers.ban_voucher_abuse`` disables an account for voucher abuse, with a reason:
its unspent payouts are withheld and their reserved amounts return to the campaigns'
available budget (``vouchers.services.abuse``) — a money move, so it takes an
Idempotency-Key; a second ban of the same user returns the first.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.fields import MoneyOutField
from accounts.api.permissions import operator_with
from accounts.api.views import IDEMPOTENCY_HEADER, MONEY_ERRORS
from accounts.idempotency import MoneyMovingApi, idempotent
from accounts.models import User
from config.api import ErrorSerializer
from vouchers.api.ops import CAMPAIGN_PATH, VIEW
from vouchers.api.vouchers import TAGS
from vouchers.models import AbuseBan, Campaign
from vouchers.selectors import campaign_flagged_claimants, payouts_withheld
from vouchers.services.abuse import account_disable_for_abuse

BAN = "vouchers.ban_voucher_abuse"


class _UserOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "VoucherAbuseUserOutput"

    id = serializers.IntegerField()
    email = serializers.EmailField()


class CampaignFlagOutputSerializer(serializers.Serializer):
    """A flagged claimant and the other claimants it shares an address or a withdrawal destination with."""

    class Meta:
        ref_name = "CampaignFlagOutput"

    user = _UserOutputSerializer()
    banned = serializers.BooleanField(help_text="Already disabled for voucher abuse.")
    shares_address_with = _UserOutputSerializer(
        many=True, help_text="Claimants of the campaign that registered or logged in from one of its addresses."
    )
    shares_withdrawal_destination_with = _UserOutputSerializer(
        many=True, help_text="Claimants of the campaign that asked for a withdrawal to one of its destinations."
    )


class OpsCampaignFlagsApi(APIView):
    """The claimants of a campaign flagged for review: who shares an address or a withdrawal destination."""

    permission_classes = [operator_with(VIEW)]

    @extend_schema(
        operation_id="ops_campaigns_flags",
        summary="List a voucher campaign's flagged claimants",
        description=(
            "The users who claimed a voucher of the campaign and share a registration or login address, or "
            "a withdrawal destination (compared ignoring case), with another of its claimants: each with "
            "those other claimants and whether it is already disabled for voucher abuse. Users who did not "
            "claim from the campaign are never compared. Flags are for review (R-LC-06 applies to them): "
            "nothing is decided by them. Operators holding `vouchers.view_campaign` only; read-only. "
            "(R-VC-09, R-LC-06)"
        ),
        tags=TAGS,
        parameters=[CAMPAIGN_PATH],
        responses={
            200: CampaignFlagOutputSerializer(many=True),
            401: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    def get(self, request, campaign_id: int):
        campaign = get_object_or_404(Campaign, pk=campaign_id)
        flagged = campaign_flagged_claimants(campaign=campaign)
        return Response(CampaignFlagOutputSerializer(flagged, many=True).data)


class VoucherBanOutputSerializer(serializers.Serializer):
    """A voucher-abuse ban: whose, who decided it, why, and what it withheld."""

    class Meta:
        ref_name = "VoucherBanOutput"

    id = serializers.IntegerField()
    user = _UserOutputSerializer()
    actor = serializers.EmailField(source="actor.email", help_text="The operator who disabled the account.")
    reason = serializers.CharField()
    at = serializers.DateTimeField()
    withheld_payouts = serializers.IntegerField(help_text="The user's payouts withheld: shown to it as withheld.")
    withheld_amount = MoneyOutField(help_text="Their total, returned to the campaigns' available budget.")


def ban_output(ban: AbuseBan) -> dict:
    ban = AbuseBan.objects.select_related("user", "actor").get(pk=ban.pk)
    ban.withheld_payouts, ban.withheld_amount = payouts_withheld(user_id=ban.user_id)
    return VoucherBanOutputSerializer(ban).data


class OpsVoucherBanCreateApi(MoneyMovingApi, APIView):
    """Disable an account for voucher abuse: its unspent payouts are withheld. (R-LC-06, R-VC-09, R-OP-01)"""

    permission_classes = [operator_with(BAN)]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "VoucherBanInput"

        user = serializers.IntegerField(min_value=1, help_text="The id of the user to disable.")
        reason = serializers.CharField(max_length=2000, help_text="Why: recorded with the ban and your name.")

        def validate_user(self, value: int) -> User:
            user = User.objects.filter(pk=value).first()
            if user is None:
                raise serializers.ValidationError(f"no user {value}")
            return user

    @extend_schema(
        operation_id="ops_voucher_bans_create",
        summary="Disable an account for voucher abuse",
        description=(
            "Disables the user for voucher abuse, with a reason recorded beside the operator: it can claim "
            "no voucher any more, and every payout of it not yet spent (pending, held, issued or claimed) "
            "is withheld — shown to it as withheld — while their reserved amounts return to their "
            "campaigns' available budget in one ledger entry (R-VC-09). Answers 201 with the ban and what "
            "it withheld; a user already disabled keeps its first ban, answered with 200 and nothing "
            "changed. An unknown user "
            "is a 400 naming `user`. Operators holding `vouchers.ban_voucher_abuse` only. Needs an "
            "`Idempotency-Key` header: a replay with the same body returns the first response. "
            "(R-LC-06, R-VC-09, R-OP-01)"
        ),
        tags=TAGS,
        parameters=[IDEMPOTENCY_HEADER],
        request=InputSerializer,
        responses={
            201: VoucherBanOutputSerializer,
            200: VoucherBanOutputSerializer,
            403: ErrorSerializer,
            **MONEY_ERRORS,
        },
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = data.validated_data["user"]

        def execute():
            already = AbuseBan.objects.filter(user=user).exists()
            ban = account_disable_for_abuse(user=user, actor=request.user, reason=data.validated_data["reason"])
            return Response(ban_output(ban), status=status.HTTP_200_OK if already else status.HTTP_201_CREATED)

        return idempotent(request, "ops-voucher-bans", execute)
