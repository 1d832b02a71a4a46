"""Queueing a Celery task by its registered name, once the current transaction commits.

Services sit below the thin tasks that call them (a task imports its service),
so a service that must queue follow-up work (a sweep after a price tick, the
batches of a fan-out, the outbox delivery) names the task instead of importing
it. Names are stable (every task declares ``name=``), each app's ``ready()``
imports its ``tasks`` module so the name is registered in every process, and
``apply_async`` keeps the task's own options (queue, retries) and eagerness.
"""

from __future__ import annotations

from typing import Any

from celery import current_app
from django.db import transaction


def enqueue_on_commit(name: str, *args: Any, options: dict[str, Any] | None = None, **kwargs: Any) -> None:
    """Queue ``name`` with these arguments after the commit (at once outside a transaction).

    ``options`` go to ``apply_async`` (e.g. another ``queue``). An unknown name raises
    ``KeyError`` now, not after the commit, so a typo fails its caller's tests.
    """
    task = current_app.tasks[name]
    transaction.on_commit(lambda: task.apply_async(args=args, kwargs=kwargs, **(options or {})))
