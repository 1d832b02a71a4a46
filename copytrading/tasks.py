"""Thin Celery tasks of the copy engine: take ids, call a service.

Stable ``name=``s and the optional ``at`` of periodic tasks as in
``copytrading.futures.tasks``.
"""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.db import OperationalError

from config.clock import platform_today, run_moment
from copytrading.services.fanout import copy_fanout_dispatch, copy_fanout_range, copy_fanout_reconcile
from copytrading.services.loans import loan_interest_daily
from copytrading.services.profit_share import profit_share_daily_run
from copytrading.services.statistics import equity_snapshots_take, following_stats_refresh, trader_stats_refresh

RETRIES = {"autoretry_for": (OperationalError,), "retry_backoff": True, "max_retries": 5}


@shared_task(name="copytrading.copy_fanout", queue="copy", **RETRIES)
def copy_fanout_run(lead_order_id: int) -> int:
    """Copy a lead's fill to its followings: one queued task per batch (idempotent per (fill, following))."""
    return copy_fanout_dispatch(lead_order_id=lead_order_id)


@shared_task(name="copytrading.copy_fanout_reconcile", queue="copy", **RETRIES)
def copy_fanout_reconcile_run(at: str | None = None) -> int:
    """Every minute: fan out again the recent lead fills some followers never got (a lost or failed task)."""
    return copy_fanout_reconcile(now=run_moment(at))


@shared_task(name="copytrading.copy_fanout_batch", queue="copy", **RETRIES)
def copy_fanout_batch_run(lead_order_id: int, first_id: int, last_id: int) -> int:
    """Copy a lead's fill to its live followings with ids in [first_id, last_id] (one batch of a dispatch)."""
    return copy_fanout_range(lead_order_id=lead_order_id, first_id=first_id, last_id=last_id)


@shared_task(name="copytrading.profit_share_daily", queue="settlement", **RETRIES)
def profit_share_daily(at: str | None = None) -> int:
    """00:00 platform time: pay pending shares and unfreeze, for followings with no open copy (R-PS-06).

    The day is the platform date of ``at`` (default: now); both runs are keyed by it.
    """
    day = platform_today(run_moment(at))
    loan_interest_daily(day=day)  # R-PS-08: interest on loans against unrealised profit, once a day
    return profit_share_daily_run(day=day)


@shared_task(name="copytrading.statistics_daily", queue="settlement", **RETRIES)
def statistics_daily(at: str | None = None) -> int:
    """Just after 00:00 platform time: snapshot the day that ended before ``at`` (default: now), then refresh
    the stored statistics."""
    taken = equity_snapshots_take(platform_today(run_moment(at)) - timedelta(days=1))
    trader_stats_refresh()
    following_stats_refresh()
    return taken
