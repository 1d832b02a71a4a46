"""Suite-wide fixtures. The suite runs on real PostgreSQL and Redis: if either is
down it stops at once, saying which and how to start it, instead of skipping."""

from __future__ import annotations

import os
import socket
from decimal import Decimal
from urllib.parse import urlparse

import pytest
from rest_framework.test import APIClient

START_HINTS = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Redis": "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no",
}


def _reachable(url: str, default_port: int) -> tuple[str, int, bool]:
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or default_port
    try:
        with socket.create_connection((host, port), timeout=3):
            return host, port, True
    except OSError:
        return host, port, False


def pytest_configure(config):
    from tests import progress

    progress.config = config


def pytest_runtest_setup(item):
    # The long property runs take minutes: say which one is running (`make test-fast` leaves them out).
    if item.get_closest_marker("long"):
        from tests import progress

        progress.write(f"\n  long test running: {item.nodeid}")


def pytest_sessionstart(session):
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.exit(f"the suite runs on PostgreSQL, but DATABASE_URL selects {db['ENGINE']}", returncode=2)
    checks = [
        ("PostgreSQL", f"postgres://{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}", 5432),
        ("Redis", settings.REDIS_URL, 6379),
    ]
    for name, url, port in checks:
        host, port, ok = _reachable(url, port)
        if not ok:
            pytest.exit(
                f"{name} is not reachable on {host}:{port}; the suite needs it (nothing is skipped).\n"
                f"Start it with: {START_HINTS[name]}\n"
                f"or point {'DATABASE_URL' if name == 'PostgreSQL' else 'REDIS_URL'} at a running server.",
                returncode=3,
            )


@pytest.fixture(autouse=True)
def _clean_cache():
    # Throttle counters live in the (real, Redis) cache: each test starts with none. Only this run's
    # keys go (its KEY_PREFIX): cache.clear() would flush another run's counters on the same server.
    import redis
    from django.conf import settings
    from django.core.cache import cache

    client = redis.Redis.from_url(settings.CACHE_REDIS_URL)
    keys = list(client.scan_iter(match=f"{cache.key_prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
    yield


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db):
    from tests.factories import UserFactory

    return UserFactory()


@pytest.fixture
def other_user(db):
    from tests.factories import UserFactory

    return UserFactory()


@pytest.fixture
def finance_operator(db):
    from tests.factories import OperatorFactory

    return OperatorFactory(groups=["Finance"])


@pytest.fixture
def campaign_operator(db):
    from tests.factories import OperatorFactory

    return OperatorFactory(groups=["Campaign operators"])


@pytest.fixture
def fund():
    """Credit a user's spot account: ``fund(user, "100")``."""
    from tests.factories import fund_spot

    return fund_spot


@pytest.fixture
def auth_client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def dec(value: str) -> Decimal:
    return Decimal(value)


os.environ.setdefault("HYPOTHESIS_EXAMPLES", "200")


@pytest.fixture
def start_worker(transactional_db):
    """Start a real `celery worker` on the given queues, on the Redis broker and the test database.

    One process by default (solo pool); ``processes`` > 1 forks that many, as a
    production `copy` worker does. ``env`` adds settings (e.g. ``COPY_FANOUT_BATCH``).
    """
    import subprocess
    import sys
    from pathlib import Path

    from django.conf import settings
    from django.db import connection

    from config.celery import app

    procs = []

    def start(queues: list[str], *, processes: int = 1, env: dict[str, str] | None = None):
        with app.connection_for_write() as conn:  # messages left by an earlier run must not be consumed
            for queue in queues:
                conn.default_channel.queue_purge(queue)
        db = connection.settings_dict
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
            "REDIS_URL": settings.REDIS_URL,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            **(env or {}),
        }
        pool = ["-P", "solo"] if processes == 1 else ["-P", "prefork", "-c", str(processes)]
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                *pool,
                "-Q",
                ",".join(queues),
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
                "--loglevel=INFO",
            ],
            cwd=Path(__file__).resolve().parents[1],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
