"""Thin Celery tasks of the futures venue: take ids, call a service.

Every task has a stable ``name=``: beat rows and queued messages name tasks,
so a moved module never orphans them. The periodic tasks take an optional
``at`` (an ISO datetime): an operator's run for a past period
(``accounts.jobs``) passes the time beat fired at, and the task derives its
period from it exactly as beat's own run derives it from "now", so both reach
the same keys and never both pay. Beat passes nothing.
"""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from config.clock import run_moment
from copytrading.futures.services.funding import funding_settle_due
from copytrading.futures.services.liquidation import risk_sweep
from copytrading.futures.services.outbox import outbox_deliver_pending


@shared_task(
    name="futures.risk_sweep", queue="risk", autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5
)
def risk_sweep_run(market_id: int, tick_id: int) -> int:
    """Sweep a market after a price tick (idempotent per (market, tick))."""
    sweep = risk_sweep(market_id=market_id, tick_id=tick_id)
    return sweep.liquidated if sweep else 0


@shared_task(
    name="futures.outbox_deliver",
    queue="default",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def outbox_deliver(at: str | None = None) -> int:
    """Deliver pending "position closed" events to every registered consumer (no period: ``at`` is unused)."""
    return outbox_deliver_pending()


@shared_task(
    name="futures.funding_settle",
    queue="settlement",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def funding_settle(at: str | None = None) -> int:
    """Exchange funding for every active market at the funding time at or before ``at`` (default: now)."""
    return funding_settle_due(now=run_moment(at))
