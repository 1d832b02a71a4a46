"""The trader-list benchmark, small: every sort and filter answers in order (times are not asserted)."""

import pytest

from bench.leaderboard import run_benchmark


@pytest.mark.django_db
def test_the_trader_list_benchmark_sorts_and_filters_as_asked():
    results = run_benchmark(60, days=5, requests=16)
    assert all(results["checks"].values()), {k: v for k, v in results["checks"].items() if not v}
    assert results["traders"] == 60 and results["snapshots"] == 300
