"""Thin Celery tasks of the wiring layer (registered by ``config.celery``'s ``imports``, as config is no app)."""

from celery import shared_task


@shared_task(acks_late=True)
def job_run_execute(run_id: int) -> str:
    """Run an operator's queued manual run of a periodic job (``config.jobs``); return its final status."""
    from config.jobs import job_run_execute as execute

    return execute(run_id=run_id).status
