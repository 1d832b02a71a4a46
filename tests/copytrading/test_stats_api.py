"""Statistics through the API: the leaderboard, a trader's stats and flags, equity curves. (R-CT-18, R-CT-19)"""

from datetime import date, timedelta

import pytest
from rest_framework.test import APIClient

from copytrading.services.statistics import equity_snapshots_take, following_stats_refresh, trader_stats_refresh
from tests.copytrading.copy_helpers import client_for, follow, lead_order, make_lead
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(btc):
    leads = [make_lead(equity="10000"), make_lead(equity="20000")]
    following = follow(leads[0])
    lead_order(leads[0], btc)
    start = date(2026, 11, 1)
    for n in range(3):
        equity_snapshots_take(start + timedelta(days=n))
    trader_stats_refresh()
    following_stats_refresh()
    return leads, following


def test_the_leaderboard_sorts_filters_and_excludes_flags(history):
    leads, _ = history
    client = APIClient()
    response = client.get("/api/v1/traders/leaderboard", {"sort": "aum"})
    assert response.status_code == 200, response.data
    rows = response.data["results"]
    assert rows[0]["lead_id"] == leads[0].pk  # the one with a follower has assets under copy
    assert all("new" in r["flags"] for r in rows)  # three trading days: every trader is new
    assert client.get("/api/v1/traders/leaderboard", {"exclude_flags": "new"}).data["results"] == []
    assert client.get("/api/v1/traders/leaderboard", {"min_trading_days": 4}).data["results"] == []
    bad = client.get("/api/v1/traders/leaderboard", {"sort": "luck", "exclude_flags": "lucky"})
    assert bad.status_code == 400
    assert {"sort", "exclude_flags"} <= set(bad.data["fields"])


def test_a_traders_stats_and_equity_curve_are_public(history):
    leads, _ = history
    client = APIClient()
    stats = client.get(f"/api/v1/traders/{leads[0].pk}/stats")
    assert stats.status_code == 200
    assert stats.data["trading_days"] == 3 and stats.data["followers_count"] == 1
    curve = client.get(f"/api/v1/traders/{leads[0].pk}/equity", {"days": 2}).data
    assert [p["day"] for p in curve] == ["2026-11-02", "2026-11-03"]
    assert client.get("/api/v1/traders/999999/stats").status_code == 404


def test_a_followings_stats_and_curve_are_its_owners_only(history):
    _, following = history
    mine = client_for(following.follower)
    assert mine.get(f"/api/v1/followings/{following.pk}/stats").status_code == 200
    assert len(mine.get(f"/api/v1/followings/{following.pk}/equity").data) == 3
    stranger = client_for(UserFactory())
    assert stranger.get(f"/api/v1/followings/{following.pk}/stats").status_code == 404
    assert stranger.get(f"/api/v1/followings/{following.pk}/equity").status_code == 404


def test_the_traders_list_sorts_and_filters_by_the_stored_statistics(history):
    """R-CT-18/19 on GET /api/v1/traders: sort by AUM, filter by trading days and excluded flags."""
    leads, _ = history
    client = APIClient()
    rows = client.get("/api/v1/traders", {"sort": "aum"}).data["results"]
    assert rows[0]["id"] == leads[0].pk
    assert client.get("/api/v1/traders", {"min_trading_days": 3}).data["count"] == 2
    assert client.get("/api/v1/traders", {"exclude_flags": ["new"]}).data["count"] == 0
    bad = client.get("/api/v1/traders", {"max_drawdown": "-1"})
    assert bad.status_code == 400 and "max_drawdown" in bad.data["fields"]


def test_the_trader_detail_includes_stats_flags_and_copy_quality(history):
    leads, _ = history
    detail = APIClient().get(f"/api/v1/traders/{leads[0].pk}").data
    assert detail["stats"]["trading_days"] == 3
    assert "new" in detail["stats"]["flags"]
    assert "slippage_avg_bps" in detail["stats"] and "missed_rates" in detail["stats"]


def test_a_close_refreshes_the_followings_stored_statistics(btc, history):
    """Between daily runs, a copy's close updates the follower's stats through the outbox."""
    from copytrading.futures.services.outbox import outbox_deliver_pending
    from copytrading.models import FollowingStats

    leads, following = history
    before = FollowingStats.objects.get(following=following).updated_at
    lead_order(leads[0], btc, side="sell", qty="0.1", reduce_only=True)
    outbox_deliver_pending()
    stats = FollowingStats.objects.get(following=following)
    assert stats.updated_at > before and stats.open_positions == 0
