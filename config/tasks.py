"""Thin Celery tasks of the wiring layer (registered by ``config.celery``'s ``imports``, as config is no app)."""

from celery import shared_task

from config.jobs import job_run_execute as execute


@shared_task(name="config.job_run_execute", acks_late=True)
def job_run_execute(run_id: int) -> str:
    """Run an operator's queued manual run of a periodic job (``config.jobs``); return its final status."""
    return execute(run_id=run_id).status
