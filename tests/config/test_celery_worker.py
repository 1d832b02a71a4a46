"""A real Celery worker process, on the real Redis broker and the test database, runs a task."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction

from accounts.models import LedgerAuditRun
from accounts.tasks import ledger_audit_run
from config.celery import app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker(transactional_db):
    """Start `celery worker` on a queue of its own, pointed at the test database."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-P",
            "solo",
            "-Q",
            queue,
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
            "--loglevel=INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield queue, proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


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
