"""The risk-sweep benchmark's own checks, at a small N inside the test database (times are not asserted).

R-MG-04 / R-MG-08: a tick liquidates exactly the positions it crosses, a tick
that crosses nothing touches none, and the ledger stays clean.
"""

import pytest

from bench.risk_sweep import run_benchmark

pytestmark = pytest.mark.django_db


def test_the_benchmark_liquidates_exactly_the_crossed_one_percent_and_keeps_the_ledger_clean():
    results = run_benchmark(400)

    assert results["checks"] == {
        "liquidation_prices_match_services": True,
        "empty_ticks_touched_nothing": True,
        "liquidated_exactly_the_expected": True,
        "sweep_counted_them": True,
        "all_closes_are_liquidations": True,
        "ledger_audit_ok": True,
    }
    assert results["ok"]
    assert (results["n"], results["liquidated"], results["expected_liquidated"]) == (400, 4, 4)
    assert results["floor_one_percent_rows"] > 0


def test_the_benchmark_wants_a_multiple_of_one_hundred_positions():
    with pytest.raises(ValueError, match="multiple of 100"):
        run_benchmark(150)
