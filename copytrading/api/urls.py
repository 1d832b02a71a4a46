from django.urls import path

from copytrading.api import copy_views, following_views, ops_markets, positions, stats_views, views

urlpatterns = [
    path("markets", views.MarketListApi.as_view(), name="api-markets"),
    path("markets/<str:symbol>/prices", views.MarketPriceListApi.as_view(), name="api-market-prices"),
    path("markets/<str:symbol>/settings", views.MarketSettingApi.as_view(), name="api-market-settings"),
    path("ops/prices", views.OpsMarkPriceCreateApi.as_view(), name="api-ops-prices"),
    path("ops/markets", ops_markets.OpsMarketListCreateApi.as_view(), name="api-ops-markets"),
    path("ops/markets/<str:symbol>", ops_markets.OpsMarketApi.as_view(), name="api-ops-market"),
    path("orders", views.OrderListCreateApi.as_view(), name="api-orders"),
    path("positions", positions.PositionListApi.as_view(), name="api-positions"),
    path("positions/<int:position_id>/close", positions.PositionCloseApi.as_view(), name="api-position-close"),
    path("positions/<int:position_id>/margin", positions.PositionMarginApi.as_view(), name="api-position-margin"),
    path("positions/<int:position_id>/tpsl", positions.PositionTpslApi.as_view(), name="api-position-tpsl"),
    # Copy trading: lead traders, the public list of traders, followings.
    path("lead-traders", copy_views.LeadTraderApplyApi.as_view(), name="api-lead-traders"),
    path("lead-traders/me", copy_views.LeadTraderMeApi.as_view(), name="api-lead-trader-me"),
    path("lead-traders/me/income", stats_views.LeadIncomeApi.as_view(), name="api-lead-trader-income"),
    path(
        "ops/lead-traders/<int:lead_id>/approve",
        copy_views.OpsLeadTraderApproveApi.as_view(),
        name="api-ops-lead-trader-approve",
    ),
    path(
        "ops/lead-traders/<int:lead_id>/suspend",
        copy_views.OpsLeadTraderSuspendApi.as_view(),
        name="api-ops-lead-trader-suspend",
    ),
    path("traders", copy_views.TraderListApi.as_view(), name="api-traders"),
    path("traders/leaderboard", stats_views.LeaderboardApi.as_view(), name="api-traders-leaderboard"),
    path("traders/<int:lead_id>/stats", stats_views.TraderStatsApi.as_view(), name="api-trader-stats"),
    path("traders/<int:lead_id>/equity", stats_views.TraderEquityApi.as_view(), name="api-trader-equity"),
    path("followings/<int:following_id>/stats", stats_views.FollowingStatsApi.as_view(), name="api-following-stats"),
    path("followings/<int:following_id>/equity", stats_views.FollowingEquityApi.as_view(), name="api-following-equity"),
    path("traders/<int:lead_id>", copy_views.TraderDetailApi.as_view(), name="api-trader"),
    path("followings", following_views.FollowingListCreateApi.as_view(), name="api-followings"),
    path("followings/<int:following_id>", following_views.FollowingDetailApi.as_view(), name="api-following"),
    path(
        "followings/<int:following_id>/funds",
        following_views.FollowingFundsApi.as_view(),
        name="api-following-funds",
    ),
    path(
        "followings/<int:following_id>/withdrawals",
        following_views.FollowingWithdrawalApi.as_view(),
        name="api-following-withdrawals",
    ),
    path("followings/<int:following_id>/stop", following_views.FollowingStopApi.as_view(), name="api-following-stop"),
    path(
        "followings/<int:following_id>/decisions",
        following_views.FollowingDecisionListApi.as_view(),
        name="api-following-decisions",
    ),
    path(
        "followings/<int:following_id>/records",
        following_views.FollowingRecordListApi.as_view(),
        name="api-following-records",
    ),
]
