"""Lead traders over the API: applying, the operators' decisions, and the public list of traders. (R-CT-01, R-CT-22)

Followings are in ``followings``. Operators' approve and suspend are state
transitions that are idempotent by themselves (deciding twice changes nothing),
so they take no Idempotency-Key.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import pagination, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import operator_with
from config.api import ErrorSerializer
from copytrading.api.serializers import (
    DecimalInputField,
    LeadTraderOutputSerializer,
    OpsLeadTraderOutputSerializer,
    TraderDetailOutputSerializer,
    TraderOutputSerializer,
)
from copytrading.metrics import FLAGS
from copytrading.models import CopySettings, LeadTrader, TraderStats
from copytrading.selectors.traders import TRADER_SORTS, lead_trader_of, trader_get, trader_list, trader_slots
from copytrading.services.leads import lead_trader_apply, lead_trader_approve, lead_trader_suspend

REVIEW_LEAD_TRADER = "copytrading.review_lead_trader"
LEAD_PATH = OpenApiParameter("lead_id", int, OpenApiParameter.PATH, description="A lead trader's id.")
FORM_ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 409: ErrorSerializer, 422: ErrorSerializer}


class LeadTraderApplyApi(APIView):
    """Apply to become a lead trader; operators approve. A user who follows others must stop first. (R-CT-23)"""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "LeadTraderApplyInput"

        nickname = serializers.CharField(max_length=40, help_text="3 to 40 characters, unique.")
        bio = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
        profit_share_ratio = DecimalInputField(help_text="Share of followers' net profit, 0 to the platform maximum.")
        min_following_amount = DecimalInputField(
            required=False, help_text="A follower's first transfer is at least this (and the platform's 50 USDT)."
        )
        max_followers = serializers.IntegerField(
            required=False, allow_null=True, min_value=1, help_text="Your own limit on followers."
        )

    @extend_schema(
        operation_id="lead_traders_create",
        summary="Apply to become a lead trader",
        description=(
            "Records your application with a nickname, bio, profit-share ratio, minimum following amount "
            "and an optional limit on followers; operators approve it before anyone can follow you. Any "
            "signed-in user who follows nobody: a follower must stop following first. (R-CT-01, R-CT-23)"
        ),
        request=InputSerializer,
        responses={201: LeadTraderOutputSerializer, **FORM_ERRORS},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        lead = lead_trader_apply(user=request.user, **data.validated_data)
        return Response(LeadTraderOutputSerializer(lead).data, status=status.HTTP_201_CREATED)


class LeadTraderMeApi(APIView):
    """Your lead-trader application or profile, with the operators' last decision."""

    @extend_schema(
        operation_id="lead_traders_me",
        summary="Show your lead-trader profile",
        description=(
            "Your lead-trader application or profile, with its status and the operators' last decision; "
            "404 if you have not applied. Any signed-in user; read-only."
        ),
        responses={200: LeadTraderOutputSerializer, 401: ErrorSerializer, 404: ErrorSerializer},
    )
    def get(self, request):
        lead = lead_trader_of(user=request.user)
        if lead is None:
            raise NotFound("you have not applied to lead")
        return Response(LeadTraderOutputSerializer(lead).data)


class _OpsLeadDecisionApi(APIView):
    """Shared by approve and suspend: a reason is required and recorded with the operator."""

    permission_classes = [operator_with(REVIEW_LEAD_TRADER)]
    decide = None

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "OpsLeadTraderDecisionInput"

        reason = serializers.CharField(max_length=500, help_text="Recorded with the decision.")

    def post(self, request, lead_id: int):
        lead = get_object_or_404(LeadTrader, pk=lead_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decided = type(self).decide(lead_id=lead.pk, operator=request.user, reason=data.validated_data["reason"])
        return Response(OpsLeadTraderOutputSerializer(decided).data)


_DECISION_SCHEMA = {
    "parameters": [LEAD_PATH],
    "request": _OpsLeadDecisionApi.InputSerializer,
    "responses": {
        200: OpsLeadTraderOutputSerializer,
        403: ErrorSerializer,
        404: ErrorSerializer,
        **FORM_ERRORS,
    },
}


class OpsLeadTraderApproveApi(_OpsLeadDecisionApi):
    """Approve an application, or reinstate a suspended lead trader. Approving twice changes nothing."""

    decide = staticmethod(lead_trader_approve)

    @extend_schema(
        operation_id="ops_lead_traders_approve",
        summary="Approve or reinstate a lead trader",
        description=(
            "Approves a pending application, or reinstates a suspended lead trader, so followers can "
            "follow it and its fills are copied. A reason is required and recorded with the operator; "
            "approving twice changes nothing, so no Idempotency-Key is needed. Operators holding "
            "`copytrading.review_lead_trader` only. (R-CT-01)"
        ),
        **_DECISION_SCHEMA,
    )
    def post(self, request, lead_id: int):
        return super().post(request, lead_id)


class OpsLeadTraderSuspendApi(_OpsLeadDecisionApi):
    """Suspend an approved lead trader: no new followers, no new copies. Suspending twice changes nothing."""

    decide = staticmethod(lead_trader_suspend)

    @extend_schema(
        operation_id="ops_lead_traders_suspend",
        summary="Suspend a lead trader",
        description=(
            "Suspends an approved lead trader: no new followers, and its fills are not copied until it is "
            "reinstated. A reason is required and recorded with the operator; suspending twice changes "
            "nothing, so no Idempotency-Key is needed. Operators holding `copytrading.review_lead_trader` "
            "only. (R-CT-01)"
        ),
        **_DECISION_SCHEMA,
    )
    def post(self, request, lead_id: int):
        return super().post(request, lead_id)


# --- the public list of traders ----------------------------------------------------


class TraderPagination(pagination.PageNumberPagination):
    """Pages, not cursors: the list sorts by a count that changes."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class TraderListApi(GenericAPIView):
    """Approved lead traders (public): filter by followers count or nickname, sort by followers or newest."""

    permission_classes = [AllowAny]
    serializer_class = TraderOutputSerializer
    pagination_class = TraderPagination

    class FilterSerializer(serializers.Serializer):
        class Meta:
            ref_name = "TraderListFilter"

        min_followers = serializers.IntegerField(required=False, min_value=0, help_text="At least this many.")
        search = serializers.CharField(required=False, max_length=40, help_text="Part of the nickname.")
        sort = serializers.ChoiceField(
            choices=list(TRADER_SORTS),
            default="followers",
            help_text="followers, newest, or from the statistics: roi_30, followers_pnl, aum (most first), "
            "max_drawdown (least first).",
        )
        min_trading_days = serializers.IntegerField(required=False, min_value=0)
        max_drawdown = serializers.DecimalField(
            required=False, max_digits=9, decimal_places=6, min_value=0, help_text="A fraction: 0.3 = 30 %."
        )
        exclude_flags = serializers.MultipleChoiceField(choices=sorted(FLAGS), required=False)

    def get_queryset(self):
        return trader_list()

    @extend_schema(
        operation_id="traders_list",
        summary="List the lead traders",
        description=(
            "Approved lead traders with their profile and followers count, page by page: filter by "
            "followers count, nickname, trading days, drawdown or risk flags; sort by followers, newest, "
            "or a statistic. Public: no login needed."
        ),
        parameters=[FilterSerializer],
        responses={200: TraderOutputSerializer(many=True), 400: ErrorSerializer},
    )
    def get(self, request):
        params = {**request.query_params.dict(), "exclude_flags": request.query_params.getlist("exclude_flags")}
        query = self.FilterSerializer(data=params)
        query.is_valid(raise_exception=True)
        values = {**query.validated_data, "exclude_flags": sorted(query.validated_data.get("exclude_flags") or [])}
        page = self.paginate_queryset(trader_list(**values))
        return self.get_paginated_response(TraderOutputSerializer(page, many=True).data)


class TraderDetailApi(APIView):
    """One approved lead trader (public), with its follower slots and the minimum first transfer. (R-CT-22)"""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="traders_retrieve",
        summary="Show a lead trader",
        description=(
            "One approved lead trader with its profile, follower slots and free slots, and the minimum "
            "first transfer to follow it; anyone not approved answers 404. Public: no login needed. "
            "(R-CT-22)"
        ),
        parameters=[LEAD_PATH],
        responses={200: TraderDetailOutputSerializer, 404: ErrorSerializer},
    )
    def get(self, request, lead_id: int):
        lead = trader_get(lead_id=lead_id)
        if lead is None:
            raise NotFound(f"no lead trader {lead_id}")
        lead.follower_slots, lead.free_slots = trader_slots(lead)
        lead.min_first_transfer = max(CopySettings.current().min_following_amount, lead.min_following_amount)
        lead.stats_row = TraderStats.objects.filter(lead=lead).first()
        return Response(TraderDetailOutputSerializer(lead).data)
