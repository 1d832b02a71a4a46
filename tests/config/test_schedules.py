"""Schedules are declared in platform time (Asia/Shanghai) and stored for beat's database scheduler."""

from datetime import UTC, datetime

import pytest
from django_celery_beat.models import PeriodicTask

from config.schedules import JOBS, Job, crontab_for, next_fire_utc, register_schedules

pytestmark = pytest.mark.django_db


def test_midnight_platform_time_fires_at_16_utc_the_day_before():
    crontab = crontab_for(minute="0", hour="0")
    fire = next_fire_utc(crontab, after=datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    assert fire == datetime(2026, 11, 20, 16, 0, tzinfo=UTC)


def test_monday_midnight_platform_time_fires_on_sunday_at_16_utc():
    crontab = crontab_for(minute="0", hour="0", day_of_week="1")
    # Wednesday 2026-11-18 → next Monday 00:00 UTC+8 is Sunday 2026-11-22 16:00 UTC.
    fire = next_fire_utc(crontab, after=datetime(2026, 11, 18, 9, 0, tzinfo=UTC))
    assert fire == datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
    assert fire.weekday() == 6


def test_a_crontab_in_utc_fires_at_its_own_hour():
    crontab = crontab_for(minute="5", hour="0", tz="UTC")
    assert next_fire_utc(crontab, after=datetime(2026, 11, 20, 12, 0, tzinfo=UTC)) == datetime(
        2026, 11, 21, 0, 5, tzinfo=UTC
    )


def test_beat_itself_agrees_that_the_platform_midnight_job_is_due_at_16_utc():
    # Celery's own tz-aware crontab, as beat evaluates it, with the clock just past 16:00 UTC.
    crontab = crontab_for(minute="0", hour="0")
    schedule = crontab.schedule
    schedule.nowfun = lambda: datetime(2026, 11, 20, 16, 0, 30, tzinfo=UTC)
    due, _next = schedule.is_due(datetime(2026, 11, 20, 15, 59, 0, tzinfo=UTC))
    assert due
    schedule.nowfun = lambda: datetime(2026, 11, 20, 15, 58, 0, tzinfo=UTC)
    due, _next = schedule.is_due(datetime(2026, 11, 20, 15, 0, 0, tzinfo=UTC))
    assert not due


def test_registering_schedules_is_idempotent_and_keeps_operator_edits():
    register_schedules()
    assert PeriodicTask.objects.filter(name__in=[j.name for j in JOBS]).count() == len(JOBS)
    task = PeriodicTask.objects.get(name="ledger-audit")
    task.enabled = False
    task.save()
    assert register_schedules() == []
    task.refresh_from_db()
    assert task.enabled is False
    assert PeriodicTask.objects.filter(name="ledger-audit").count() == 1
    assert register_schedules(reset=True) == [j.name for j in JOBS]
    task.refresh_from_db()
    assert task.enabled is True


def test_only_existing_tasks_are_registered():
    from config.celery import app

    app.loader.import_default_modules()
    for job in JOBS:
        assert job.task in app.tasks, f"{job.name} names a task that does not exist"


def test_a_job_made_for_the_test_is_stored_in_platform_time():
    register_schedules(
        jobs=(Job(name="test-weekly", task="accounts.tasks.ledger_audit_run", hour="0", day_of_week="1"),)
    )
    task = PeriodicTask.objects.get(name="test-weekly")
    assert str(task.crontab.timezone) == "Asia/Shanghai"
    assert next_fire_utc(task.crontab, after=datetime(2026, 11, 23, 0, 0, tzinfo=UTC)) == datetime(
        2026, 11, 29, 16, 0, tzinfo=UTC
    )
