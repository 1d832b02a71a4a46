"""Celery application: JSON only, late acks, bounded tasks, queues named by what they carry.

Broker, eagerness and time limits come from Django settings (``CELERY_*``);
the policies below are the same in every environment.
"""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

QUEUES = ("default", "copy", "risk", "settlement")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    accept_content=["json"],
    task_serializer="json",
    result_serializer="json",
    task_ignore_result=True,
    # Acknowledged after the task ran and put back if its worker dies, so every
    # task must be harmless to run twice (they are: writes carry unique keys).
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_default_queue="default",
    task_queues=[Queue(name) for name in QUEUES],
    timezone="UTC",
    enable_utc=True,
    beat_scheduler="django_celery_beat.schedulers:DatabaseScheduler",
    broker_connection_retry_on_startup=True,
)
app.autodiscover_tasks()
