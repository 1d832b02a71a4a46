"""A campaign's money on the ledger: its accounts and the platform's marketing account. (R-VC-09)

Every campaign has two platform ``campaign_budget`` accounts: what is available
to new claims (``campaign:<id>``) and what claims have reserved
(``campaign:<id>:reserved``). Finance funds the first from the marketing
account (``marketing``). Platform accounts may go negative in the ledger, so
the vouchers services check the available balance themselves before they reserve.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from accounts.models import AccountKind, LedgerAccount
from accounts.money import ZERO
from accounts.services.accounts import platform_account
from accounts.services.ledger import Leg
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


def release_legs(amounts: Iterable[tuple[int, Decimal]]) -> list[Leg]:
    """Legs giving reserved money back to available: ``(campaign id, amount)`` pairs summed per campaign,
    one pair of legs each (R-VC-09: an expiry, a rejection, a payout below face value, a withholding)."""
    totals: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for campaign_id, amount in amounts:
        totals[campaign_id] += amount
    legs = []
    for campaign_id, total in sorted(totals.items()):
        if total:
            accounts = campaign_accounts(Campaign(pk=campaign_id))  # the refs need only the id
            legs += [Leg(accounts.reserved.pk, -total), Leg(accounts.available.pk, total)]
    return legs
