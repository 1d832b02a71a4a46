"""Celery tasks are named, not located: stable names that beat rows and queued messages can rely on."""

import importlib

import pytest
from celery import current_app
from django.db import transaction

from config.queueing import enqueue_on_commit
from config.schedules import JOBS

APP_TASKS = {
    "accounts.ledger_audit",
    "accounts.job_run_execute",
    "futures.risk_sweep",
    "futures.outbox_deliver",
    "futures.funding_settle",
    "copytrading.copy_fanout",
    "copytrading.copy_fanout_batch",
    "copytrading.copy_fanout_reconcile",
    "copytrading.profit_share_daily",
    "copytrading.statistics_daily",
    "vouchers.expire",
    "vouchers.reimbursement_daily",
    "vouchers.held_payout_alert",
    "vouchers.loss_compensation_credit",
}


def registered() -> set[str]:
    return {name for name in current_app.tasks if not name.startswith("celery.")}


def test_every_task_declares_a_stable_name_and_is_registered_at_app_start():
    assert registered() == APP_TASKS


def test_every_scheduled_job_names_a_registered_task():
    assert {job.task for job in JOBS} <= registered()


def test_the_beat_rename_migration_maps_every_old_module_path_to_a_registered_name():
    renamed = importlib.import_module("copytrading.migrations.0012_stable_task_names").RENAMED
    assert set(renamed.values()) <= registered()
    assert all(old.split(".")[1] == "tasks" for old in renamed)  # the old names were module paths


@pytest.mark.django_db
def test_queueing_an_unknown_name_fails_at_once_not_after_the_commit():
    with transaction.atomic(), pytest.raises(KeyError):
        enqueue_on_commit("futures.no_such_task")
