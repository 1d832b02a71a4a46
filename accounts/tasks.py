"""Thin Celery tasks of the accounts app."""

from celery import shared_task

from accounts import jobs
from accounts.services.audit import ledger_audit_record


@shared_task(
    name="accounts.ledger_audit", acks_late=True, autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5
)
def ledger_audit_run(at: str | None = None) -> int:
    """Audit the ledger and store the report; operators are alerted by the log on failure.

    ``at`` is accepted like every periodic task's, and unused: an audit always proves the present ledger.
    """
    return ledger_audit_record().pk


@shared_task(name="accounts.job_run_execute", acks_late=True)
def job_run_execute(run_id: int) -> str:
    """Run an operator's queued manual run of a periodic job (``accounts.jobs``); return its final status."""
    return jobs.job_run_execute(run_id=run_id).status
