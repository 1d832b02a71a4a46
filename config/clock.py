"""Platform time: days begin at 00:00 Asia/Shanghai (UTC+8); timestamps are stored in UTC."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone


def platform_today(now: datetime | None = None) -> date:
    """The platform date of ``now`` (default: the current time)."""
    return (now or timezone.now()).astimezone(ZoneInfo(settings.PLATFORM_TIME_ZONE)).date()


def platform_day_start(now: datetime | None = None) -> datetime:
    """00:00 platform time of the platform date of ``now`` (default: the current time), as an aware time."""
    tz = ZoneInfo(settings.PLATFORM_TIME_ZONE)
    return datetime.combine(platform_today(now), time.min, tzinfo=tz)


def run_moment(at: str | None) -> datetime:
    """The time a periodic run stands for: ``at`` (ISO) when an operator runs a past period, else now.

    Beat passes nothing; an operator's run (``accounts.jobs``) passes the time beat
    fired at, so both derive the same period and reach the same keys.
    """
    return datetime.fromisoformat(at) if at else timezone.now()
