"""The ops API for periodic jobs: a run is queued on commit and a worker records its outcome; operators
list the jobs and their runs, and see the runs read-only in the admin. (R-OP-01)"""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.test import Client
from django_celery_beat.models import PeriodicTask

from accounts.models import JobRun, LedgerAuditRun
from accounts.roles import OPERATOR_GROUPS
from config.celery import app
from config.schedules import crontab_for, register_schedules
from tests.accounts.jobs.jobs_helpers import CAMPAIGN, FINANCE, FIRE, RISK, api, post_run, run_job
from tests.factories import OperatorFactory, spot

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def registered(db):
    register_schedules()  # as `make run` does: beat's rows exist


def test_the_api_queues_the_run_on_commit_and_the_worker_records_its_result(
    pending, clock, finance, monkeypatch, django_capture_on_commit_callbacks
):
    lead, _ = pending
    clock.set(FIRE + timedelta(hours=1))
    body = {"reason": "beat was down"}
    with django_capture_on_commit_callbacks() as queued:
        response = post_run(finance, "profit-share-daily", body, key="run-1")
    assert response.status_code == 202, response.data
    data = response.data
    assert (data["status"], data["period"], data["actor"]) == ("queued", "2026-11-22T16:00:00Z", finance.email)
    assert len(queued) == 1 and spot(lead.user).balance == 0  # queued, not run, by the request
    # Without a worker (CELERY_TASK_ALWAYS_EAGER, off in these settings), the queued task runs in-process.
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    queued[0]()
    run = JobRun.objects.get()
    assert (run.status, run.result, run.error) == ("succeeded", 1, "")
    assert spot(lead.user).balance == D("10")
    # A retried request replays the first answer and queues nothing new.
    with django_capture_on_commit_callbacks() as replayed:
        again = post_run(finance, "profit-share-daily", body, key="run-1")
    assert (again.status_code, again["Idempotent-Replay"], again.data["id"]) == (202, "true", run.pk)
    assert not replayed and JobRun.objects.count() == 1
    listed = api(finance).get("/api/v1/ops/jobs/profit-share-daily/runs").data["results"]
    assert [(r["id"], r["status"], r["result"]) for r in listed] == [(run.pk, "succeeded", 1)]


@pytest.mark.slow
def test_a_real_worker_runs_a_run_queued_by_the_api(start_worker, monkeypatch):
    import accounts.jobs

    queue = f"test-{uuid.uuid4().hex[:8]}"  # this test's own queue, so no other worker takes its message
    jobs = tuple(replace(job, queue=queue) if job.name == "ledger-audit" else job for job in accounts.jobs.JOBS)
    monkeypatch.setattr(accounts.jobs, "JOBS", jobs)
    register_schedules()
    risk = OperatorFactory(groups=[RISK])
    proc = start_worker([queue])
    assert post_run(risk, "ledger-audit", {"reason": "after the incident"}).status_code == 202
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and JobRun.objects.get().status in ("queued", "running"):
        if proc.poll() is not None:
            pytest.fail(f"worker exited early:\n{proc.stdout.read()}")
        time.sleep(0.2)
    run = JobRun.objects.get()
    assert run.status == "succeeded", run.error
    assert run.result == LedgerAuditRun.objects.get().pk


# --- what operators see -----------------------------------------------------------------------------------


def test_the_job_list_shows_schedules_money_and_recent_runs(clock, risk):
    clock.set(FIRE + timedelta(hours=1))
    task = PeriodicTask.objects.get(name="statistics-daily")
    task.crontab = crontab_for(minute="20", hour="1")
    task.save()
    run_job("statistics-daily")
    response = api(risk).get("/api/v1/ops/jobs")
    assert response.status_code == 200
    jobs = {job["name"]: job for job in response.data}
    money_jobs = {name for name, job in jobs.items() if job["moves_money"]}
    assert money_jobs == {"funding", "profit-share-daily", "voucher-expiry", "loss-compensation-credit"}
    stats = jobs["statistics-daily"]
    schedule = stats["schedule"]
    assert (schedule["minute"], schedule["hour"], schedule["timezone"]) == ("20", "1", "Asia/Shanghai")
    assert stats["last_fire"] == "2026-11-21T17:20:00Z" and stats["next_fire"] == "2026-11-22T17:20:00Z"
    assert [run["status"] for run in stats["recent_runs"]] == ["succeeded"]
    assert api(OperatorFactory(groups=[CAMPAIGN])).get("/api/v1/ops/jobs").status_code == 403


def test_the_runs_of_a_job_are_cursor_paginated_newest_first(risk):
    for _ in range(3):
        run_job("ledger-audit")
    client = api(risk)
    first = client.get("/api/v1/ops/jobs/ledger-audit/runs", {"page_size": 2}).data
    second = client.get(first["next"]).data
    ids = [r["id"] for r in first["results"] + second["results"]]
    assert ids == sorted(JobRun.objects.values_list("pk", flat=True), reverse=True)


@pytest.mark.parametrize(("group", "status"), [(FINANCE, 200), (RISK, 200), (CAMPAIGN, 403)])
def test_runs_are_read_only_in_the_admin(group, status):
    run_job("ledger-audit")
    client = Client()
    client.force_login(OperatorFactory(groups=[group]))
    assert client.get("/admin/accounts/jobrun/").status_code == status
    assert client.get("/admin/accounts/jobrun/add/").status_code == 403
    pk = JobRun.objects.get().pk
    assert client.post(f"/admin/accounts/jobrun/{pk}/delete/", {"post": "yes"}).status_code == 403
    assert JobRun.objects.filter(pk=pk).exists()


def test_every_permission_the_roles_name_exists_and_is_granted():
    from django.contrib.auth.models import Group

    for name, perms in OPERATOR_GROUPS.items():
        granted = {f"{p.content_type.app_label}.{p.codename}" for p in Group.objects.get(name=name).permissions.all()}
        assert set(perms) <= granted, (name, set(perms) - granted)
    finance, risk = OperatorFactory(groups=[FINANCE]), OperatorFactory(groups=[RISK])
    assert finance.has_perms(["accounts.run_job", "accounts.run_money_job"])
    assert risk.has_perm("accounts.run_job") and not risk.has_perm("accounts.run_money_job")
