from django.urls import path

from copytrading.api import followings, statistics, traders

urlpatterns = [
    # Copy trading: lead traders, the public list of traders, followings.
    path("lead-traders", traders.LeadTraderApplyApi.as_view(), name="api-lead-traders"),
    path("lead-traders/me", traders.LeadTraderMeApi.as_view(), name="api-lead-trader-me"),
    path("lead-traders/me/income", statistics.LeadIncomeApi.as_view(), name="api-lead-trader-income"),
    path(
        "ops/lead-traders/<int:lead_id>/approve",
        traders.OpsLeadTraderApproveApi.as_view(),
        name="api-ops-lead-trader-approve",
    ),
    path(
        "ops/lead-traders/<int:lead_id>/suspend",
        traders.OpsLeadTraderSuspendApi.as_view(),
        name="api-ops-lead-trader-suspend",
    ),
    path("traders", traders.TraderListApi.as_view(), name="api-traders"),
    path("traders/leaderboard", statistics.LeaderboardApi.as_view(), name="api-traders-leaderboard"),
    path("traders/<int:lead_id>/stats", statistics.TraderStatsApi.as_view(), name="api-trader-stats"),
    path("traders/<int:lead_id>/equity", statistics.TraderEquityApi.as_view(), name="api-trader-equity"),
    path("followings/<int:following_id>/stats", statistics.FollowingStatsApi.as_view(), name="api-following-stats"),
    path("followings/<int:following_id>/equity", statistics.FollowingEquityApi.as_view(), name="api-following-equity"),
    path("traders/<int:lead_id>", traders.TraderDetailApi.as_view(), name="api-trader"),
    path("followings", followings.FollowingListCreateApi.as_view(), name="api-followings"),
    path("followings/<int:following_id>", followings.FollowingDetailApi.as_view(), name="api-following"),
    path(
        "followings/<int:following_id>/funds",
        followings.FollowingFundsApi.as_view(),
        name="api-following-funds",
    ),
    path(
        "followings/<int:following_id>/withdrawals",
        followings.FollowingWithdrawalApi.as_view(),
        name="api-following-withdrawals",
    ),
    path("followings/<int:following_id>/stop", followings.FollowingStopApi.as_view(), name="api-following-stop"),
    path(
        "followings/<int:following_id>/decisions",
        followings.FollowingDecisionListApi.as_view(),
        name="api-following-decisions",
    ),
    path(
        "followings/<int:following_id>/records",
        followings.FollowingRecordListApi.as_view(),
        name="api-following-records",
    ),
]
