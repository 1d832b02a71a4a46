"""The copy engine: sizing, closes, stop following, idempotent fan-out. (R-CT-02, R-CT-12, R-CT-13, R-CT-16, R-CT-17)"""

from decimal import Decimal as D

import pytest
from django.utils import timezone

from accounts.selectors import ledger_audit
from copytrading.futures.models import Position, PositionStatus
from copytrading.futures.services.outbox import outbox_deliver_pending
from copytrading.futures.services.positions import position_close
from copytrading.models import CopyDecision, FollowingStatus, LeadTrader
from copytrading.services.fanout import copy_fanout
from copytrading.services.followings import following_stop
from tests.copytrading.copy_helpers import copy_of, follow, lead_order, make_lead, sub_balance
from tests.factories import spot

pytestmark = pytest.mark.django_db


def test_smart_ratio_sizes_the_copy_by_the_two_equities_and_the_followers_leverage(btc):
    """R-CT-02: 0.1 BTC × 1,000 / 10,000 = 0.01 BTC; at the lead's 10x, margin 60 and fee 0.36."""
    lead = make_lead(equity="10000")
    following = follow(lead, amount="1000")
    order = lead_order(lead, btc, qty="0.1", leverage=10)
    assert order.lead_equity == D("10000")
    copy = copy_of(following, btc)
    assert (copy.qty, copy.leverage, copy.margin, copy.fees_paid) == (D("0.01"), 10, D("60"), D("0.36"))
    decision = CopyDecision.objects.get(following=following)
    assert (decision.followed, decision.qty, decision.price) == (True, D("0.01"), D("60000"))
    assert ledger_audit().ok


def test_fixed_leverage_sets_the_copys_margin(btc):
    lead = make_lead(equity="10000")
    following = follow(lead, amount="1000", leverage_mode="fixed", fixed_leverage=5)
    lead_order(lead, btc, qty="0.1", leverage=20)
    copy = copy_of(following, btc)
    assert (copy.qty, copy.leverage, copy.margin) == (D("0.01"), 5, D("120"))


def test_diverse_exploration_uses_a_fixed_margin_from_one_shared_pool(btc):
    """R-CT-02: 100 USDT margin at the lead's 10x → 1,000 / 60,000 = 0.016 BTC; two leads, one pool, two slots."""
    lead_a, lead_b = make_lead(), make_lead()
    first = follow(lead_a, amount="2000", mode="diverse", diverse_margin="100")
    second = follow(lead_b, amount="500", mode="diverse", user=first.follower, diverse_margin="100")
    assert first.sub_account_id == second.sub_account_id
    lead_order(lead_a, btc, qty="0.1")
    lead_order(lead_b, btc, qty="0.2")
    copies = Position.objects.filter(account=first.sub_account, status=PositionStatus.OPEN).order_by("slot")
    assert [(p.slot, p.qty) for p in copies] == [(first.pk, D("0.016")), (second.pk, D("0.016"))]


def test_a_lead_partial_close_closes_the_same_fraction_of_every_copy(btc):
    """R-CT-13: the lead closes 40 %; each follower closes 40 % of its copy."""
    lead = make_lead(equity="10000")
    small, large = follow(lead, amount="1000"), follow(lead, amount="5000")
    lead_order(lead, btc, qty="0.1")
    lead_order(lead, btc, side="sell", qty="0.04", reduce_only=True)
    assert copy_of(small, btc).qty == D("0.006")
    assert copy_of(large, btc).qty == D("0.03")
    decisions = CopyDecision.objects.filter(is_close=True)
    assert decisions.count() == 2 and all(d.followed for d in decisions)
    lead_order(lead, btc, side="sell", qty="0.06", reduce_only=True)
    assert copy_of(small, btc) is None and copy_of(large, btc) is None
    assert ledger_audit().ok


def test_only_fully_filled_lead_opens_are_copied(btc):
    """R-CT-12: a partly filled, then cancelled lead order is not copied."""
    btc.max_order_qty = D("0.05")
    btc.save()
    lead = make_lead(equity="100000")
    following = follow(lead)
    order = lead_order(lead, btc, qty="0.1")
    assert order.status == "partially_filled"
    decision = CopyDecision.objects.get(following=following)
    assert (decision.followed, decision.reason) == (False, "partial_fill")
    assert copy_of(following, btc) is None


def test_a_duplicated_or_retried_fanout_changes_nothing(btc):
    lead = make_lead()
    following = follow(lead)
    order = lead_order(lead, btc)
    balance = sub_balance(following)
    assert copy_fanout(lead_order_id=order.pk) == 0
    assert copy_fanout(lead_order_id=order.pk) == 0
    assert CopyDecision.objects.count() == 1
    assert Position.objects.filter(slot=following.pk).count() == 1
    assert sub_balance(following) == balance
    assert ledger_audit().ok


def test_stop_following_at_market_closes_everything_and_returns_the_rest_to_spot(btc):
    """R-CT-16: all copies closed at market, the remainder back in the spot account, once."""
    lead = make_lead()
    following = follow(lead, amount="1000")
    lead_order(lead, btc)
    following = following_stop(following=following, method="market")
    assert following.status == FollowingStatus.STOPPED
    assert copy_of(following, btc) is None
    assert sub_balance(following) == 0
    assert spot(following.follower).balance == D("1000") - D("0.36") * 2  # two taker fees at an unchanged mark
    following_stop(following=following, method="market")
    assert spot(following.follower).balance == D("999.28")
    assert ledger_audit().ok


def test_stop_following_by_following_the_trader_to_close(btc):
    """R-CT-17: no new opens; the lead's close finishes it and the remainder returns to spot."""
    lead = make_lead()
    following = follow(lead, amount="1000")
    lead_order(lead, btc)
    following = following_stop(following=following, method="follow_close")
    assert following.status == FollowingStatus.STOPPING
    LeadTrader.objects.filter(pk=lead.pk).update(last_open_at=timezone.now() - timezone.timedelta(seconds=10))
    lead_order(lead, btc, qty="0.05")
    assert CopyDecision.objects.filter(following=following, followed=False).get().reason == "following_stopping"
    lead_order(lead, btc, side="sell", qty="0.15", reduce_only=True)
    outbox_deliver_pending()
    following.refresh_from_db()
    assert following.status == FollowingStatus.STOPPED
    assert spot(following.follower).balance == D("999.28")
    assert ledger_audit().ok


def test_a_follower_may_still_close_a_copy_by_hand(btc):
    lead = make_lead()
    following = follow(lead)
    lead_order(lead, btc)
    copy = copy_of(following, btc)
    position_close(position=copy, idempotency_key="mine")
    assert copy_of(following, btc) is None
    assert ledger_audit().ok


def test_a_suspended_leads_closes_are_still_followed_but_its_opens_are_not(btc):
    """R-CT-13 holds after suspension: copies follow the close; new opens are not copied."""
    from copytrading.services.leads import lead_trader_suspend
    from tests.factories import OperatorFactory

    lead = make_lead()
    following = follow(lead)
    lead_order(lead, btc)
    lead_trader_suspend(lead_id=lead.pk, operator=OperatorFactory(), reason="under review")
    LeadTrader.objects.filter(pk=lead.pk).update(last_open_at=None)
    lead.refresh_from_db()
    opened = lead_order(lead, btc, qty="0.05")
    assert CopyDecision.objects.get(lead_order=opened, following=following).reason == "lead_suspended"
    lead_order(lead, btc, side="sell", qty="0.15", reduce_only=True)
    assert copy_of(following, btc) is None


def test_a_diverse_following_withdraws_and_stops_with_its_own_share_of_the_pool_only(btc):
    """R-CT-16 for a shared pool: the other following's money stays in the pool."""
    from config.errors import InsufficientFunds
    from copytrading.services.followings import following_withdraw

    lead_a, lead_b = make_lead(), make_lead()
    first = follow(lead_a, amount="300", mode="diverse", diverse_margin="100")
    second = follow(lead_b, amount="200", mode="diverse", user=first.follower, diverse_margin="100")
    with pytest.raises(InsufficientFunds):
        following_withdraw(following=first, amount=D("300.01"), idempotency_key="too-much")
    following_stop(following=first, method="market")
    assert spot(first.follower).balance == D("300")
    assert sub_balance(second) == D("200")
    assert ledger_audit().ok


def test_a_follower_closes_sets_tpsl_and_adds_margin_on_its_copy_through_the_api(btc):
    """Followers may close a copy by hand, set TP/SL and add or remove its margin; others get 404."""
    from rest_framework.test import APIClient

    from tests.factories import UserFactory

    lead = make_lead()
    following = follow(lead, margin_mode="isolated")
    lead_order(lead, btc)
    copy = copy_of(following, btc)
    client = APIClient()
    client.force_authenticate(following.follower)
    base = f"/api/v1/positions/{copy.pk}"
    assert client.post(f"{base}/margin", {"amount": "10"}, format="json", HTTP_IDEMPOTENCY_KEY="m").status_code == 200
    response = client.post(
        f"{base}/tpsl", {"take_profit_price": "70000", "stop_loss_price": None}, format="json", HTTP_IDEMPOTENCY_KEY="t"
    )
    assert response.status_code == 200, response.data
    stranger = APIClient()
    stranger.force_authenticate(UserFactory())
    assert stranger.post(f"{base}/close", {}, format="json", HTTP_IDEMPOTENCY_KEY="x").status_code == 404
    assert client.post(f"{base}/close", {}, format="json", HTTP_IDEMPOTENCY_KEY="c").status_code == 200
    assert copy_of(following, btc) is None
    assert ledger_audit().ok
