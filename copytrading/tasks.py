"""Thin Celery tasks of the futures venue: take ids, call a service.

The periodic tasks take an optional ``at`` (an ISO datetime): an operator's
run for a past period (``config.jobs``) passes the time beat fired at, and the
task derives its period from it exactly as beat's own run derives it from
"now", so both reach the same keys and never both pay. Beat passes nothing.
"""

from __future__ import annotations

from datetime import datetime

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone


def _moment(at: str | None) -> datetime:
    return datetime.fromisoformat(at) if at else timezone.now()


@shared_task(queue="risk", autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def risk_sweep_run(market_id: int, tick_id: int) -> int:
    """Sweep a market after a price tick (idempotent per (market, tick))."""
    from copytrading.services.liquidation import risk_sweep

    sweep = risk_sweep(market_id=market_id, tick_id=tick_id)
    return sweep.liquidated if sweep else 0


@shared_task(queue="default", autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def outbox_deliver(at: str | None = None) -> int:
    """Deliver pending "position closed" events to every registered consumer (no period: ``at`` is unused)."""
    from copytrading.services.outbox import outbox_deliver_pending

    return outbox_deliver_pending()


@shared_task(queue="settlement", autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def funding_settle(at: str | None = None) -> int:
    """Exchange funding for every active market at the funding time at or before ``at`` (default: now)."""
    from copytrading.services.funding import funding_settle_due

    return funding_settle_due(now=_moment(at))


@shared_task(queue="copy", autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def copy_fanout_run(lead_order_id: int) -> int:
    """Copy a lead's fill to its followings: one queued task per batch (idempotent per (fill, following))."""
    from copytrading.services.fanout import copy_fanout_dispatch

    return copy_fanout_dispatch(lead_order_id=lead_order_id)


@shared_task(queue="copy", autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def copy_fanout_reconcile_run(at: str | None = None) -> int:
    """Every minute: fan out again the recent lead fills some followers never got (a lost or failed task)."""
    from copytrading.services.fanout import copy_fanout_reconcile

    return copy_fanout_reconcile(now=_moment(at))


@shared_task(queue="copy", autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def copy_fanout_batch_run(lead_order_id: int, first_id: int, last_id: int) -> int:
    """Copy a lead's fill to its live followings with ids in [first_id, last_id] (one batch of a dispatch)."""
    from copytrading.services.fanout import copy_fanout_range

    return copy_fanout_range(lead_order_id=lead_order_id, first_id=first_id, last_id=last_id)


@shared_task(queue="settlement", autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def profit_share_daily(at: str | None = None) -> int:
    """00:00 platform time: pay pending shares and unfreeze, for followings with no open copy (R-PS-06).

    The day is the platform date of ``at`` (default: now); both runs are keyed by it.
    """
    from copytrading.services.loans import loan_interest_daily
    from copytrading.services.profit_share import profit_share_daily_run
    from copytrading.services.time import platform_today

    day = platform_today(_moment(at))
    loan_interest_daily(day=day)  # R-PS-08: interest on loans against unrealised profit, once a day
    return profit_share_daily_run(day=day)


@shared_task(queue="settlement", autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def statistics_daily(at: str | None = None) -> int:
    """Just after 00:00 platform time: snapshot the day that ended before ``at`` (default: now), then refresh
    the stored statistics."""
    from datetime import timedelta

    from copytrading.services.stats import equity_snapshots_take, following_stats_refresh, trader_stats_refresh
    from copytrading.services.time import platform_today

    taken = equity_snapshots_take(platform_today(_moment(at)) - timedelta(days=1))
    trader_stats_refresh()
    following_stats_refresh()
    return taken
