"""Coverage-voucher campaigns for the mobile app: what the caller may claim now, and claiming one.
(R-VC-01, R-VC-02, R-VC-09)

These vouchers are app-only (R-VC-02): both routes answer only a request
authenticated with the mobile client's API token. A web session gets 403
``app_only`` telling the user to claim in the app; the web shows the voucher
center read-only (``vouchers.api.vouchers``). The decision reads which
authenticator DRF accepted, never a header a browser could set.

A claim reserves the face value from the campaign's budget, so it is a money move:
it takes an Idempotency-Key, and a replay returns the same voucher.
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.fields import MoneyOutField
from accounts.api.views import IDEMPOTENCY_HEADER, MONEY_ERRORS
from accounts.idempotency import MoneyMovingApi, idempotency_key_require, idempotent
from config.api import ErrorSerializer
from vouchers.api.vouchers import TAGS, VoucherOutputSerializer
from vouchers.models import Audience, Campaign, CampaignKind, CampaignStatus
from vouchers.selectors import campaigns_claimable
from vouchers.services.claims import voucher_claim

APP_ONLY_DETAIL = "vouchers are claimed in the mobile app: open the app to see and claim them"


class AppOnlyApi:
    """Mixin: the view answers only the mobile client, i.e. a request authenticated by its API token (R-VC-02).

    Checked after authentication, permissions and (for a money move) the Idempotency-Key,
    so an anonymous caller still gets 401 and a request without a usable key still gets the
    project's 400 naming the header first. Whether the caller is the app is decided by the
    authenticator DRF accepted (``request.successful_authenticator``): token auth passes,
    a web session (or any other authenticator) is refused with 403 ``app_only``.
    """

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not isinstance(request.successful_authenticator, TokenAuthentication):
            raise PermissionDenied(APP_ONLY_DETAIL, code="app_only")


class ClaimableCampaignListApi(AppOnlyApi, APIView):
    """The coverage campaigns the caller may claim now, in the app. (R-VC-01, R-VC-02)"""

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ClaimableCampaignOutput"

        id = serializers.IntegerField()
        name = serializers.CharField()
        kind = serializers.ChoiceField(choices=CampaignKind.choices)
        face_value = MoneyOutField(help_text="The most one voucher pays (USDT, a decimal string).")
        promotion_starts_at = serializers.DateTimeField()
        promotion_ends_at = serializers.DateTimeField()
        claim_deadline = serializers.DateTimeField(help_text="Collection deadline: no claim after it.")
        validity_days = serializers.IntegerField(help_text="Days after the claim the voucher stays valid.")
        per_user_limit = serializers.IntegerField(help_text="How many vouchers of this campaign one user may claim.")
        audience = serializers.ChoiceField(
            choices=Audience.choices, help_text="new_copy_traders: only users who have never followed a trader."
        )

    @extend_schema(
        operation_id="vouchers_campaigns_list",
        summary="List the voucher campaigns you may claim now",
        description=(
            "Live first-loss and liquidation coverage campaigns inside their promotion window and before "
            "their collection deadline, of which you have not yet claimed your limit: each with its face "
            "value, promotion window, collection deadline, validity days, per-user limit and audience. A "
            "campaign for new copy traders and the remaining budget are checked when you claim. App-only: "
            "answers only the mobile client's token; a web session gets 403 `app_only`. "
            "(R-VC-01, R-VC-02)"
        ),
        tags=TAGS,
        responses={200: OutputSerializer(many=True), 401: ErrorSerializer, 403: ErrorSerializer},
    )
    def get(self, request):
        campaigns = campaigns_claimable(user=request.user, now=timezone.now())
        return Response(self.OutputSerializer(campaigns, many=True).data)


class VoucherClaimApi(AppOnlyApi, MoneyMovingApi, APIView):
    """Claim a coverage voucher in the app: its face value is reserved from the campaign. (R-VC-01, R-VC-02)"""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "VoucherClaimInput"

        campaign = serializers.IntegerField(min_value=1, help_text="The id of a campaign you may claim.")

    @extend_schema(
        operation_id="vouchers_claims_create",
        summary="Claim a coverage voucher",
        description=(
            "Claims a voucher of the campaign: its face value is reserved from the campaign's funded budget "
            "and the voucher is valid for the campaign's validity days from now (`valid_until`). Refused "
            "with 422 naming `campaign` when the campaign is not running, before its promotion or after its "
            "collection deadline, when its budget is used up, when you have claimed its per-user limit, or "
            "when it is for new copy traders and you have followed a trader before. An unknown campaign "
            "answers 404. App-only: answers only the mobile client's token; a web session gets 403 "
            "`app_only`. Needs an `Idempotency-Key` header: a replay with the same body returns the same "
            "voucher. (R-VC-01, R-VC-02, R-VC-09)"
        ),
        tags=TAGS,
        parameters=[IDEMPOTENCY_HEADER],
        request=InputSerializer,
        responses={201: VoucherOutputSerializer, 403: ErrorSerializer, 404: ErrorSerializer, **MONEY_ERRORS},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        campaign_id = data.validated_data["campaign"]
        # A draft is nobody's business but the operators': to a user it does not exist.
        campaign = Campaign.objects.filter(pk=campaign_id).exclude(status=CampaignStatus.DRAFT).first()
        if campaign is None:
            raise NotFound(f"no campaign {campaign_id}")

        def execute():
            voucher = voucher_claim(
                user=request.user, campaign=campaign, idempotency_key=idempotency_key_require(request)
            )
            return Response(VoucherOutputSerializer(voucher).data, status=status.HTTP_201_CREATED)

        return idempotent(request, "voucher-claims", execute)
