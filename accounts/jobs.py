"""Operators run a registered periodic job now, or for a past period beat missed.

A run for time ``at`` (default: now) stands for the latest time the job's beat
crontab fires at or before ``at`` — read from django-celery-beat's row, since
operators may have edited it. The job's Celery task is called with that fire
time as its ``at``, and derives its period from it exactly as beat's own run
derives it from "now" (the platform date, the funding time): the per-period
keys the services already use then make a manual run and the scheduled one
never both pay. A future ``at`` is refused, since its run would use up the key
of the real run to come.

It names no app's code and calls each job's task by its registered (stable)
name, so accounts, below every app whose jobs it runs, owns the ``JobRun``
record; the jobs themselves are declared in ``config.schedules``.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from celery import current_app
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from accounts.models import JobRun, JobRunStatus, JobRunVia, User
from config.errors import InvalidInput, RuleViolation
from config.queueing import enqueue_on_commit
from config.schedules import JOBS, Job, last_fire_utc, next_fire_utc

logger = logging.getLogger(__name__)

RUN_PERMISSION = "accounts.run_job"
RUN_MONEY_PERMISSION = "accounts.run_money_job"
MAX_REASON = 500


def job_find(*, name: str) -> Job | None:
    """The job of ``config.schedules.JOBS`` called ``name``, or None."""
    return next((job for job in JOBS if job.name == name), None)


def job_crontab(*, job: Job):
    """The crontab beat fires ``job`` by: its registered row (operators' edits included), else the coded one.

    Raises ``RuleViolation`` when an operator moved the job to a schedule that is not a crontab.
    """

    task = PeriodicTask.objects.filter(name=job.name).select_related("crontab").first()
    if task is None:
        # Not registered yet (setup_schedules not run): the schedule beat would get, built unsaved.
        return CrontabSchedule(
            minute=job.minute,
            hour=job.hour,
            day_of_week=job.day_of_week,
            day_of_month="*",
            month_of_year="*",
            timezone=ZoneInfo(job.tz),
        )
    if task.crontab is None:
        raise RuleViolation(
            f"{job.name} is not scheduled by a crontab in the beat database, so it has no period to run for",
            fields={"name": ["has no crontab schedule"]},
        )
    return task.crontab


def job_period(*, job: Job, at: datetime) -> datetime:
    """The fire time (UTC) a run of ``job`` for ``at`` stands for: the last fire at or before ``at``."""
    return last_fire_utc(job_crontab(job=job), at)


def job_next_fire(*, job: Job, after: datetime) -> datetime:
    return next_fire_utc(job_crontab(job=job), after)


def _permission_for(job: Job) -> str:
    return RUN_MONEY_PERMISSION if job.moves_money else RUN_PERMISSION


def job_run_allowed(*, job: Job, user: User) -> bool:
    """Whether ``user`` may run ``job`` by hand: an active operator with the run (or the money-run) permission."""
    return bool(user.is_active and user.is_staff and user.has_perm(_permission_for(job)))


def job_at_parse(text: str) -> datetime:
    """An ISO 8601 time with its offset (``2026-11-22T16:00:00Z``, ``…+08:00``); ``InvalidInput`` on ``at``."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput("at", "must be an ISO 8601 date and time, e.g. 2026-11-22T16:00:00+00:00") from None
    if timezone.is_naive(moment):
        # UTC or platform time? Guessing would run the wrong day: the operator says which.
        raise InvalidInput("at", "needs a UTC offset, e.g. 2026-11-22T16:00:00+00:00 or 2026-11-23T00:00:00+08:00")
    return moment


def job_run_request(*, name: str, at: datetime | None, actor: User | None, reason: str, via: str) -> JobRun:
    """Validate and record a manual run of the job ``name`` for ``at`` (default: now); return the run.

    Through the API (``via="api"``) the run is queued for a worker once the caller's transaction commits;
    the command runs it itself with ``job_run_execute``. Raises ``InvalidInput`` (unknown job, a future or
    unusable ``at``, a money-moving job without a reason or without an actor), ``PermissionDenied`` when
    ``actor`` may not run the job.
    """
    job = job_find(name=name)
    if job is None:
        raise InvalidInput("name", f"no periodic job is called {name!r}", code="not_found")
    reason = (reason or "").strip()
    if job.moves_money and actor is None:
        raise InvalidInput("by", f"{job.name} moves money: say who runs it (the Finance operator)")
    if actor is not None and not job_run_allowed(job=job, user=actor):
        raise PermissionDenied(f"running {job.name} requires the '{_permission_for(job)}' permission")
    if job.moves_money and not reason:
        raise InvalidInput("reason", f"{job.name} moves money: give the reason for running it by hand")
    if len(reason) > MAX_REASON:
        raise InvalidInput("reason", f"must be at most {MAX_REASON} characters")
    now = timezone.now()
    at = at or now
    if at > now:
        raise InvalidInput(
            "at", "is in the future: a run for a period that has not come would use up the scheduled run's key"
        )
    period = job_period(job=job, at=at)
    if not job.has_period and period != job_period(job=job, at=now):
        raise InvalidInput("at", f"{job.name} always works on the present state: it can only run for now")
    run = JobRun.objects.create(
        job=job.name, period=period, at=at, actor=actor, reason=reason, via=via, status=JobRunStatus.QUEUED
    )
    if via == JobRunVia.API:
        # On the job's own queue, so a settlement job runs where the scheduled one does.
        enqueue_on_commit("accounts.job_run_execute", run_id=run.pk, options={"queue": job.queue})
    return run


def job_run_execute(*, run_id: int) -> JobRun:
    """Run a recorded manual run: call its job's task in this process with the period as ``at``, store the outcome.

    A run that already finished is left as it is (a redelivered message); one left ``running`` by a
    worker that died runs again, which the job's per-period keys make harmless.
    """
    with transaction.atomic():
        run = JobRun.objects.select_for_update().get(pk=run_id)
        if run.status in (JobRunStatus.SUCCEEDED, JobRunStatus.FAILED):
            return run
        run.status, run.started_at = JobRunStatus.RUNNING, timezone.now()
        run.save(update_fields=["status", "started_at"])
    job = job_find(name=run.job)
    try:
        if job is None:
            raise LookupError(f"the job {run.job!r} is no longer declared in config.schedules.JOBS")
        # Synchronously, by its registered name: the task's body is the job, with the period as its "now".
        result = _task_of(job)(at=run.period.isoformat())
    except Exception as exc:  # any failure of the job is the run's outcome, recorded for operators
        logger.exception("manual run %s of %s for %s failed", run.pk, run.job, run.period)
        run.status, run.error, run.result = JobRunStatus.FAILED, f"{type(exc).__name__}: {exc}", None
    else:
        # Stored as JSON; a value JSON cannot hold (a date, a Decimal) is kept as its text.
        run.status, run.result, run.error = JobRunStatus.SUCCEEDED, json.loads(json.dumps(result, default=str)), ""
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "result", "error", "finished_at"])
    return run


def _task_of(job: Job):
    return current_app.tasks[job.task]  # every app's ready() registers its tasks by name


def job_run_list(*, name: str) -> QuerySet[JobRun]:
    """The manual runs of the job ``name``, newest first."""
    return JobRun.objects.filter(job=name).select_related("actor").order_by("-id")


def job_runs_recent(*, names: list[str], limit: int = 5) -> dict[str, list[JobRun]]:
    """The latest ``limit`` manual runs of each job in ``names``."""
    return {name: list(job_run_list(name=name)[:limit]) for name in names}
