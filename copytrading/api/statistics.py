"""Statistics over the API: the leaderboard, a trader's stats and flags, equity curves. (R-CT-18 … R-CT-20, R-CT-24)

Every figure is read from the rows the daily statistics run stores; nothing here aggregates history.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import ErrorSerializer
from copytrading.api.followings import following_or_404
from copytrading.api.serializers import (
    STAT,
    EquityPointSerializer,
    FollowingStatsOutputSerializer,
    TraderStatsOutputSerializer,
)
from copytrading.api.traders import TraderPagination
from copytrading.metrics import FLAGS
from copytrading.selectors.statistics import (
    TRADER_STATS_SORTS,
    following_equity_curve,
    following_stats_get,
    lead_income,
    trader_equity_curve,
    trader_stats_get,
    trader_stats_list,
)
from copytrading.selectors.traders import lead_trader_of, trader_get

LEAD_PATH = OpenApiParameter("lead_id", int, OpenApiParameter.PATH, description="The lead trader's id.")
FOLLOWING_PATH = OpenApiParameter("following_id", int, OpenApiParameter.PATH, description="One of your followings.")


class CurveFilterSerializer(serializers.Serializer):
    class Meta:
        ref_name = "EquityCurveFilter"

    days = serializers.IntegerField(required=False, min_value=1, max_value=3650, help_text="The last N days.")


class LeaderboardApi(GenericAPIView):
    """Lead traders by their statistics (public): sort and filter, flags excluded on request."""

    permission_classes = [AllowAny]
    pagination_class = TraderPagination
    serializer_class = TraderStatsOutputSerializer

    class FilterSerializer(serializers.Serializer):
        class Meta:
            ref_name = "LeaderboardFilter"

        sort = serializers.ChoiceField(choices=list(TRADER_STATS_SORTS), default="roi_30")
        min_trading_days = serializers.IntegerField(required=False, min_value=0)
        max_drawdown = serializers.DecimalField(required=False, max_digits=9, decimal_places=6, min_value=0)
        exclude_flags = serializers.MultipleChoiceField(choices=sorted(FLAGS), required=False)

    @extend_schema(
        operation_id="traders_leaderboard",
        summary="Rank the lead traders by their statistics",
        description=(
            "Lead traders' statistics, page by page, sorted by 30-day ROI or another statistic, filtered "
            "by trading days and drawdown, with flagged traders excluded on request; figures come from "
            "the daily statistics run. Public: no login needed. (R-CT-18, R-CT-19, R-CT-24)"
        ),
        parameters=[FilterSerializer],
        responses={200: TraderStatsOutputSerializer(many=True), 400: ErrorSerializer},
    )
    def get(self, request):
        query = self.FilterSerializer(
            data={**request.query_params.dict(), "exclude_flags": request.query_params.getlist("exclude_flags")}
        )
        query.is_valid(raise_exception=True)
        values = dict(query.validated_data)
        values["exclude_flags"] = sorted(values.get("exclude_flags") or [])
        page = self.paginate_queryset(trader_stats_list(**values))
        return self.get_paginated_response(TraderStatsOutputSerializer(page, many=True).data)


class TraderStatsApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="traders_stats",
        summary="Show a lead trader's statistics",
        description=(
            "ROI over 7, 30 and 90 days and all time, PnL, win rate, maximum drawdown, trading days, "
            "followers' PnL, assets under copy, risk flags and copy quality, as the daily statistics run "
            "stored them; 404 before its first run. Public: no login needed. (R-CT-18, R-CT-19, R-CT-24)"
        ),
        parameters=[LEAD_PATH],
        responses={200: TraderStatsOutputSerializer, 404: ErrorSerializer},
    )
    def get(self, request, lead_id: int):
        lead = trader_get(lead_id=lead_id)
        stats = trader_stats_get(lead=lead) if lead else None
        if stats is None:
            raise NotFound(f"no statistics for lead trader {lead_id} yet")
        return Response(TraderStatsOutputSerializer(stats).data)


class TraderEquityApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="traders_equity",
        summary="Show a lead trader's equity curve",
        description=(
            "The lead trader's daily equity, oldest first; `days` keeps only the last N days. Public: no "
            "login needed. (R-CT-18)"
        ),
        parameters=[LEAD_PATH, CurveFilterSerializer],
        responses={200: EquityPointSerializer(many=True), 404: ErrorSerializer},
    )
    def get(self, request, lead_id: int):
        lead = trader_get(lead_id=lead_id)
        if lead is None:
            raise NotFound(f"no lead trader {lead_id}")
        query = CurveFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        curve = trader_equity_curve(lead=lead, days=query.validated_data.get("days"))
        return Response(EquityPointSerializer(curve, many=True).data)


class FollowingStatsApi(APIView):
    @extend_schema(
        operation_id="followings_stats",
        summary="Show a following's statistics",
        description=(
            "The following's PnL, ROI, win rate, open positions, fees paid and profit share paid and "
            "pending, as the daily statistics run stored them; 404 before its first run. Your own "
            "followings only: anyone else's answers 404. Read-only. (R-CT-20)"
        ),
        parameters=[FOLLOWING_PATH],
        responses={200: FollowingStatsOutputSerializer, 401: ErrorSerializer, 404: ErrorSerializer},
    )
    def get(self, request, following_id: int):
        following = following_or_404(request, following_id)
        stats = following_stats_get(following=following)
        if stats is None:
            raise NotFound(f"no statistics for following {following_id} yet")
        return Response(FollowingStatsOutputSerializer(stats).data)


class FollowingEquityApi(APIView):
    @extend_schema(
        operation_id="followings_equity",
        summary="Show a following's equity curve",
        description=(
            "The following's daily equity, oldest first; `days` keeps only the last N days. Your own "
            "followings only: anyone else's answers 404. Read-only."
        ),
        parameters=[FOLLOWING_PATH, CurveFilterSerializer],
        responses={200: EquityPointSerializer(many=True), 401: ErrorSerializer, 404: ErrorSerializer},
    )
    def get(self, request, following_id: int):
        following = following_or_404(request, following_id)
        query = CurveFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        curve = following_equity_curve(following=following, days=query.validated_data.get("days"))
        return Response(EquityPointSerializer(curve, many=True).data)


class IncomeDaySerializer(serializers.Serializer):
    class Meta:
        ref_name = "LeadIncomeDay"

    day = serializers.DateField()
    amount = serializers.DecimalField(**STAT)


class IncomeFollowerSerializer(serializers.Serializer):
    class Meta:
        ref_name = "LeadIncomeFollower"

    following_id = serializers.IntegerField()
    amount = serializers.DecimalField(**STAT)


class LeadIncomeSerializer(serializers.Serializer):
    class Meta:
        ref_name = "LeadIncome"

    total = serializers.DecimalField(**STAT)
    per_day = IncomeDaySerializer(many=True)
    per_follower = IncomeFollowerSerializer(many=True)


class LeadIncomeApi(APIView):
    """Your profit-share income as a lead trader, per day and per follower. (R-PS-02)"""

    @extend_schema(
        operation_id="lead_traders_me_income",
        summary="Show your profit-share income",
        description=(
            "Your profit-share income as a lead trader in total, per platform day and per follower: the "
            "daily settlement's payments and those made when a following stopped. Any signed-in user who "
            "applied to lead (anyone else gets 404); read-only. (R-PS-02)"
        ),
        responses={200: LeadIncomeSerializer, 401: ErrorSerializer, 404: ErrorSerializer},
    )
    def get(self, request):
        lead = lead_trader_of(user=request.user)
        if lead is None:
            raise NotFound("you are not a lead trader")
        return Response(LeadIncomeSerializer(lead_income(lead=lead)).data)
