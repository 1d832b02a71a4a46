"""A real Celery worker process, on the real Redis broker and the test database, runs a task."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from django.db import transaction

from accounts.models import LedgerAuditRun
from accounts.tasks import ledger_audit_run
from config.celery import app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker(start_worker):
    queue = f"test-{uuid.uuid4().hex[:8]}"
    return queue, start_worker([queue])


@pytest.mark.slow
def test_a_real_worker_runs_a_queued_task_against_the_database(worker):
    queue, proc = worker
    assert app.conf.task_always_eager is False
    assert app.conf.broker_url.startswith("redis://")

    # Queued on commit, as every service queues its work.
    with transaction.atomic():
        transaction.on_commit(lambda: ledger_audit_run.apply_async(queue=queue))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not LedgerAuditRun.objects.exists():
        if proc.poll() is not None:
            pytest.fail(f"worker exited early:\n{proc.stdout.read()}")
        time.sleep(0.2)
    run = LedgerAuditRun.objects.first()
    assert run is not None, "the worker never ran the task"
    assert run.ok is True
    assert run.report["ok"] is True
