"""Progress lines for the long property runs, so a quiet terminal never looks hung.

pytest captures a test's output; these lines are written to the terminal
reporter with capturing suspended, so they appear while the test runs, in
``-q`` mode too.
"""

from __future__ import annotations

import time

# Set by tests/conftest.py at start-up; None outside pytest (the lines are then dropped).
config = None
# At most one line per this many seconds, besides every tenth of the run.
HEARTBEAT_SECONDS = 20.0


class Progress:
    """Counts examples of one long run and reports every tenth of it (and at least every 20 s)."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, max(total, 1), 0
        self.started = self.last = time.monotonic()
        self.step = max(1, self.total // 10)

    def tick(self) -> None:
        self.done += 1
        now = time.monotonic()
        if self.done % self.step == 0 or now - self.last >= HEARTBEAT_SECONDS:
            self.last = now
            # Past the target, hypothesis is replaying or shrinking a failure.
            write(f"    {self.label}: {self.done} runs of {self.total} examples ({now - self.started:.0f} s)")


def write(line: str) -> None:
    # Looked up when used: the terminal reporter registers after the conftest is configured.
    terminal = config.pluginmanager.get_plugin("terminalreporter") if config else None
    if terminal is None:
        return
    capture = config.pluginmanager.get_plugin("capturemanager")
    if capture is None:
        terminal.write_line(line)
        return
    with capture.global_and_fixture_disabled():
        terminal.write_line(line)


def counted(machine: type, progress: Progress) -> type:
    """A subclass of a hypothesis state machine that ticks ``progress`` once per example (one machine each)."""

    class Counted(machine):
        def __init__(self) -> None:
            progress.tick()
            super().__init__()

    Counted.__name__ = machine.__name__
    return Counted
