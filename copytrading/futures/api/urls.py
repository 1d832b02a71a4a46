from django.urls import path

from copytrading.futures.api import markets, ops_markets, orders, positions

urlpatterns = [
    path("markets", markets.MarketListApi.as_view(), name="api-markets"),
    path("markets/<str:symbol>/prices", markets.MarketPriceListApi.as_view(), name="api-market-prices"),
    path("markets/<str:symbol>/settings", markets.MarketSettingApi.as_view(), name="api-market-settings"),
    path("ops/prices", markets.OpsMarkPriceCreateApi.as_view(), name="api-ops-prices"),
    path("ops/markets", ops_markets.OpsMarketListCreateApi.as_view(), name="api-ops-markets"),
    path("ops/markets/<str:symbol>", ops_markets.OpsMarketApi.as_view(), name="api-ops-market"),
    path("orders", orders.OrderListCreateApi.as_view(), name="api-orders"),
    path("positions", positions.PositionListApi.as_view(), name="api-positions"),
    path("positions/<int:position_id>/close", positions.PositionCloseApi.as_view(), name="api-position-close"),
    path("positions/<int:position_id>/margin", positions.PositionMarginApi.as_view(), name="api-position-margin"),
    path("positions/<int:position_id>/tpsl", positions.PositionTpslApi.as_view(), name="api-position-tpsl"),
]
