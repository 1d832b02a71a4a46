from django.urls import path

from vouchers.api import campaigns, ops, vouchers

urlpatterns = [
    # The app: what the caller may claim, claiming (app-only, R-VC-02), and the voucher center (R-VC-08).
    path("vouchers/campaigns", campaigns.ClaimableCampaignListApi.as_view(), name="api-voucher-campaigns"),
    path("vouchers/claims", campaigns.VoucherClaimApi.as_view(), name="api-voucher-claims"),
    path("vouchers", vouchers.VoucherListApi.as_view(), name="api-vouchers"),
    path("vouchers/<int:voucher_id>", vouchers.VoucherDetailApi.as_view(), name="api-voucher"),
    # Operators: campaigns, their liability and changes, and Finance's fundings (R-VC-09, R-OP-01).
    path("ops/campaigns", ops.OpsCampaignListCreateApi.as_view(), name="api-ops-campaigns"),
    path("ops/campaigns/<int:campaign_id>", ops.OpsCampaignApi.as_view(), name="api-ops-campaign"),
    path(
        "ops/campaigns/<int:campaign_id>/publish",
        ops.OpsCampaignPublishApi.as_view(),
        name="api-ops-campaign-publish",
    ),
    path("ops/campaigns/<int:campaign_id>/pause", ops.OpsCampaignPauseApi.as_view(), name="api-ops-campaign-pause"),
    path("ops/campaigns/<int:campaign_id>/end", ops.OpsCampaignEndApi.as_view(), name="api-ops-campaign-end"),
    path(
        "ops/campaigns/<int:campaign_id>/fundings",
        ops.OpsCampaignFundingCreateApi.as_view(),
        name="api-ops-campaign-fundings",
    ),
]
