"""Followings over the API: start, read, change settings, add and withdraw funds, stop, decisions and records.

Every following is its follower's own: anyone else's answers 404. Every POST
that moves money takes an Idempotency-Key. A refused request changes nothing.
(R-CT-02 … R-CT-06, R-CT-14, R-CT-16, R-CT-17, R-CT-23)
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.fields import AmountField
from accounts.api.records import RecordFilterSerializer, RecordOutputSerializer
from accounts.api.views import IDEMPOTENCY_HEADER, MONEY_ERRORS
from accounts.idempotency import MoneyMovingApi, idempotent
from accounts.models import AccountKind
from config.api import ErrorSerializer
from config.errors import InvalidInput
from copytrading.api.serializers import (
    DecisionOutputSerializer,
    FollowingDetailOutputSerializer,
    FollowingOutputSerializer,
    FollowingWithdrawalOutputSerializer,
    FollowSettingsInputSerializer,
    settings_errors,
)
from copytrading.follow_settings import settings_validate
from copytrading.futures.api.common import NOT_FOUND, idempotency_key_of
from copytrading.models import Following, FollowMode, NotFollowedReason, StopMethod
from copytrading.selectors.followings import (
    following_decisions,
    following_funds,
    following_get,
    following_list,
    following_positions,
    following_records,
    following_share,
)
from copytrading.selectors.traders import lead_trader_get
from copytrading.services.followings import (
    SOURCE_KINDS,
    following_add_funds,
    following_start,
    following_stop,
    following_update_settings,
    following_withdraw,
)

FOLLOWING_PATH = OpenApiParameter("following_id", int, OpenApiParameter.PATH, description="One of your followings.")
# Settings that decide, with each other, whether the stored combination is valid.
CROSS_FIELD_SETTINGS = ("leverage_mode", "fixed_leverage", "diverse_margin", "diverse_multiple")


def following_or_404(request, following_id: int) -> Following:
    following = following_get(user=request.user, following_id=following_id)
    if following is None:
        raise NotFound(f"no following {following_id} of yours")
    return following


def following_loaded(request, following_id: int) -> Following:
    """The following read fresh, with what ``FollowingDetailOutputSerializer`` shows beside its fields."""
    following = following_or_404(request, following_id)
    following.funds = following_funds(following=following)
    following.open_positions = list(following_positions(following=following))
    following.share = following_share(following=following)
    return following


def following_detail(request, following_id: int) -> dict:
    return FollowingDetailOutputSerializer(following_loaded(request, following_id)).data


class FollowingListCreateApi(MoneyMovingApi, GenericAPIView):
    """Your followings, newest first; or start following a lead trader. (R-CT-02, R-CT-03, R-CT-23)

    Smart Ratio opens a sub-account for this lead; Diverse Exploration uses your
    one shared pool. The first transfer is at least 50 USDT and the lead's minimum.
    """

    serializer_class = FollowingOutputSerializer

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "FollowingCreateInput"

        lead = serializers.IntegerField(min_value=1, help_text="The lead trader's id.")
        mode = serializers.ChoiceField(choices=FollowMode.choices)
        amount = AmountField(help_text="First transfer: at least 50 USDT and the lead's minimum following amount.")
        source = serializers.ChoiceField(choices=SOURCE_KINDS, default=AccountKind.SPOT)
        settings = FollowSettingsInputSerializer(required=False)

        def validate_lead(self, value):
            lead = lead_trader_get(lead_id=value)
            if lead is None:
                raise serializers.ValidationError(f"no lead trader {value}")
            return lead

        def validate(self, attrs):
            try:
                settings_validate(attrs.get("settings", {}), mode=attrs["mode"])
            except InvalidInput as exc:
                raise settings_errors(exc) from None
            return attrs

    def get_queryset(self):
        return following_list(user=self.request.user)

    @extend_schema(
        operation_id="followings_list",
        summary="List your followings",
        description=(
            "Your followings, live and stopped, newest first and cursor-paginated, each with its lead "
            "trader, mode and status. Any signed-in user; read-only."
        ),
        responses={200: FollowingOutputSerializer(many=True), 401: ErrorSerializer},
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(FollowingOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="followings_create",
        summary="Start following a lead trader",
        description=(
            "Smart Ratio opens a sub-account for this lead; Diverse Exploration uses your one shared "
            "pool. The first transfer, from your spot or futures account, is at least 50 USDT and the "
            "lead's minimum following amount; settings may ask to replicate the lead's open positions. A "
            "lead trader cannot follow, and no one follows themselves. Any signed-in user. Needs an "
            "`Idempotency-Key` header: a replay with the same body returns the first response. (R-CT-02, "
            "R-CT-03, R-CT-23)"
        ),
        parameters=[IDEMPOTENCY_HEADER],
        request=InputSerializer,
        responses={201: FollowingDetailOutputSerializer, **MONEY_ERRORS},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data

        def execute():
            following = following_start(
                follower=request.user,
                lead=values["lead"],
                mode=values["mode"],
                amount=values["amount"],
                source=values["source"],
                settings=values.get("settings", {}),
                idempotency_key=idempotency_key_of(request),
            )
            return Response(following_detail(request, following.pk), status=status.HTTP_201_CREATED)

        return idempotent(request, "followings", execute)


class FollowingDetailApi(APIView):
    """One of your followings: its money, open copy positions, settings and status; or change its settings.

    A settings change applies to copy opens made after it; open copies keep theirs. (R-CT-05)
    """

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "FollowingUpdateInput"

        settings = FollowSettingsInputSerializer(help_text="Only the settings to change.")

        def validate_settings(self, value):
            if not value:
                raise serializers.ValidationError("give at least one setting to change")
            following = self.context["following"]
            current = {name: getattr(following, name) for name in CROSS_FIELD_SETTINGS}
            try:
                settings_validate(value, mode=following.mode, current=current)
            except InvalidInput as exc:
                raise serializers.ValidationError(exc.fields or [exc.detail]) from None
            return value

    @extend_schema(
        operation_id="followings_retrieve",
        summary="Show one of your followings",
        description=(
            "The following's money, open copy positions, settings, profit share and status. Your own "
            "followings only: anyone else's answers 404. Read-only."
        ),
        parameters=[FOLLOWING_PATH],
        responses={200: FollowingDetailOutputSerializer, 401: ErrorSerializer, **NOT_FOUND},
    )
    def get(self, request, following_id: int):
        return Response(following_detail(request, following_id))

    @extend_schema(
        operation_id="followings_update",
        summary="Change a following's settings",
        description=(
            "Changes only the settings given; a change applies to copy opens made after it and open "
            "copies keep theirs. A stopped following cannot change. Your own followings only: anyone "
            "else's answers 404. (R-CT-05)"
        ),
        parameters=[FOLLOWING_PATH],
        request=InputSerializer,
        responses={200: FollowingDetailOutputSerializer, **NOT_FOUND, **MONEY_ERRORS},
    )
    def patch(self, request, following_id: int):
        following = following_or_404(request, following_id)
        data = self.InputSerializer(data=request.data, context={"following": following})
        data.is_valid(raise_exception=True)
        following_update_settings(following=following, changes=data.validated_data["settings"])
        return Response(following_detail(request, following_id))


class FollowingFundsApi(MoneyMovingApi, APIView):
    """Add funds to the following's sub-account; a following interrupted below its minimum resumes.

    (R-CT-03, R-CT-04)
    """

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "FollowingFundsInput"

        amount = AmountField()
        source = serializers.ChoiceField(choices=SOURCE_KINDS, default=AccountKind.SPOT)

    @extend_schema(
        operation_id="followings_funds",
        summary="Add funds to a following",
        description=(
            "Moves money from your spot or futures account into the following's sub-account; a following "
            "interrupted below its minimum resumes. Active followings only, your own: anyone else's "
            "answers 404. Needs an `Idempotency-Key` header: a replay with the same body returns the "
            "first response. (R-CT-03, R-CT-04)"
        ),
        parameters=[FOLLOWING_PATH, IDEMPOTENCY_HEADER],
        request=InputSerializer,
        responses={200: FollowingDetailOutputSerializer, **NOT_FOUND, **MONEY_ERRORS},
    )
    def post(self, request, following_id: int):
        following = following_or_404(request, following_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)

        def execute():
            following_add_funds(
                following=following,
                amount=data.validated_data["amount"],
                source=data.validated_data["source"],
                idempotency_key=idempotency_key_of(request),
            )
            return Response(following_detail(request, following_id))

        return idempotent(request, "followings-funds", execute)


class FollowingWithdrawalApi(MoneyMovingApi, APIView):
    """Withdraw from the following's sub-account to your spot account; the margin of open copies stays. (R-CT-03)"""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "FollowingWithdrawalInput"

        amount = AmountField()
        confirm = serializers.BooleanField(
            default=True, help_text="false: preview what would be frozen and paid out, change nothing."
        )

    @extend_schema(
        operation_id="followings_withdrawals",
        summary="Withdraw from a following",
        description=(
            "Moves money from the following's sub-account to your spot account; the margin of open copies "
            "stays. When the pending profit share is above 30 % of what would remain it is frozen first, "
            "so the payout can be less than asked: `confirm: false` previews what would be frozen and "
            "paid out and changes nothing (200), a confirmed withdrawal answers 201. Your own followings "
            "only: anyone else's answers 404. Needs an `Idempotency-Key` header, previews included. "
            "(R-CT-03, R-PS-03, R-PS-04)"
        ),
        parameters=[FOLLOWING_PATH, IDEMPOTENCY_HEADER],
        request=InputSerializer,
        responses={
            200: FollowingWithdrawalOutputSerializer,
            201: FollowingWithdrawalOutputSerializer,
            **NOT_FOUND,
            **MONEY_ERRORS,
        },
    )
    def post(self, request, following_id: int):
        following = following_or_404(request, following_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)

        def run(confirm: bool):
            outcome = following_withdraw(
                following=following,
                amount=data.validated_data["amount"],
                idempotency_key=idempotency_key_of(request),
                confirm=confirm,
            )
            plan, entry = outcome.plan, outcome.entry
            body = {
                "confirmed": entry is not None,
                "entry_id": entry.pk if entry else None,
                "requested": plan.requested,
                "amount": plan.payout,
                "frozen_now": plan.freeze,
                "loan": plan.loan,
                "frozen_total": plan.frozen_after,
                "pending_share": plan.pending,
                "liquidation_prices": {str(k): v for k, v in outcome.liquidation_prices.items()},
                "created_at": entry.created_at if entry else None,
                "following": following_loaded(request, following_id),
            }
            code = status.HTTP_201_CREATED if entry else status.HTTP_200_OK
            return Response(FollowingWithdrawalOutputSerializer(body).data, status=code)

        if not data.validated_data["confirm"]:
            return run(False)  # a preview changes nothing: no idempotency record either

        def execute():
            return run(True)

        return idempotent(request, "followings-withdrawals", execute)


class FollowingStopApi(MoneyMovingApi, APIView):
    """Stop following: ``market`` closes every copy now; ``follow_close`` lets the lead's closes finish it.

    Either way, once no copy is left the rest returns to your spot account, once. (R-CT-16, R-CT-17)
    """

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "FollowingStopInput"

        method = serializers.ChoiceField(choices=StopMethod.choices)

    @extend_schema(
        operation_id="followings_stop",
        summary="Stop following a lead trader",
        description=(
            "`market` closes every copy now; `follow_close` follows no new opens and lets the lead's "
            "closes finish the copies. Either way, once no copy is left the profit share is settled and "
            "the rest returns to your spot account, once; stopping twice changes nothing. Your own "
            "followings only: anyone else's answers 404. Needs an `Idempotency-Key` header: a replay with "
            "the same body returns the first response. (R-CT-16, R-CT-17)"
        ),
        parameters=[FOLLOWING_PATH, IDEMPOTENCY_HEADER],
        request=InputSerializer,
        responses={200: FollowingDetailOutputSerializer, **NOT_FOUND, **MONEY_ERRORS},
    )
    def post(self, request, following_id: int):
        following = following_or_404(request, following_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)

        def execute():
            following_stop(
                following=following,
                method=data.validated_data["method"],
                idempotency_key=idempotency_key_of(request),
            )
            return Response(following_detail(request, following_id))

        return idempotent(request, "followings-stop", execute)


class FollowingDecisionListApi(GenericAPIView):
    """What the copy engine decided for this following on each lead fill, newest first, with reasons. (R-CT-14)"""

    serializer_class = DecisionOutputSerializer

    class FilterSerializer(serializers.Serializer):
        class Meta:
            ref_name = "FollowingDecisionFilter"

        followed = serializers.BooleanField(
            required=False, allow_null=True, default=None, help_text="false: only the fills not followed."
        )
        reason = serializers.ChoiceField(choices=NotFollowedReason.choices, required=False)

    @extend_schema(
        operation_id="followings_decisions_list",
        summary="List the copy decisions of a following",
        description=(
            "What the copy engine decided for this following on each lead fill, newest first and "
            "cursor-paginated: followed with quantity and price, or not followed with the reason; filter "
            "by followed and by reason. Your own followings only: anyone else's answers 404. Read-only. "
            "(R-CT-14)"
        ),
        parameters=[FOLLOWING_PATH, FilterSerializer],
        responses={200: DecisionOutputSerializer(many=True), 400: ErrorSerializer, 401: ErrorSerializer, **NOT_FOUND},
    )
    def get(self, request, following_id: int):
        following = following_or_404(request, following_id)
        query = self.FilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        decisions = following_decisions(following=following, **query.validated_data)
        page = self.paginate_queryset(decisions)
        return self.get_paginated_response(DecisionOutputSerializer(page, many=True).data)


class FollowingRecordListApi(GenericAPIView):
    """Every ledger movement of the following's sub-account, newest first (Diverse: of the shared pool)."""

    serializer_class = RecordOutputSerializer

    @extend_schema(
        operation_id="followings_records_list",
        summary="List the movements of a following's money",
        description=(
            "Every ledger movement of the following's sub-account (Diverse Exploration: of the shared "
            "pool), newest first and cursor-paginated; filter by entry kind and by time. Your own "
            "followings only: anyone else's answers 404. Read-only."
        ),
        parameters=[FOLLOWING_PATH, RecordFilterSerializer],
        responses={200: RecordOutputSerializer(many=True), 400: ErrorSerializer, 401: ErrorSerializer, **NOT_FOUND},
    )
    def get(self, request, following_id: int):
        following = following_or_404(request, following_id)
        query = RecordFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = self.paginate_queryset(following_records(following=following, **query.validated_data))
        return self.get_paginated_response(RecordOutputSerializer(page, many=True).data)
