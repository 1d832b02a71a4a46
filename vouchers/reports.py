"""Operators' reports of a campaign over time: what was claimed, triggered and paid, day by day.
(R-VC-09, R-OP-01)

Days are platform days (00:00 Asia/Shanghai, ``PLATFORM_TIME_ZONE``), like every other
day of the platform. Each series is one grouped query over the whole window, never a
query per day, so the campaign desk's table costs the same for 1 or 365 days.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.money import ZERO
from config.clock import platform_today
from vouchers.models import Campaign, Payout, Voucher, VoucherState

MAX_DAYS = 366

# One day's totals of one series: how many, and their value (USDT).
DayTotals = dict[date, tuple[int, Decimal]]


def campaign_daily(*, campaign: Campaign, days: int = 30, now: datetime | None = None) -> list[dict]:
    """The campaign's activity on each of the last ``days`` platform days, today included, newest first.

    Each row is ``{"day": date, "claims": int, "claimed_value": Decimal, "triggers": int,
    "triggered_value": Decimal, "payouts": int, "paid_out": Decimal}``:

    - claims: vouchers claimed that day (``Voucher.claimed_at``) and their face value;
    - triggers: vouchers triggered that day (state ``triggered``, by ``ended_at``) and the
      reimbursement they owe (min(loss, face value), R-VC-04, R-VC-05);
    - payouts: reimbursements issued that day as experience vouchers (R-VC-07) and their amount.

    Days without activity are rows of zeros, so the table has exactly ``days`` rows.
    """
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be a whole number from 1 to {MAX_DAYS}")
    zone = ZoneInfo(settings.PLATFORM_TIME_ZONE)
    today = platform_today(now or timezone.now())
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, time.min, tzinfo=zone)

    claims = _claims_by_day(campaign, since, zone)
    triggers = _triggers_by_day(campaign, since, zone)
    payouts = _payouts_by_day(campaign, since, zone)

    rows = []
    for offset in range(days):
        day = today - timedelta(days=offset)
        n_claims, claimed = claims.get(day, (0, ZERO))
        n_triggers, triggered = triggers.get(day, (0, ZERO))
        n_payouts, paid = payouts.get(day, (0, ZERO))
        rows.append(
            {
                "day": day,
                "claims": n_claims,
                "claimed_value": claimed,
                "triggers": n_triggers,
                "triggered_value": triggered,
                "payouts": n_payouts,
                "paid_out": paid,
            }
        )
    return rows


def _by_day(rows) -> DayTotals:
    return {row["day"]: (row["n"], row["s"] or ZERO) for row in rows}


def _claims_by_day(campaign: Campaign, since: datetime, zone: ZoneInfo) -> DayTotals:
    """Vouchers claimed per day and their face value: one grouped query."""
    return _by_day(
        Voucher.objects.filter(campaign=campaign, claimed_at__gte=since)
        .annotate(day=TruncDate("claimed_at", tzinfo=zone))
        .values("day")
        .annotate(n=Count("id"), s=Sum("face_value"))
        .order_by()  # the model's ordering would split the groups
    )


def _triggers_by_day(campaign: Campaign, since: datetime, zone: ZoneInfo) -> DayTotals:
    """Vouchers triggered per day (by ``ended_at``) and the reimbursements they owe: one grouped query."""
    return _by_day(
        Voucher.objects.filter(campaign=campaign, state=VoucherState.TRIGGERED, ended_at__gte=since)
        .annotate(day=TruncDate("ended_at", tzinfo=zone))
        .values("day")
        .annotate(n=Count("id"), s=Sum("reimbursement"))
        .order_by()
    )


def _payouts_by_day(campaign: Campaign, since: datetime, zone: ZoneInfo) -> DayTotals:
    """Reimbursements issued per day (experience vouchers, by ``issued_at``) and their amount: one grouped query."""
    return _by_day(
        Payout.objects.filter(campaign=campaign, issued_at__gte=since)
        .annotate(day=TruncDate("issued_at", tzinfo=zone))
        .values("day")
        .annotate(n=Count("id"), s=Sum("amount"))
        .order_by()
    )
