"""Thin Celery tasks of vouchers (stable names; periodic ones take ``at`` as the venue's do)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from config.clock import run_moment
from vouchers.services.claims import vouchers_expire_due
from vouchers.services.loss_coverage import compensations_credit_due, loss_coverage_expire_due
from vouchers.services.payouts import payouts_expire_due, payouts_held_alert, payouts_issue_due

RETRIES = {"autoretry_for": (OperationalError,), "retry_backoff": True, "max_retries": 5}


@shared_task(name="vouchers.expire", queue="settlement", **RETRIES)
def vouchers_expire(at: str | None = None) -> int:
    """Hourly: claimed vouchers past their validity, payout vouchers unclaimed or unused in time, and
    loss-coverage vouchers past their expiry expire and release their reservations (R-VC-01, R-VC-07,
    R-VC-09, R-XV-03, R-LC-02)."""
    now = run_moment(at)
    return vouchers_expire_due(now=now) + payouts_expire_due(now=now) + loss_coverage_expire_due(now=now)


@shared_task(name="vouchers.reimbursement_daily", queue="settlement", **RETRIES)
def reimbursement_daily(at: str | None = None) -> int:
    """The daily run after a trigger: issue the pending reimbursements as experience vouchers (R-VC-07)."""
    return payouts_issue_due(now=run_moment(at))


@shared_task(name="vouchers.held_payout_alert", queue="default", **RETRIES)
def held_payout_alert(at: str | None = None) -> int:
    """Hourly: warn about held payouts a day before they pass the week they must be paid in (R-VC-07)."""
    return payouts_held_alert(now=run_moment(at))


@shared_task(name="vouchers.loss_compensation_credit", queue="settlement", **RETRIES)
def loss_compensation_credit(at: str | None = None) -> dict[str, int]:
    """00:05 UTC: credit the loss-coverage compensations of closes before today (UTC) to spot; withhold
    those of accounts disabled for voucher abuse (R-LC-05, R-LC-06)."""
    credited, withheld = compensations_credit_due(now=run_moment(at))
    return {"credited": credited, "withheld": withheld}
