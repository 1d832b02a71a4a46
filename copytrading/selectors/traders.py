"""Reads of lead traders: the public list of traders, one trader, its follower slots. (R-CT-01, R-CT-18, R-CT-22)"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, F, Q, QuerySet

from accounts.models import User
from copytrading.models import FollowingStatus, LeadTrader, LeadTraderStatus
from copytrading.valuation import lead_follower_slots

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


