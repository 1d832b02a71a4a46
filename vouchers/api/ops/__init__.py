"""Operators run voucher campaigns over the API: list with each campaign's live liability, create, change
(``campaigns``), publish, pause, end (``moves``), and Finance's fundings (``fundings``). (R-VC-01, R-VC-09, R-OP-01)

Every write needs a reason and is recorded with who made it (``CampaignChange``);
the checks are the services' (``vouchers.services.campaigns``), the admin's too.
Publishing, pausing and ending move no money and are idempotent by themselves
(a repeated click changes nothing), so they take no Idempotency-Key; a funding
moves money from the marketing account and takes one.
"""

from vouchers.api.ops.campaigns import AwareDateTimeField, OpsCampaignApi, OpsCampaignListCreateApi
from vouchers.api.ops.common import (
    ADD,
    CAMPAIGN_PATH,
    CHANGE,
    ERRORS,
    FORM_ERRORS,
    FUND,
    MOVE_ERRORS,
    RECENT_CHANGES,
    VIEW,
    CampaignChangeOutputSerializer,
    LiabilityOutputSerializer,
    OpsCampaignDetailOutputSerializer,
    OpsCampaignOutputSerializer,
    campaign_loaded,
    campaign_or_404,
)
from vouchers.api.ops.fundings import OpsCampaignFundingCreateApi
from vouchers.api.ops.moves import OpsCampaignEndApi, OpsCampaignPauseApi, OpsCampaignPublishApi

__all__ = [
    "ADD",
    "CAMPAIGN_PATH",
    "CHANGE",
    "ERRORS",
    "FORM_ERRORS",
    "FUND",
    "MOVE_ERRORS",
    "RECENT_CHANGES",
    "VIEW",
    "AwareDateTimeField",
    "CampaignChangeOutputSerializer",
    "LiabilityOutputSerializer",
    "OpsCampaignApi",
    "OpsCampaignDetailOutputSerializer",
    "OpsCampaignEndApi",
    "OpsCampaignFundingCreateApi",
    "OpsCampaignListCreateApi",
    "OpsCampaignOutputSerializer",
    "OpsCampaignPauseApi",
    "OpsCampaignPublishApi",
    "campaign_loaded",
    "campaign_or_404",
]
