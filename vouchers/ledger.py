"""A campaign's money on the ledger: its accounts and the platform's marketing account. (R-VC-09)

Every campaign has two platform ``campaign_budget`` accounts: what is available
to new claims (``campaign:<id>``) and what claims have reserved
(``campaign:<id>:reserved``). Finance funds the first from the marketing
account (``marketing``). Platform accounts may go negative in the ledger, so
the vouchers services check the available balance themselves before they reserve.
"""

from __future__ import annotations

from dataclasses import dataclass

from accounts.models import AccountKind, LedgerAccount
from accounts.services.accounts import platform_account
from vouchers.models import Campaign

MARKETING_REF = "marketing"


@dataclass(frozen=True)
class CampaignAccounts:
    available: LedgerAccount
    reserved: LedgerAccount


def campaign_accounts(campaign: Campaign) -> CampaignAccounts:
    """The campaign's two ledger accounts, opened on first use."""
    return CampaignAccounts(
        available=platform_account(kind=AccountKind.CAMPAIGN_BUDGET, ref=campaign.account_ref),
        reserved=platform_account(kind=AccountKind.CAMPAIGN_BUDGET, ref=campaign.reserved_ref),
    )


def marketing_account() -> LedgerAccount:
    return platform_account(kind=AccountKind.CAMPAIGN_BUDGET, ref=MARKETING_REF)
