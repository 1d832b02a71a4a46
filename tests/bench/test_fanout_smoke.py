"""The copy fan-out benchmark's own checks, at a small N inside the test database (times are not asserted).

R-CT-02 / R-CT-04 / R-CT-09 … R-CT-14: every follower gets exactly one decision per
lead order, with the planned reason or size; positions and the ledger match the
decisions; the lead's full close closes every copy; the ledger stays clean.
"""

import pytest

from bench.fanout import GROUPS, run_benchmark

pytestmark = pytest.mark.django_db


def test_the_fanout_benchmark_decides_every_follower_once_and_keeps_positions_and_ledger_in_step():
    results = run_benchmark(60)

    assert results["checks"] == {
        "slots_fit": True,
        "lead_open_copyable": True,
        "open_decided_all": True,
        "open_one_decision_per_follower": True,
        "open_reasons_and_sizes_as_planned": True,
        "open_positions_match_decisions": True,
        "open_settings_applied": True,
        "open_new_pair_auto_followed": True,
        "open_ledger_matches_decisions": True,
        "lead_close_is_full": True,
        "close_decided_all": True,
        "close_one_decision_per_follower": True,
        "close_followed_for_every_copy": True,
        "close_positions_closed": True,
        "close_ledger_matches_closes": True,
        "other_positions_untouched": True,
        "ledger_audit_ok": True,
    }
    assert results["ok"]
    # Every refusal the mix plans really happens, and most followers are copied.
    assert {reason for _group, _weight, reason in GROUPS if reason} <= set(results["outcomes"])
    assert results["followed"] > 30
    assert sum(results["outcomes"].values()) == 60
    for name in ("open", "close"):
        assert results[name]["rows_by_table"]["copytrading_copydecision"] == 60
        assert results[name]["rows"] > 60 and results[name]["floor_ms"] > 0
    assert results["open"]["rows_by_table"]["copytrading_position"] == results["followed"]
    assert results["close"]["rows_by_table"]["copytrading_positionclose"] == results["followed"]


def test_the_fanout_benchmark_wants_a_follower_per_group_of_settings():
    with pytest.raises(ValueError, match="one per group"):
        run_benchmark(len(GROUPS) - 1)
