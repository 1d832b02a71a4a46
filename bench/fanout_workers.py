"""Real `copy` workers for the fan-out benchmark: one Celery worker with K processes on Redis.

The benchmark's lead order commits in the benchmark's process; its fan-out then
runs exactly as in production: ``copy_fanout_run`` is queued on commit, the
worker process that takes it queues one ``copy_fanout_batch_run`` per batch,
and the K processes share them. The time measured
is from the lead's commit to the commit of the last follower's decision, seen
by polling the decision count from the benchmark's process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/5"
QUEUE = "copy"
POLL_S = 0.01  # how often the benchmark counts the decisions while the workers run (~1.5 ms each)


class CopyWorkers:
    """A `celery worker -Q copy -c K` subprocess against the benchmark's database and broker."""

    def __init__(self, *, processes: int, database_url: str, broker_url: str, batch: int | None) -> None:
        self.processes = processes
        self.database_url = database_url
        self.broker_url = broker_url
        self.batch = batch
        self.proc: subprocess.Popen | None = None
        self.output: list[str] = []
        self._ready = threading.Event()

    def start(self, timeout: float = 60) -> None:
        import redis

        redis.Redis.from_url(self.broker_url).delete(QUEUE)  # nothing left over from an earlier run
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": self.database_url,
            "CELERY_BROKER_URL": self.broker_url,
            "REDIS_URL": self.broker_url,
            "CELERY_TASK_ALWAYS_EAGER": "false",
        }
        if self.batch:
            env["COPY_FANOUT_BATCH"] = str(self.batch)
        command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", QUEUE, "-P", "prefork"]
        command += ["-c", str(self.processes), "--without-mingle", "--without-gossip", "--without-heartbeat"]
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [*command, "--loglevel=INFO"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(timeout):
            self.stop()
            raise RuntimeError("the copy worker did not start:\n" + "".join(self.output[-40:]))

    def _read(self) -> None:
        assert self.proc and self.proc.stdout
        for line in self.proc.stdout:
            self.output.append(line)
            if " ready." in line:
                self._ready.set()

    def warm(self, order_id: int) -> None:
        """Give every process a connection and its imports: empty batches of an order already decided."""
        import redis

        from copytrading.tasks import copy_fanout_batch_run

        for _ in range(4 * self.processes):
            copy_fanout_batch_run.delay(order_id, 0, 0)
        client = redis.Redis.from_url(self.broker_url)
        deadline = time.monotonic() + 30
        while client.llen(QUEUE) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the last ones taken finish

    def wait_decided(self, order_id: int, n: int, timeout: float = 120) -> tuple[float, int]:
        """Poll until n decisions of the order are committed; return (the moment, the count)."""
        from copytrading.models import CopyDecision

        decisions = CopyDecision.objects.filter(lead_order_id=order_id)
        deadline = time.monotonic() + timeout
        while True:
            count = decisions.count()
            now = time.perf_counter()
            if count >= n or time.monotonic() > deadline:
                return now, count
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError("the copy worker exited:\n" + "".join(self.output[-40:]))
            time.sleep(POLL_S)

    def peak_rss_mb(self) -> float:
        """The largest peak resident memory (VmHWM) of the worker's processes."""
        if not self.proc:
            return 0.0
        pids = [self.proc.pid]
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        if children.exists():
            pids += [int(p) for p in children.read_text().split()]
        peak = 0.0
        for pid in pids:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]) / 1024)
            except OSError:
                continue
        return peak

    def stop(self) -> None:
        if os.environ.get("BENCH_WORKER_LOG"):
            Path(os.environ["BENCH_WORKER_LOG"]).write_text("".join(self.output))
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
