"""Thin Celery tasks of the accounts app."""

from celery import shared_task

from accounts.services.audit import ledger_audit_record


@shared_task(acks_late=True, autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def ledger_audit_run() -> int:
    """Audit the ledger and store the report; operators are alerted by the log on failure."""
    return ledger_audit_record().pk
