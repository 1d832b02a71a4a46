"""Finance funds a voucher campaign from the platform's marketing account: a money move, with an
Idempotency-Key. (R-VC-09, R-OP-01)"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.fields import AmountField, MoneyOutField
from accounts.api.permissions import operator_with
from accounts.api.views import IDEMPOTENCY_HEADER, MONEY_ERRORS
from accounts.idempotency import MoneyMovingApi, idempotency_key_require, idempotent
from config.api import ErrorSerializer
from vouchers.api.ops.common import CAMPAIGN_PATH, FUND, LiabilityOutputSerializer, campaign_or_404
from vouchers.api.vouchers import TAGS
from vouchers.selectors import campaign_liabilities
from vouchers.services.campaigns import campaign_fund


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
