"""Payouts (experience vouchers) over the API: the user's list and claiming one in the app; operators' review.
(R-VC-07, R-VC-08, R-VC-09, R-OP-01)

A triggered coverage voucher's reimbursement is an experience voucher, issued by the
daily run after the trigger. The user sees every one of its payouts with both
deadlines — claim by, usable until — its triggering close and its original voucher
(R-VC-08); reading is open to the web too. Claiming is app-only like claiming a
coverage voucher (R-VC-02, R-VC-07): token auth only, 403 ``app_only`` for a web
session. Claiming moves no money (the amount stays reserved until it is spent) and a
retried claim returns the claimed payout, so it takes no Idempotency-Key.

Operators list payouts (``?state=held``, ``?alert=true`` for held ones passing their
seventh day within a day) and hold, release or reject them with a reason
(``vouchers.review_payout``). Holding and releasing move no money; rejecting returns the
reserved amount to the campaign's available budget, so it takes an Idempotency-Key.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.fields import MoneyOutField
from accounts.api.permissions import operator_with
from accounts.api.views import IDEMPOTENCY_HEADER, MONEY_ERRORS
from accounts.idempotency import MoneyMovingApi, idempotent
from config.api import ErrorSerializer
from vouchers.api.campaigns import AppOnlyApi
from vouchers.api.vouchers import AVAILABLE, EXPIRED, TAGS, USED, VoucherOutputSerializer, VoucherPagination
from vouchers.models import Payout, PayoutState
from vouchers.selectors import payout_center
from vouchers.services.payouts import (
    HELD_ALERT_AT,
    PAYOUT_DEADLINE,
    payout_claim,
    payout_hold,
    payout_reject,
    payout_release,
)

VIEW_PAYOUT, REVIEW_PAYOUT = "vouchers.view_payout", "vouchers.review_payout"
PENDING, WITHHELD, REJECTED = "pending", "withheld", "rejected"
PAYOUT_PATH = OpenApiParameter("payout_id", int, OpenApiParameter.PATH, description="One of your payout vouchers.")
OPS_PAYOUT_PATH = OpenApiParameter("payout_id", int, OpenApiParameter.PATH, description="A payout's id.")
STATE_HELP = (
    "pending (the next daily run issues it), held (for review), issued (claim it in the app by `claim_by`), "
    "claimed (apply it to a following by `usable_until`), applied, rejected, withheld (account disabled for "
    "voucher abuse) or expired."
)


def payout_status(payout: Payout) -> str:
    """What the center shows (R-VC-08): available to claim or apply until its deadline, used once applied,
    expired past its deadline; pending until issued; withheld or rejected."""
    now = timezone.now()
    if payout.state == PayoutState.ISSUED and payout.claim_by > now:
        return AVAILABLE
    if payout.state == PayoutState.CLAIMED and payout.usable_until > now:
        return AVAILABLE
    if payout.state == PayoutState.APPLIED:
        return USED
    if payout.state in (PayoutState.PENDING, PayoutState.HELD):
        return PENDING
    if payout.state == PayoutState.WITHHELD:
        return WITHHELD
    if payout.state == PayoutState.REJECTED:
        return REJECTED
    return EXPIRED


class PayoutOutputSerializer(serializers.Serializer):
    """A payout (experience) voucher in the center, with both deadlines, its trigger and its original voucher."""

    class Meta:
        ref_name = "PayoutOutput"

    id = serializers.IntegerField()
    amount = MoneyOutField(help_text="What the experience voucher is worth (USDT, a decimal string).")
    # A plain string in the schema: "state" names the vouchers' own choice set there.
    state = serializers.CharField(help_text=STATE_HELP)
    status = serializers.SerializerMethodField(
        help_text="What the center shows: available, used, expired, pending, withheld or rejected."
    )
    triggered_at = serializers.DateTimeField(help_text="When the close that triggered the voucher happened.")
    trigger_close_id = serializers.IntegerField(
        source="voucher.trigger_close_id", help_text="The id of the position close that triggered the voucher."
    )
    issued_at = serializers.DateTimeField(allow_null=True)
    claim_by = serializers.DateTimeField(
        allow_null=True, help_text="Claim deadline: an issued payout not claimed by then expires."
    )
    claimed_at = serializers.DateTimeField(allow_null=True)
    usable_until = serializers.DateTimeField(
        allow_null=True, help_text="Usage deadline: a claimed payout not applied by then expires."
    )
    ended_at = serializers.DateTimeField(allow_null=True, help_text="When it expired, was rejected or withheld.")
    voucher = VoucherOutputSerializer(help_text="The coverage voucher whose trigger this payout reimburses.")

    def get_status(self, payout: Payout) -> str:
        return payout_status(payout)


def own_payout_or_404(request, payout_id: int) -> Payout:
    payout = payout_center(user=request.user).filter(pk=payout_id).first()
    if payout is None:
        raise NotFound(f"no payout {payout_id} of yours")
    return payout


class PayoutListApi(GenericAPIView):
    """Your payout (experience) vouchers with both deadlines, their trigger and original voucher. (R-VC-08)"""

    serializer_class = PayoutOutputSerializer
    pagination_class = VoucherPagination

    def get_queryset(self):
        return payout_center(user=self.request.user)

    @extend_schema(
        operation_id="vouchers_payouts_list",
        summary="List your payout vouchers",
        description=(
            "The experience vouchers your triggered coverage vouchers paid, available ones first, page by "
            "page: each with its amount, state and what the center shows (available, used, expired, "
            "pending, withheld or rejected), its claim deadline (`claim_by`), its usage deadline "
            "(`usable_until`), the close that triggered it (`trigger_close_id`) and the original voucher. "
            "Any signed-in user, web or app: only claiming is app-only. Read-only. (R-VC-07, R-VC-08)"
        ),
        tags=TAGS,
        responses={200: PayoutOutputSerializer(many=True), 401: ErrorSerializer},
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(PayoutOutputSerializer(page, many=True).data)


class PayoutClaimApi(AppOnlyApi, APIView):
    """Claim an issued payout voucher in the app: usable until its usage expiry. (R-VC-07, R-VC-02)"""

    @extend_schema(
        operation_id="vouchers_payouts_claim",
        summary="Claim a payout voucher",
        description=(
            "Claims one of your issued payout (experience) vouchers before its claim deadline (`claim_by`): "
            "it is then usable until `usable_until` (the campaign's usage days from now). Refused with 422 "
            "naming `voucher` when it is not issued (pending, held, expired, withheld …) or its claim window "
            "has passed. Someone else's payout, or an unknown id, answers 404. App-only: answers only the "
            "mobile client's token; a web session gets 403 `app_only`. Claiming moves no money and a "
            "retried claim returns the claimed voucher, so no Idempotency-Key is needed. (R-VC-07, R-VC-02)"
        ),
        tags=TAGS,
        parameters=[PAYOUT_PATH],
        request=None,
        responses={
            200: PayoutOutputSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            422: ErrorSerializer,
        },
    )
    def post(self, request, payout_id: int):
        payout = own_payout_or_404(request, payout_id)
        payout_claim(user=request.user, payout=payout)
        return Response(PayoutOutputSerializer(own_payout_or_404(request, payout_id)).data)


# --- operators -------------------------------------------------------------------------


class OpsPayoutOutputSerializer(serializers.Serializer):
    """A payout as operators review it: whose, from which campaign and trigger, its deadlines and its review."""

    class Meta:
        ref_name = "OpsPayoutOutput"

    class UserOutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "OpsPayoutUserOutput"

        id = serializers.IntegerField()
        email = serializers.EmailField()

    class CampaignOutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "OpsPayoutCampaignOutput"

        id = serializers.IntegerField()
        name = serializers.CharField()

    id = serializers.IntegerField()
    user = UserOutputSerializer()
    campaign = CampaignOutputSerializer()
    voucher = serializers.IntegerField(source="voucher_id", help_text="The triggered coverage voucher.")
    trigger_close_id = serializers.IntegerField(source="voucher.trigger_close_id")
    amount = MoneyOutField()
    state = serializers.CharField(help_text=STATE_HELP)
    triggered_at = serializers.DateTimeField()
    pay_by = serializers.SerializerMethodField(
        help_text="The end of the week it must be paid in (R-VC-07): the trigger + 7 days."
    )
    issued_at = serializers.DateTimeField(allow_null=True)
    claim_by = serializers.DateTimeField(allow_null=True)
    claimed_at = serializers.DateTimeField(allow_null=True)
    usable_until = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)
    held_at = serializers.DateTimeField(allow_null=True)
    reviewed_by = serializers.EmailField(source="reviewed_by.email", allow_null=True, default=None)
    review_reason = serializers.CharField(help_text="Why it was held, released or rejected; empty if never.")

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_pay_by(self, payout: Payout) -> str:
        return serializers.DateTimeField().to_representation(payout.triggered_at + PAYOUT_DEADLINE)


def ops_payouts() -> QuerySet[Payout]:
    return Payout.objects.select_related("user", "campaign", "voucher", "reviewed_by")


class OpsPayoutListApi(GenericAPIView):
    """Every payout, newest first; ``?state=held`` for those awaiting review. (R-VC-07, R-OP-01)"""

    serializer_class = OpsPayoutOutputSerializer
    permission_classes = [operator_with(VIEW_PAYOUT)]

    class FilterSerializer(serializers.Serializer):
        class Meta:
            ref_name = "OpsPayoutListFilter"

        state = serializers.ChoiceField(choices=PayoutState.choices, required=False)
        alert = serializers.BooleanField(required=False, default=False)

    @extend_schema(
        operation_id="ops_payouts_list",
        summary="List voucher payouts for review",
        description=(
            "Every payout (experience voucher) of every campaign, newest first and cursor-paginated, with "
            "its user, campaign, triggering close, amount, state, deadlines and its review (who held, "
            "released or rejected it, and why). `?state=held` lists those awaiting review; `?alert=true` "
            "only the held ones passing their seventh day after the trigger within a day, which operators "
            "are alerted of (R-VC-07). Operators holding `vouchers.view_payout` only; read-only. "
            "(R-VC-07, R-OP-01)"
        ),
        tags=TAGS,
        parameters=[
            OpenApiParameter(
                "state", str, OpenApiParameter.QUERY, enum=PayoutState.values, description="Only this state."
            ),
            OpenApiParameter(
                "alert",
                bool,
                OpenApiParameter.QUERY,
                description="Only held payouts passing their seventh day within a day (or already past it).",
            ),
        ],
        responses={
            200: OpsPayoutOutputSerializer(many=True),
            400: ErrorSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
        },
    )
    def get(self, request):
        query = self.FilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        payouts = ops_payouts()
        if "state" in query.validated_data:
            payouts = payouts.filter(state=query.validated_data["state"])
        if query.validated_data["alert"]:
            payouts = payouts.filter(state=PayoutState.HELD, triggered_at__lte=timezone.now() - HELD_ALERT_AT)
        page = self.paginate_queryset(payouts)
        return self.get_paginated_response(OpsPayoutOutputSerializer(page, many=True).data)


class _ReviewInputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "OpsPayoutReviewInput"

    reason = serializers.CharField(max_length=500, help_text="Why: recorded on the payout with your name.")


REVIEW_ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer}


class _OpsPayoutReviewApi(APIView):
    """Shared by hold, release and reject: a reason is required and recorded with the operator."""

    permission_classes = [operator_with(REVIEW_PAYOUT)]
    review = None

    def _checked(self, request, payout_id: int) -> tuple[Payout, str]:
        payout = get_object_or_404(Payout, pk=payout_id)
        data = _ReviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return payout, data.validated_data["reason"]

    def _review(self, request, payout: Payout, reason: str) -> Response:
        type(self).review(payout=payout, actor=request.user, reason=reason)
        return Response(OpsPayoutOutputSerializer(ops_payouts().get(pk=payout.pk)).data)

    def post(self, request, payout_id: int):
        return self._review(request, *self._checked(request, payout_id))


class OpsPayoutHoldApi(_OpsPayoutReviewApi):
    """Hold a pending payout for review: the daily run leaves it until it is released or rejected."""

    review = staticmethod(payout_hold)

    @extend_schema(
        operation_id="ops_payouts_hold",
        summary="Hold a voucher payout for review",
        description=(
            "A pending payout is held: the daily run does not issue it until an operator releases or rejects "
            "it, and operators are alerted a day before it passes its seventh day after the trigger. A reason "
            "is required and recorded on the payout with the operator. Holding moves no money (the amount "
            "stays reserved), so no Idempotency-Key is needed; a payout that is not pending answers 409. "
            "Operators holding `vouchers.review_payout` only. (R-VC-07, R-OP-01)"
        ),
        tags=TAGS,
        parameters=[OPS_PAYOUT_PATH],
        request=_ReviewInputSerializer,
        responses={200: OpsPayoutOutputSerializer, **REVIEW_ERRORS, 409: ErrorSerializer},
    )
    def post(self, request, payout_id: int):
        return self._review(request, *self._checked(request, payout_id))


class OpsPayoutReleaseApi(_OpsPayoutReviewApi):
    """A reviewed payout is fine: it is issued now."""

    review = staticmethod(payout_release)

    @extend_schema(
        operation_id="ops_payouts_release",
        summary="Release a held voucher payout",
        description=(
            "A held payout is issued now into the user's voucher center, claimable in the app for the "
            "campaign's claim days. A reason is required and recorded on the payout with the operator. "
            "Releasing moves no money (the amount stays reserved until spent), so no Idempotency-Key is "
            "needed; a payout that is not held answers 409. Operators holding `vouchers.review_payout` "
            "only. (R-VC-07, R-OP-01)"
        ),
        tags=TAGS,
        parameters=[OPS_PAYOUT_PATH],
        request=_ReviewInputSerializer,
        responses={200: OpsPayoutOutputSerializer, **REVIEW_ERRORS, 409: ErrorSerializer},
    )
    def post(self, request, payout_id: int):
        return self._review(request, *self._checked(request, payout_id))


class OpsPayoutRejectApi(MoneyMovingApi, _OpsPayoutReviewApi):
    """A reviewed payout is refused: its reserved amount returns to the campaign's available budget."""

    review = staticmethod(payout_reject)

    @extend_schema(
        operation_id="ops_payouts_reject",
        summary="Reject a held voucher payout",
        description=(
            "A held payout is rejected: the user never gets it, and its reserved amount returns to the "
            "campaign's available budget in one ledger entry (R-VC-09). A reason is required and recorded "
            "on the payout with the operator; a payout that is not held answers 409. Operators holding "
            "`vouchers.review_payout` only. Needs an `Idempotency-Key` header: a replay with the same body "
            "returns the first response. (R-VC-07, R-VC-09, R-OP-01)"
        ),
        tags=TAGS,
        parameters=[OPS_PAYOUT_PATH, IDEMPOTENCY_HEADER],
        request=_ReviewInputSerializer,
        responses={200: OpsPayoutOutputSerializer, 403: ErrorSerializer, 404: ErrorSerializer, **MONEY_ERRORS},
    )
    def post(self, request, payout_id: int):
        payout, reason = self._checked(request, payout_id)
        return idempotent(request, "ops-payout-rejects", lambda: self._review(request, payout, reason))
