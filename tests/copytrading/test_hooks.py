"""The copy engine's extension points (``copytrading.hooks``): the "following stopped" event."""

from decimal import Decimal as D

import pytest

from accounts.selectors import ledger_audit
from copytrading import hooks
from copytrading.futures.services.outbox import outbox_deliver_pending
from copytrading.models import Following, FollowingStatus
from copytrading.services.followings import following_stop
from tests.copytrading.copy_helpers import follow, lead_order, make_lead
from tests.factories import spot

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    """The followings a test listener heard stop, with the status each had when it heard."""
    events = []

    def listener(*, following):
        events.append((following.pk, Following.objects.get(pk=following.pk).status))

    hooks.register_following_stopped(listener)
    yield events
    hooks.unregister_following_stopped(listener)


def test_a_stop_at_market_tells_the_listeners_once_inside_the_settling_transaction(btc, heard):
    following = follow(make_lead(), amount="1000")

    following_stop(following=following, method="market")
    following_stop(following=following, method="market")  # stopping twice is harmless, and tells no one again

    assert heard == [(following.pk, FollowingStatus.STOPPED)]  # already written as stopped when they hear


def test_a_stop_by_following_the_trader_to_close_tells_the_listeners_when_the_last_copy_closes(btc, heard):
    lead = make_lead()
    following = follow(lead, amount="1000")
    lead_order(lead, btc)

    following_stop(following=following, method="follow_close")
    assert heard == []  # still stopping: a copy is open
    lead_order(lead, btc, side="sell", qty="0.1", reduce_only=True)
    outbox_deliver_pending()

    assert heard == [(following.pk, FollowingStatus.STOPPED)]


def test_a_listener_that_fails_undoes_the_stop_so_no_money_moves_without_it(btc):
    following = follow(make_lead(), amount="1000")

    def failing(*, following):
        raise RuntimeError("the voucher center is down")

    hooks.register_following_stopped(failing)
    try:
        with pytest.raises(RuntimeError):
            following_stop(following=following, method="market")
    finally:
        hooks.unregister_following_stopped(failing)

    following.refresh_from_db()
    assert following.status == FollowingStatus.STOPPING  # settled later, when it can be told
    assert spot(following.follower).balance == D("0")
    assert ledger_audit().ok
    assert following_stop(following=following, method="market").status == FollowingStatus.STOPPED
