from django.urls import path

from vouchers.api import abuse, campaigns, loss_coverage, payouts, vouchers
from vouchers.api.ops import campaigns as ops_campaigns
from vouchers.api.ops import fundings as ops_fundings
from vouchers.api.ops import moves as ops_moves

urlpatterns = [
    # The app: what the caller may claim, claiming (app-only, R-VC-02), and the voucher center (R-VC-08).
    path("vouchers/campaigns", campaigns.ClaimableCampaignListApi.as_view(), name="api-voucher-campaigns"),
    path("vouchers/claims", campaigns.VoucherClaimApi.as_view(), name="api-voucher-claims"),
    path("vouchers", vouchers.VoucherListApi.as_view(), name="api-vouchers"),
    # Loss-coverage vouchers in the center, read-only: remaining amounts and compensations (R-LC-01, R-VC-08).
    path("vouchers/loss-coverage", loss_coverage.LossCoverageListApi.as_view(), name="api-voucher-loss-coverage"),
    # Payouts (experience vouchers): listed with both deadlines (R-VC-08), claimed in the app (R-VC-07).
    path("vouchers/payouts", payouts.PayoutListApi.as_view(), name="api-voucher-payouts"),
    path("vouchers/payouts/<int:payout_id>/claim", payouts.PayoutClaimApi.as_view(), name="api-voucher-payout-claim"),
    path("vouchers/<int:voucher_id>", vouchers.VoucherDetailApi.as_view(), name="api-voucher"),
    # Operators: campaigns, their liability and changes, and Finance's fundings (R-VC-09, R-OP-01).
    path("ops/campaigns", ops_campaigns.OpsCampaignListCreateApi.as_view(), name="api-ops-campaigns"),
    path("ops/campaigns/<int:campaign_id>", ops_campaigns.OpsCampaignApi.as_view(), name="api-ops-campaign"),
    path(
        "ops/campaigns/<int:campaign_id>/publish",
        ops_moves.OpsCampaignPublishApi.as_view(),
        name="api-ops-campaign-publish",
    ),
    path(
        "ops/campaigns/<int:campaign_id>/pause", ops_moves.OpsCampaignPauseApi.as_view(), name="api-ops-campaign-pause"
    ),
    path("ops/campaigns/<int:campaign_id>/end", ops_moves.OpsCampaignEndApi.as_view(), name="api-ops-campaign-end"),
    path(
        "ops/campaigns/<int:campaign_id>/fundings",
        ops_fundings.OpsCampaignFundingCreateApi.as_view(),
        name="api-ops-campaign-fundings",
    ),
    # Operators: voucher abuse, flagged claimants and bans (R-VC-09, R-LC-06); payout review (R-VC-07, R-OP-01).
    path("ops/campaigns/<int:campaign_id>/flags", abuse.OpsCampaignFlagsApi.as_view(), name="api-ops-campaign-flags"),
    path("ops/voucher-bans", abuse.OpsVoucherBanCreateApi.as_view(), name="api-ops-voucher-bans"),
    path("ops/payouts", payouts.OpsPayoutListApi.as_view(), name="api-ops-payouts"),
    path("ops/payouts/<int:payout_id>/hold", payouts.OpsPayoutHoldApi.as_view(), name="api-ops-payout-hold"),
    path("ops/payouts/<int:payout_id>/release", payouts.OpsPayoutReleaseApi.as_view(), name="api-ops-payout-release"),
    path("ops/payouts/<int:payout_id>/reject", payouts.OpsPayoutRejectApi.as_view(), name="api-ops-payout-reject"),
]
