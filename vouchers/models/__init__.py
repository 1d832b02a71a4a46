"""Voucher campaigns and their vouchers. Split by concern; import from here."""

from vouchers.models.abuse import AbuseBan
from vouchers.models.campaigns import (
    Audience,
    Campaign,
    CampaignChange,
    CampaignFunding,
    CampaignKind,
    CampaignStatus,
)
from vouchers.models.loss_coverage import Compensation, CompensationState, LossCoverageState, LossCoverageVoucher
from vouchers.models.vouchers import CloseDecision, Outcome, Payout, PayoutState, Voucher, VoucherState

__all__ = [
    "AbuseBan",
    "Audience",
    "Campaign",
    "CampaignChange",
    "CampaignFunding",
    "CampaignKind",
    "CampaignStatus",
    "CloseDecision",
    "Compensation",
    "CompensationState",
    "LossCoverageState",
    "LossCoverageVoucher",
    "Outcome",
    "Payout",
    "PayoutState",
    "Voucher",
    "VoucherState",
]
