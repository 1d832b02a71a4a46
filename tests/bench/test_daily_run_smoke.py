"""The daily profit-share benchmark's own checks, at a small N inside the test database (times are not asserted).

R-PS-01 / R-PS-04 / R-PS-06: every flat following is settled exactly once on the day, its
lead receives exactly ratio × max(0, C − H) rounded down, frozen shares are paid or returned,
H moves to C; followings with an open copy are left alone; a second run changes nothing; the
ledger stays clean.
"""

import pytest

from bench.daily_run import run_benchmark

pytestmark = pytest.mark.django_db


def test_the_daily_run_benchmark_settles_every_flat_following_once_and_leaves_open_copies_alone():
    results = run_benchmark(200, batch=37)  # several batches, one of them partial

    assert results["checks"] == {
        "c_as_built": True,
        "first_settled_every_flat": True,
        "one_settlement_per_flat_following": True,
        "settlements_pay_the_pending_share": True,
        "no_settlement_for_open_copies": True,
        "leads_received_the_pending_shares": True,
        "frozen_accounts_of_flat_emptied": True,
        "flat_sub_accounts_paid_and_refunded": True,
        "open_copies_untouched": True,
        "high_water_marks_moved_to_c": True,
        "second_run_settles_nothing": True,
        "ledger_audit_ok": True,
    }
    assert results["ok"]
    # The mix the checks rely on is really there.
    assert results["flat"] == results["open"] == 100
    assert 0 < results["frozen"] < results["flat"]
    assert 0 < results["nothing_pending"] < results["flat"] // 2
    assert results["first"]["settled"] == 100 and results["second"]["settled"] == 0
    rows = results["first"]["rows_by_table"]
    assert rows["copytrading_sharesettlement"] == 100
    assert rows["accounts_journalentry"] == 3  # one entry per batch: the 100 flat followings in batches of 37
    assert results["first"]["floor_ms"] > 0 and results["aggregate_floor_ms"] > 0


def test_the_daily_run_benchmark_wants_enough_followings_for_the_mix():
    with pytest.raises(ValueError, match="at least 20"):
        run_benchmark(19)
