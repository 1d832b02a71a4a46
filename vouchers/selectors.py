"""Reads of vouchers: what a user may claim, its voucher center, each campaign's live liability. (R-VC-08, R-VC-09)"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Case, Count, F, Prefetch, Q, QuerySet, Sum, When

from accounts.models import AccountKind, LedgerAccount, Posting, User
from accounts.money import ZERO
from accounts.selectors import users_sharing_with
from copytrading.selectors.followings import follower_has_followed
from vouchers.models import (
    AbuseBan,
    Audience,
    Campaign,
    CampaignFunding,
    CampaignStatus,
    Compensation,
    CompensationState,
    LossCoverageState,
    LossCoverageVoucher,
    Payout,
    PayoutState,
    Voucher,
    VoucherState,
)
from vouchers.models.campaigns import COVERAGE_KINDS

# Ledger entries that pay a campaign's money out to users (experience-voucher spend, loss compensation).
PAYOUT_KINDS = ("voucher_payout", "loss_compensation")
RESERVED_PAYOUT_STATES = (PayoutState.PENDING, PayoutState.HELD, PayoutState.ISSUED, PayoutState.CLAIMED)


def campaigns_claimable(*, user: User, now: datetime) -> QuerySet[Campaign]:
    """Live coverage campaigns in their promotion window, before their deadline, under the user's limit.

    Campaigns for new copy traders are left out for a user who has followed before; the
    budget is checked when claiming (a refusal names it).
    """
    mine = Count("vouchers", filter=Q(vouchers__user=user))
    campaigns = Campaign.objects.all()
    if follower_has_followed(user=user):
        campaigns = campaigns.exclude(audience=Audience.NEW_COPY_TRADERS)
    return (
        campaigns.filter(
            kind__in=COVERAGE_KINDS,
            status=CampaignStatus.LIVE,
            promotion_starts_at__lte=now,
            promotion_ends_at__gte=now,
            claim_deadline__gte=now,
        )
        .annotate(mine=mine)
        .filter(mine__lt=F("per_user_limit"))
        .order_by("claim_deadline", "id")
    )


def voucher_center(*, user: User) -> QuerySet[Voucher]:
    """The user's vouchers, live first, then used, then expired, each with its campaign (R-VC-08)."""
    rank = Case(When(state=VoucherState.CLAIMED, then=0), When(state=VoucherState.TRIGGERED, then=1), default=2)
    return Voucher.objects.filter(user=user).select_related("campaign").order_by(rank, "valid_until", "id")


def voucher_get(*, user: User, voucher_id: int) -> Voucher | None:
    return voucher_center(user=user).filter(pk=voucher_id).first()


@dataclass
class Liability:
    """A campaign's money now (R-VC-09): funded = available + reserved + paid out."""

    budget: Decimal
    funded: Decimal
    available: Decimal
    reserved: Decimal
    paid_out: Decimal
    live_claims: int
    reserved_by_claims: Decimal  # what the vouchers' states say is reserved: live claims and pending payouts
    triggered: int = 0
    pending_payouts: Decimal = ZERO


def _refs(campaigns: list[Campaign]) -> dict[str, tuple[int, str]]:
    refs = {}
    for c in campaigns:
        refs[c.account_ref] = (c.pk, "available")
        refs[c.reserved_ref] = (c.pk, "reserved")
    return refs


def campaign_liabilities(campaigns: list[Campaign]) -> dict[int, Liability]:
    """The liability of each campaign, in a fixed number of grouped queries whatever their number."""
    out = {c.pk: Liability(c.budget, ZERO, ZERO, ZERO, ZERO, 0, ZERO) for c in campaigns}
    if not campaigns:
        return out
    ids = list(out)
    for cid, total in (
        CampaignFunding.objects.filter(campaign_id__in=ids).values_list("campaign_id").annotate(s=Sum("amount"))
    ):
        out[cid].funded = total
    refs = _refs(campaigns)
    accounts = LedgerAccount.objects.filter(owner=None, kind=AccountKind.CAMPAIGN_BUDGET, ref__in=list(refs))
    by_account = {}
    for pk, ref, balance in accounts.values_list("pk", "ref", "balance"):
        cid, which = refs[ref]
        setattr(out[cid], which, balance)
        by_account[pk] = cid
    for account_id, total in (
        Posting.objects.filter(account_id__in=list(by_account), entry__kind__in=PAYOUT_KINDS)
        .values_list("account_id")
        .annotate(s=Sum("amount"))
    ):
        out[by_account[account_id]].paid_out -= total
    for cid, n, total in (
        Voucher.objects.filter(campaign_id__in=ids, state=VoucherState.CLAIMED)
        .values_list("campaign_id")
        .annotate(n=Count("id"), s=Sum("face_value"))
    ):
        out[cid].live_claims, out[cid].reserved_by_claims = n, total
    # A triggered voucher's payout stays reserved until it is spent, rejected, withheld or expires.
    for cid, n, total in (
        Payout.objects.filter(campaign_id__in=ids, state__in=RESERVED_PAYOUT_STATES)
        .values_list("campaign_id")
        .annotate(n=Count("id"), s=Sum("amount"))
    ):
        out[cid].triggered, out[cid].pending_payouts = n, total
        out[cid].reserved_by_claims += total
    # Loss coverage (R-LC-01, R-LC-05): what active vouchers have left, and compensations not yet credited.
    for cid, total in (
        LossCoverageVoucher.objects.filter(campaign_id__in=ids, state=LossCoverageState.ACTIVE)
        .values_list("campaign_id")
        .annotate(s=Sum("remaining"))
    ):
        out[cid].reserved_by_claims += total
    for cid, total in (
        Compensation.objects.filter(campaign_id__in=ids, state=CompensationState.PENDING)
        .values_list("campaign_id")
        .annotate(s=Sum("amount"))
    ):
        out[cid].reserved_by_claims += total
    return out


def campaign_budget_problems() -> list[dict]:
    """The audit check (registered with ``accounts.hooks``): every campaign's books agree with the ledger.

    funded (Finance's fundings) = available + reserved + paid out (ledger balances and payout
    postings), and the reserved balance equals the face value of the live claims plus the
    reimbursements triggered and not yet paid (R-VC-09).
    """
    problems = []
    campaigns = list(Campaign.objects.order_by("pk"))
    for cid, books in campaign_liabilities(campaigns).items():
        if books.funded != books.available + books.reserved + books.paid_out:
            problems.append(
                {
                    "campaign": cid,
                    "funded": str(books.funded),
                    "available + reserved + paid out": str(books.available + books.reserved + books.paid_out),
                }
            )
        if books.reserved != books.reserved_by_claims:
            problems.append(
                {"campaign": cid, "reserved": str(books.reserved), "live claims": str(books.reserved_by_claims)}
            )
    return problems


def banned_user_ids(*, user_ids: Collection[int]) -> set[int]:
    """Those of ``user_ids`` disabled for voucher abuse (R-LC-06): one query."""
    return set(AbuseBan.objects.filter(user_id__in=list(user_ids)).values_list("user_id", flat=True))


def campaign_flags(*, campaign: Campaign) -> dict[int, dict[str, set[int]]]:
    """R-VC-09: the claimants of ``campaign`` flagged for review, and with whom (R-LC-06 applies to them).

    For each user that claimed a voucher of the campaign and shares a registration or login
    address (``"address"``) or a withdrawal destination (``"withdrawal_address"``) with another
    of its claimants: those other claimants. Users outside the campaign are never compared. A
    user sharing nothing is absent; one present has both keys. Three queries, whatever the number
    of claimants (``accounts.selectors.users_sharing_with``). Claimants are the users holding a
    ``Voucher`` of the campaign or granted one of its loss-coverage vouchers (one query for both).
    """
    claimants = (
        Voucher.objects.filter(campaign=campaign)
        .order_by()
        .values_list("user_id", flat=True)
        .union(LossCoverageVoucher.objects.filter(campaign=campaign).order_by().values_list("user_id", flat=True))
    )
    return users_sharing_with(user_ids=set(claimants))


@dataclass
class FlaggedClaimant:
    """A flagged claimant of a campaign as operators review it (R-VC-09, R-LC-06)."""

    user: User
    banned: bool  # already disabled for voucher abuse
    shares_address_with: list[User]
    shares_withdrawal_destination_with: list[User]


def campaign_flagged_claimants(*, campaign: Campaign) -> list[FlaggedClaimant]:
    """``campaign_flags`` with the users read and each one's ban, by user id: five queries, whatever their number."""
    flags = campaign_flags(campaign=campaign)
    if not flags:
        return []
    involved = set(flags).union(*(shared["address"] | shared["withdrawal_address"] for shared in flags.values()))
    users = User.objects.in_bulk(list(involved))
    banned = banned_user_ids(user_ids=list(flags))
    return [
        FlaggedClaimant(
            user=users[user_id],
            banned=user_id in banned,
            shares_address_with=[users[pk] for pk in sorted(shared["address"])],
            shares_withdrawal_destination_with=[users[pk] for pk in sorted(shared["withdrawal_address"])],
        )
        for user_id, shared in sorted(flags.items())
    ]


def payout_center(*, user: User) -> QuerySet[Payout]:
    """The user's payout (experience) vouchers, each with its original voucher and campaign (R-VC-07, R-VC-08):
    issued and claimed first, then pending or held, then the rest; newest trigger first within each."""
    rank = Case(
        When(state__in=(PayoutState.ISSUED, PayoutState.CLAIMED), then=0),
        When(state__in=(PayoutState.PENDING, PayoutState.HELD), then=1),
        When(state=PayoutState.APPLIED, then=2),
        default=3,
    )
    return (
        Payout.objects.filter(user=user)
        .select_related("voucher__campaign", "campaign")
        .order_by(rank, "-triggered_at", "-id")
    )


def payouts_withheld(*, user_id: int) -> tuple[int, Decimal]:
    """How many payouts of the user are withheld for voucher abuse (R-LC-06), and their total: one query."""
    withheld = Payout.objects.filter(user_id=user_id, state=PayoutState.WITHHELD)
    totals = withheld.aggregate(n=Count("id"), s=Sum("amount"))
    return totals["n"], totals["s"] or ZERO


def loss_coverage_center(*, user: User) -> QuerySet[LossCoverageVoucher]:
    """The user's loss-coverage vouchers in the voucher center (R-LC-01, R-VC-08): active ones, then expired ones,
    each by arrival (the earliest obtained, used first, first), with its campaign and its compensations (oldest
    close first). A fully used voucher has left the center. Two queries, however many vouchers."""
    rank = Case(When(state=LossCoverageState.ACTIVE, then=0), default=1)
    compensations = Compensation.objects.order_by("closed_at", "close_id")
    return (
        LossCoverageVoucher.objects.filter(user=user, state__in=(LossCoverageState.ACTIVE, LossCoverageState.EXPIRED))
        .select_related("campaign")
        .prefetch_related(Prefetch("compensations", queryset=compensations))
        .order_by(rank, "granted_at", "id")
    )
