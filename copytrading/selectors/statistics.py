"""Reads of the precomputed statistics for the API. (R-CT-18 … R-CT-20, R-CT-24)

Nothing here aggregates raw history: the leaderboard and the detail read the rows that
``copytrading.services.statistics`` stores, and the equity curves read the daily snapshots as they are.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import QuerySet, Sum

from accounts.models import AccountKind, Posting
from copytrading.metrics import FLAGS
from copytrading.models import (
    EquitySnapshot,
    Following,
    FollowingStats,
    LeadTrader,
    LeadTraderStatus,
    ShareSettlement,
    SnapshotKind,
    TraderStats,
)

# Sort keys of GET /api/v1/traders (the lead id breaks ties, so pages are stable).
TRADER_STATS_SORTS = {
    "roi_30": ("-roi_30", "lead_id"),
    "followers_pnl": ("-followers_pnl", "lead_id"),
    "aum": ("-aum", "lead_id"),
    "max_drawdown": ("max_drawdown", "lead_id"),
}


def trader_stats_list(
    *,
    sort: str = "roi_30",
    min_trading_days: int | None = None,
    max_drawdown: Decimal | None = None,
    exclude_flags: list[str] | None = None,
) -> QuerySet[TraderStats]:
    """Approved lead traders' stats, filtered and sorted (public). Unknown sorts or flags raise ValueError."""
    if sort not in TRADER_STATS_SORTS:
        raise ValueError(f"unknown sort {sort!r}")
    stats = TraderStats.objects.filter(lead__status=LeadTraderStatus.APPROVED).select_related("lead")
    if min_trading_days is not None:
        stats = stats.filter(trading_days__gte=min_trading_days)
    if max_drawdown is not None:
        stats = stats.filter(max_drawdown__lte=max_drawdown)
    for flag in exclude_flags or []:
        if flag not in FLAGS:
            raise ValueError(f"unknown flag {flag!r}")
        stats = stats.exclude(flags__contains=[flag])
    return stats.order_by(*TRADER_STATS_SORTS[sort])


def trader_stats_get(*, lead: LeadTrader) -> TraderStats | None:
    """A lead trader's stored stats, flags and copy quality; None before the first refresh."""
    return TraderStats.objects.filter(lead=lead).first()


def equity_curve(*, kind: str, subject_id: int, days: int | None = None) -> list[dict]:
    """The daily equity snapshots of a lead trader or a following, oldest first, optionally the last ``days``."""
    snapshots = EquitySnapshot.objects.filter(kind=kind, subject_id=subject_id)
    if days is not None:
        last = snapshots.order_by("-day").values_list("day", flat=True).first()
        if last is None:
            return []
        snapshots = snapshots.filter(day__gt=last - timedelta(days=days))
    return list(snapshots.order_by("day").values("day", "equity", "net_flow"))


def trader_equity_curve(*, lead: LeadTrader, days: int | None = None) -> list[dict]:
    return equity_curve(kind=SnapshotKind.LEAD, subject_id=lead.pk, days=days)


def following_stats_get(*, following: Following) -> FollowingStats | None:
    """A following's stored stats (R-CT-20); scope the following to its owner first (``following_get``)."""
    return FollowingStats.objects.filter(following=following).first()


def following_equity_curve(*, following: Following, days: int | None = None) -> list[dict]:
    return equity_curve(kind=SnapshotKind.FOLLOWING, subject_id=following.pk, days=days)


def lead_income(*, lead: LeadTrader) -> dict:
    """A lead trader's profit-share income per follower and per platform day (R-PS-02).

    Daily payments come from the daily run's settlement rows; payments at stop following are the
    ``profit_share`` entries into the lead's spot account, referenced to their following.
    """



    per_day: dict[str, Decimal] = defaultdict(Decimal)
    per_following: dict[int, Decimal] = defaultdict(Decimal)
    for following_id, day, paid in (
        ShareSettlement.objects.filter(following__lead=lead, paid__gt=0)
        .values("following_id", "day")
        .annotate(p=Sum("paid"))
        .values_list("following_id", "day", "p")
    ):
        per_day[day.isoformat()] += paid
        per_following[following_id] += paid
    zone = ZoneInfo(settings.PLATFORM_TIME_ZONE)
    for reference, created_at, amount in Posting.objects.filter(
        account__owner_id=lead.user_id, account__kind=AccountKind.SPOT, entry__kind="profit_share", amount__gt=0
    ).values_list("entry__reference", "entry__created_at", "amount"):
        per_day[created_at.astimezone(zone).date().isoformat()] += amount
        per_following[int(reference.split(":")[1])] += amount
    return {
        "total": sum(per_day.values(), Decimal(0)),
        "per_day": [{"day": d, "amount": per_day[d]} for d in sorted(per_day)],
        "per_follower": [
            {"following_id": f, "amount": per_following[f]}
            for f in sorted(per_following, key=lambda k: -per_following[k])
        ],
    }
