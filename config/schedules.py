"""The platform's periodic jobs, declared in platform time (Asia/Shanghai) and
registered into django-celery-beat's database scheduler, where operators can
edit them in the admin.

``register_schedules()`` is idempotent: it creates what is missing and never
overwrites an operator's edits to an existing job (unless ``reset=True``).
Each issue that adds a scheduled job adds it to ``JOBS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask


@dataclass(frozen=True)
class Job:
    name: str
    task: str
    minute: str = "0"
    hour: str = "*"
    day_of_week: str = "*"
    queue: str = "default"
    timezone: str | None = None  # default: the platform time zone
    description: str = ""
    # Pays, charges or settles money: a manual run needs Finance's permission and a reason (accounts.jobs).
    moves_money: bool = False
    # Works on the period it is run for (a day, a funding time); False: it always works on the present
    # state (an audit, a delivery of what is pending), so a manual run can only be for the current period.
    has_period: bool = True

    @property
    def tz(self) -> str:
        return self.timezone or settings.PLATFORM_TIME_ZONE


JOBS: tuple[Job, ...] = (
    Job(
        name="ledger-audit",
        task="accounts.ledger_audit",
        minute="30",
        hour="0",
        description="Daily proof that the ledger balances (00:30 platform time).",
        has_period=False,
    ),
    Job(
        name="funding",
        task="futures.funding_settle",
        minute="0",
        hour="0,8,16",
        timezone="UTC",
        queue="settlement",
        description="Funding between longs and shorts at 00:00, 08:00 and 16:00 UTC (R-MG-07).",
        moves_money=True,
    ),
    Job(
        name="profit-share-daily",
        task="copytrading.profit_share_daily",
        minute="0",
        hour="0",
        queue="settlement",
        description="Pay pending profit shares and unfreeze, 00:00 platform time (R-PS-06).",
        moves_money=True,
    ),
    Job(
        name="statistics-daily",
        task="copytrading.statistics_daily",
        minute="10",
        hour="0",
        queue="settlement",
        description="Equity snapshots of the day that ended and the stored trader/follower statistics (R-CT-18).",
    ),
    Job(
        name="copy-fanout-reconcile",
        task="copytrading.copy_fanout_reconcile",
        minute="*",
        queue="copy",
        description="Fan out again recent lead fills that some followers never got (a lost or failed copy task).",
        # A past window would copy old lead fills at today's prices: only ever run for the present.
        has_period=False,
    ),
    Job(
        name="voucher-reimbursement",
        task="vouchers.reimbursement_daily",
        minute="15",
        hour="0",
        queue="settlement",
        description="Issue the reimbursements of vouchers triggered before today as experience vouchers (R-VC-07).",
    ),
    Job(
        name="voucher-held-alert",
        task="vouchers.held_payout_alert",
        minute="20",
        description="Warn operators of held voucher payouts a day before they pass their seventh day (R-VC-07).",
        has_period=False,
    ),
    Job(
        name="voucher-expiry",
        task="vouchers.expire",
        minute="7",
        queue="settlement",
        description="Vouchers past their validity, payout vouchers unclaimed or unused in time, expire (R-VC-09).",
        moves_money=True,
        has_period=False,
    ),
    Job(
        name="loss-compensation-credit",
        task="vouchers.loss_compensation_credit",
        minute="5",
        hour="0",
        timezone="UTC",
        queue="settlement",
        description="Credit loss-coverage compensations of closes before today (UTC) to spot (R-LC-05, R-LC-06).",
        moves_money=True,
    ),
    Job(
        name="outbox-deliver",
        task="futures.outbox_deliver",
        minute="*",
        description="Deliver position-closed events a crashed worker left undelivered.",
        has_period=False,
    ),
)


def crontab_for(*, minute: str, hour: str, day_of_week: str = "*", tz: str | None = None):
    """Get or create the beat crontab row for a time given in ``tz`` (default: platform time)."""

    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute=minute,
        hour=hour,
        day_of_week=day_of_week,
        day_of_month="*",
        month_of_year="*",
        timezone=ZoneInfo(tz or settings.PLATFORM_TIME_ZONE),
    )
    return crontab


def _fires_at(schedule, local: datetime) -> bool:
    """Whether celery's own crontab matcher fires at the local minute ``local``."""
    return (
        local.minute in schedule.minute
        and local.hour in schedule.hour
        and local.isoweekday() % 7 in schedule.day_of_week
        and local.day in schedule.day_of_month
        and local.month in schedule.month_of_year
    )


# Walk minute by minute through celery's own matcher: exact and short (≤ 8 days of minutes).
_SEARCH_MINUTES = 8 * 24 * 60 + 1


def next_fire_utc(crontab, after: datetime) -> datetime:
    """When beat will next fire ``crontab`` strictly after ``after``, in UTC (minute precision)."""
    tz = ZoneInfo(str(crontab.timezone))
    schedule = crontab.schedule
    local = after.astimezone(tz).replace(second=0, microsecond=0)
    for _ in range(_SEARCH_MINUTES):
        local += timedelta(minutes=1)
        if _fires_at(schedule, local):
            return local.astimezone(ZoneInfo("UTC"))
    raise ValueError("crontab does not fire within eight days")


def last_fire_utc(crontab, at: datetime) -> datetime:
    """The latest time beat fires ``crontab`` at or before ``at``, in UTC (minute precision).

    A fire at 16:00 counts for any ``at`` from 16:00:00 on, as beat's own run at 16:00:03 belongs to it.
    """
    tz = ZoneInfo(str(crontab.timezone))
    schedule = crontab.schedule
    local = at.astimezone(tz).replace(second=0, microsecond=0)
    for _ in range(_SEARCH_MINUTES):
        if _fires_at(schedule, local):
            return local.astimezone(ZoneInfo("UTC"))
        local -= timedelta(minutes=1)
    raise ValueError("crontab did not fire within the eight days before")


def register_schedules(*, reset: bool = False, jobs: tuple[Job, ...] = JOBS) -> list[str]:
    """Create the periodic tasks in ``jobs``; return the names created or reset."""

    changed = []
    with transaction.atomic():
        for job in jobs:
            crontab = crontab_for(minute=job.minute, hour=job.hour, day_of_week=job.day_of_week, tz=job.tz)
            defaults = {"task": job.task, "crontab": crontab, "queue": job.queue, "description": job.description}
            task, created = PeriodicTask.objects.get_or_create(name=job.name, defaults=defaults)
            if created:
                changed.append(job.name)
            elif reset:
                for key, value in defaults.items():
                    setattr(task, key, value)
                task.enabled = True
                task.save()
                changed.append(job.name)
    return changed
