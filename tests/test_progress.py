"""The long property runs say which one is running and how far it is."""

from types import SimpleNamespace

import pytest

from tests import progress


class Terminal:
    def __init__(self):
        self.lines = []

    def write_line(self, line):
        self.lines.append(line)


@pytest.fixture
def terminal(monkeypatch):
    terminal = Terminal()
    plugins = {"terminalreporter": terminal, "capturemanager": None}
    fake = SimpleNamespace(pluginmanager=SimpleNamespace(get_plugin=plugins.get))
    monkeypatch.setattr(progress, "config", fake)
    return terminal


def test_a_long_run_reports_every_tenth_of_its_examples(terminal):
    run = progress.Progress("ledger", 200)
    for _ in range(200):
        run.tick()
    assert len(terminal.lines) == 10
    assert terminal.lines[0].startswith("    ledger: 20 runs of 200 examples")


def test_a_slow_run_reports_at_least_every_heartbeat(terminal, monkeypatch):
    monkeypatch.setattr(progress, "HEARTBEAT_SECONDS", 0.0)
    run = progress.Progress("venue", 1000)
    run.tick()
    assert terminal.lines == [terminal.lines[0]] and "venue: 1 runs of 1000" in terminal.lines[0]


def test_each_example_of_a_counted_machine_ticks_once(terminal):
    class Machine:
        def __init__(self):
            self.ready = True

    run = progress.Progress("m", 2)
    counted = progress.counted(Machine, run)
    assert counted().ready and counted.__name__ == "Machine"
    counted()
    assert run.done == 2
