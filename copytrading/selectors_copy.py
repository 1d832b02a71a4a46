"""Reads of the copy engine: lead traders, followings, their decisions and ledger records. (R-CT-01 … R-CT-14)

Everything a follower reads is scoped to its owner: ``following_get`` returns
None for anyone else's following, so the API answers 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, F, Q, QuerySet

from accounts import hooks
from accounts.models import AccountKind, LedgerAccount, Posting, User
from accounts.money import ZERO
from accounts.selectors import account_records
from copytrading.models import (
    CopyDecision,
    Following,
    FollowingStatus,
    FollowMode,
    LeadTrader,
    LeadTraderStatus,
    Position,
    PositionStatus,
)
from copytrading.services.guardian import following_net_value
from copytrading.services.leads import lead_follower_slots
from copytrading.services.risk import account_equity

TRADER_SORTS = {
    "followers": ("-followers_count", "-id"),
    "newest": ("-id",),
    # From the stored statistics (R-CT-18); a trader without any yet sorts last.
    "roi_30": (F("stats__roi_30").desc(nulls_last=True), "id"),
    "followers_pnl": (F("stats__followers_pnl").desc(nulls_last=True), "id"),
    "aum": (F("stats__aum").desc(nulls_last=True), "id"),
    "max_drawdown": (F("stats__max_drawdown").asc(nulls_last=True), "id"),
}
_LIVE = ~Q(followings__status=FollowingStatus.STOPPED)


def lead_trader_of(*, user: User) -> LeadTrader | None:
    """The user's own lead-trader application or profile, whatever its status."""
    return LeadTrader.objects.filter(user=user).select_related("decided_by").first()


def lead_trader_get(*, lead_id: int) -> LeadTrader | None:
    """Any lead trader by id (operators, and followings started on it)."""
    return LeadTrader.objects.filter(pk=lead_id).first()


def trader_list(
    *,
    min_followers: int | None = None,
    search: str = "",
    sort: str = "followers",
    min_trading_days: int | None = None,
    max_drawdown: Decimal | None = None,
    exclude_flags: list[str] | None = None,
) -> QuerySet[LeadTrader]:
    """Approved lead traders with their live followers count, filtered and sorted (public).

    The statistics filters read the stored stats (R-CT-18, R-CT-19): a trader without any yet is left out by them.
    """
    traders = LeadTrader.objects.filter(status=LeadTraderStatus.APPROVED).annotate(
        followers_count=Count("followings", filter=_LIVE)
    )
    if min_followers:
        traders = traders.filter(followers_count__gte=min_followers)
    if search:
        traders = traders.filter(nickname__icontains=search.strip())
    if min_trading_days is not None:
        traders = traders.filter(stats__trading_days__gte=min_trading_days)
    if max_drawdown is not None:
        traders = traders.filter(stats__max_drawdown__lte=max_drawdown)
    for flag in exclude_flags or []:
        traders = traders.exclude(stats__flags__contains=[flag])
    return traders.order_by(*TRADER_SORTS[sort])


def trader_get(*, lead_id: int) -> LeadTrader | None:
    """One approved lead trader with its live followers count; None for any other (public)."""
    return trader_list().filter(pk=lead_id).first()


def trader_slots(lead: LeadTrader) -> tuple[int, int]:
    """(follower slots, free slots) of a lead annotated with ``followers_count``. (R-CT-22)"""
    slots = lead_follower_slots(lead=lead)
    return slots, max(slots - lead.followers_count, 0)


def following_list(*, user: User) -> QuerySet[Following]:
    """The user's followings, live and stopped."""
    return Following.objects.filter(follower=user).select_related("lead")


def following_get(*, user: User, following_id: int) -> Following | None:
    """One of the user's followings; None for anyone else's."""
    return (
        Following.objects.filter(pk=following_id, follower=user)
        .select_related("lead", "sub_account", "follower")
        .first()
    )


def following_positions(*, following: Following) -> QuerySet[Position]:
    """The open copy positions of one following (its slot in the sub-account)."""
    return Position.objects.filter(
        account_id=following.sub_account_id, slot=following.pk, status=PositionStatus.OPEN
    ).select_related("market").prefetch_related("closes")


@dataclass
class FollowingFunds:
    """The sub-account (for Diverse: the shared pool) and this following's own net value."""

    equity: Decimal
    available: Decimal
    net_value: Decimal


def following_funds(*, following: Following) -> FollowingFunds:
    """Equity (balance, isolated margin, unrealised PnL) and what may be withdrawn now. (R-CT-03)"""
    wallet: LedgerAccount = following.sub_account
    margin = LedgerAccount.objects.filter(
        owner_id=wallet.owner_id, kind=AccountKind.POSITION_MARGIN, ref=str(wallet.pk)
    ).first()
    positions = Position.objects.filter(account=wallet, status=PositionStatus.OPEN).select_related("market")
    equity = account_equity(wallet, margin.balance if margin else ZERO, positions)
    available = max(hooks.withdrawable(wallet), ZERO)
    net_value = equity if following.mode == FollowMode.SMART else following_net_value(following)
    return FollowingFunds(equity=equity, available=available, net_value=net_value)


def following_decisions(
    *, following: Following, followed: bool | None = None, reason: str = ""
) -> QuerySet[CopyDecision]:
    """The copy decisions of one following (callers page them newest first)."""
    decisions = CopyDecision.objects.filter(following=following).select_related("lead_order__market")
    if followed is not None:
        decisions = decisions.filter(followed=followed)
    if reason:
        decisions = decisions.filter(reason=reason)
    return decisions


def following_records(
    *, following: Following, kind: str | None = None, since: datetime | None = None, until: datetime | None = None
) -> QuerySet[Posting]:
    """Every ledger movement of the following's sub-account (for Diverse: of the shared pool)."""
    return account_records(account=following.sub_account, kind=kind, since=since, until=until)


def following_share(*, following: Following) -> dict:
    """The profit-share figures a follower sees (R-PS-01, R-PS-07): C, pending and frozen."""
    from copytrading.services.profit_share import following_net_result, frozen_amount, share_pending

    net = following_net_result(following)
    return {"net_result": net, "pending": share_pending(following, net), "frozen": frozen_amount(following)}
