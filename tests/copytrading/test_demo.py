"""The living demo: `seed_demo` plays lead traders' past through the real services, once; the feed moves
the marks. (R-CT-18, R-CT-19, R-MG-08)"""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from rest_framework.test import APIClient

from accounts.models import JournalEntry, Posting, User
from accounts.selectors import ledger_audit
from config.clock import platform_today
from copytrading.futures.models import MarkPrice, Order, Position, PositionClose, PositionStatus, PriceSource
from copytrading.models import CopyDecision, EquitySnapshot, Following, LeadTrader, SnapshotKind
from copytrading.services.demo_history import DAYS, FOLLOWINGS, LEADS


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The demo, seeded once for this module (a seed takes seconds), in a transaction rolled back after it;
    each test runs in its own savepoint inside it, as usual."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield seed()
        transaction.set_rollback(True)


pytestmark = [pytest.mark.usefixtures("demo"), pytest.mark.django_db]


def counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "orders": Order.objects.count(),
        "closes": PositionClose.objects.count(),
        "snapshots": EquitySnapshot.objects.count(),
        "entries": JournalEntry.objects.count(),
        "postings": Posting.objects.count(),
        "prices": MarkPrice.objects.count(),
        "decisions": CopyDecision.objects.count(),
    }


def simulate(*args) -> str:
    out = StringIO()
    call_command("simulate_market", *[str(a) for a in args], stdout=out, stderr=StringIO())
    return out.getvalue()


def test_seeding_again_changes_nothing_and_credits_nothing_twice(demo):
    assert "Played" in demo
    first = counts()
    assert "nothing played again" in seed()
    assert counts() == first
    assert first["orders"] >= 30 and first["snapshots"] > DAYS  # a past worth showing
    assert ledger_audit().ok


def test_the_demo_lists_approved_lead_traders_on_the_traders_list_and_the_leaderboard():
    client = APIClient()
    traders = client.get("/api/v1/traders")
    assert traders.status_code == 200
    assert {t["nickname"] for t in traders.data["results"]} == {plan.nickname for plan in LEADS}
    board = client.get("/api/v1/traders/leaderboard", {"sort": "roi_30"})
    assert board.status_code == 200 and len(board.data["results"]) == len(LEADS)
    atlas = LeadTrader.objects.get(user__email="lead@demo.local")
    stats = client.get(f"/api/v1/traders/{atlas.pk}/stats").data
    assert stats["trading_days"] == DAYS + 1 and stats["followers_count"] == 2
    assert stats["win_rate"] is not None
    assert len(client.get(f"/api/v1/traders/{atlas.pk}/equity").data) == DAYS + 1
    newest = LeadTrader.objects.get(user__email="lead4@demo.local")
    assert "new" in client.get(f"/api/v1/traders/{newest.pk}/stats").data["flags"]  # under 30 trading days


def test_every_past_day_has_its_snapshot_and_a_following_puts_its_money_in_on_its_first_day():
    atlas = LeadTrader.objects.get(user__email="lead@demo.local")
    days = list(
        EquitySnapshot.objects.filter(kind=SnapshotKind.LEAD, subject_id=atlas.pk)
        .order_by("day")
        .values_list("day", flat=True)
    )
    today = platform_today()
    assert days == [today - timedelta(days=n) for n in range(DAYS, -1, -1)]
    plan = FOLLOWINGS[0]
    following = Following.objects.get(follower__email=plan.follower, lead=atlas)
    snapshots = EquitySnapshot.objects.filter(kind=SnapshotKind.FOLLOWING, subject_id=following.pk).order_by("day")
    assert snapshots.first().day == today - timedelta(days=plan.days)
    assert snapshots.first().net_flow == plan.amount
    assert all(s.net_flow == 0 for s in snapshots[1:])  # trading is not a flow
    assert MarkPrice.objects.filter(source=PriceSource.SIMULATED, at__date__lt=today - timedelta(days=1)).exists()


def test_every_follower_holds_a_copy_of_its_leads_open_position_made_by_the_fan_out():
    for following in Following.objects.select_related("lead__user"):
        lead_open = Position.objects.get(account__owner=following.lead.user, slot=0, status=PositionStatus.OPEN)
        copy = Position.objects.get(slot=following.pk, status=PositionStatus.OPEN)
        assert (copy.market, copy.side) == (lead_open.market, lead_open.side)
        assert CopyDecision.objects.get(following=following, lead_order__position=lead_open, is_close=False).followed
    assert CopyDecision.objects.filter(followed=True, is_close=True).exists()  # the leads' closes were copied too


def simulated() -> int:
    return MarkPrice.objects.filter(source=PriceSource.SIMULATED).count()


def test_the_feed_in_bounded_mode_ticks_every_market(settings):
    settings.DEMO_PRICE_FEED = True
    before = simulated()
    simulate("--demo-feed", "--ticks", "3", "--interval", "0", "--seed", "7")
    assert simulated() == before + 3 * 3


def test_the_feed_off_switch_moves_nothing(settings):
    settings.DEMO_PRICE_FEED = False
    before = simulated()
    assert "off" in simulate("--demo-feed", "--ticks", "3", "--interval", "0")
    assert simulated() == before


def test_the_demo_leads_trade_now_and_then_while_the_feed_runs():
    before = Order.objects.filter(account__owner__lead_trader__isnull=False, slot=0).count()
    out = simulate("--ticks", "4", "--interval", "0", "--seed", "3", "--lead-trades-every", "2")
    assert "placed 2 orders" in out
    assert Order.objects.filter(account__owner__lead_trader__isnull=False, slot=0).count() == before + 2
    assert ledger_audit().ok


def test_demo_lead_trades_are_refused_where_the_demo_is_off(settings):
    settings.DEMO_ENABLED = False
    with pytest.raises(CommandError, match="DEMO_ENABLED"):
        simulate("--ticks", "1", "--interval", "0", "--lead-trades-every", "1")
