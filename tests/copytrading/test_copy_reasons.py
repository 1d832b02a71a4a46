"""Every not-followed reason of R-CT-14 from a scenario that really causes it, through the API (followers start,
leads trade) and the real fan-out path,
and each follower setting of R-CT-05 changing what is copied."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from accounts.selectors import ledger_audit
from copytrading.futures.services.prices import mark_price_set
from copytrading.models import CopyDecision, LeadTrader
from copytrading.services.fanout import copy_fanout
from copytrading.services.followings import following_update_settings, following_withdraw
from tests.copytrading.copy_helpers import copy_of, follow, lead_order, make_lead

pytestmark = pytest.mark.django_db


def decision(following, order):
    return CopyDecision.objects.get(following=following, lead_order=order)


def reason(following, order) -> str:
    d = decision(following, order)
    assert not d.followed
    return d.reason


def later(lead):
    """Move the lead's last open out of the frequency window, as time passing would."""
    LeadTrader.objects.filter(pk=lead.pk).update(last_open_at=timezone.now() - timedelta(seconds=10))


def test_token_limit(btc):
    """R-CT-21: the total value followed on a token across all followers is capped by the platform."""
    btc.token_follow_limit = D("1000")
    btc.save()
    lead = make_lead()
    first, second = follow(lead, amount="1000"), follow(lead, amount="1000")
    order = lead_order(lead, btc, qty="0.1")  # each copy: 0.01 BTC = 600 USDT; the second would make 1,200
    assert decision(first, order).followed
    assert reason(second, order) == "token_limit"


def test_lead_frequency_limit(btc):
    """R-CT-15: a lead open within 3 s of its previous open fills for the lead but is not copied."""
    lead = make_lead()
    following = follow(lead)
    lead_order(lead, btc, qty="0.01")
    second = lead_order(lead, btc, qty="0.01")
    assert second.filled_qty == D("0.01")  # the lead's own order filled
    assert second.copy_blocked == "lead_frequency_limit"
    assert reason(following, second) == "lead_frequency_limit"
    later(lead)
    assert decision(following, lead_order(lead, btc, qty="0.01")).followed


def test_insufficient_balance_below_the_markets_minimum(btc):
    """0.1 × 60 / 100,000 = 0.00006 BTC, below the 0.001 minimum."""
    lead = make_lead(equity="100000")
    following = follow(lead, amount="60")
    order = lead_order(lead, btc, qty="0.1")
    assert reason(following, order) == "insufficient_balance"


def test_slippage_when_the_mark_moves_between_the_leads_fill_and_the_batch(btc):
    """R-CT-09: the lead filled at 60,000; the batch runs at 60,400 (0.67 % > 0.5 %)."""
    lead = make_lead()
    tight, loose = follow(lead), follow(lead, slippage_ratio="0.01")
    order = lead_order(lead, btc, fanout=False)
    mark_price_set(market=btc, price=D("60400"))
    copy_fanout(lead_order_id=order.pk)
    assert reason(tight, order) == "slippage"
    loose_decision = decision(loose, order)
    assert loose_decision.followed and loose_decision.price == D("60400")


def test_pair_not_followed_and_auto_follow_of_new_pairs(btc, eth):
    """R-CT-05: deselected pairs are not copied; a pair the lead newly trades joins when auto-follow is on."""
    lead = make_lead()
    no_auto = follow(lead, pairs=["BTCUSDT"], auto_follow_new_pairs=False)
    auto = follow(lead, pairs=["BTCUSDT"], auto_follow_new_pairs=True)
    order = lead_order(lead, eth, qty="1")
    assert reason(no_auto, order) == "pair_not_followed"
    assert decision(auto, order).followed
    auto.refresh_from_db()
    assert auto.pairs == ["BTCUSDT", "ETHUSDT"]


def test_per_pair_margin_limit(btc):
    """R-CT-08: once the margin on a pair reaches the cap, new opens on it are not followed."""
    lead = make_lead()
    following = follow(lead, amount="1000", max_margin_per_pair="50")
    first = lead_order(lead, btc)  # wants 60 margin: cut to 50 → 0.008 BTC (48 margin)
    assert decision(following, first).qty == D("0.008")
    later(lead)
    second = lead_order(lead, btc)
    assert reason(following, second) == "per_pair_margin_limit"


def test_max_position_value(btc):
    """R-CT-11: once open positions are worth the maximum, new opens are not followed; closes are."""
    lead = make_lead()
    following = follow(lead, amount="1000", max_position_value="700")
    first = lead_order(lead, btc)  # 0.01 BTC = 600 ≤ 700
    assert decision(following, first).followed
    later(lead)
    second = lead_order(lead, btc)  # room 100 → 0.0016 → 0.001 BTC (cut down)
    assert decision(following, second).qty == D("0.001")
    later(lead)
    third = lead_order(lead, btc)  # 660 of 700 used: 40 → below the minimum → the cap is the reason
    assert reason(following, third) == "max_position_value"
    close = lead_order(lead, btc, side="sell", qty="0.3", reduce_only=True)
    assert decision(following, close).followed and copy_of(following, btc) is None


def test_following_interrupted_below_the_minimum(btc):
    """R-CT-04: equity below 50 USDT: opens are not followed until funds are added."""
    lead = make_lead()
    following = follow(lead, amount="60")
    following_withdraw(following=following, amount=D("20"), idempotency_key="w")
    order = lead_order(lead, btc, qty="0.01")
    assert reason(following, order) == "following_interrupted"


def test_maximum_margin_per_order_cuts_the_order_down(btc):
    """R-CT-10: at most 3 % of total assets: 1,000 × 3 % = 30 margin → 0.005 BTC at 10x (not refused)."""
    lead = make_lead()
    following = follow(lead, amount="1000", max_margin_per_order_pct="0.03")
    order = lead_order(lead, btc)
    assert decision(following, order).qty == D("0.005")


@pytest.mark.parametrize(
    ("settings", "mode", "leverage"),
    [
        ({}, "isolated", 20),
        ({"margin_mode": "cross"}, "cross", 20),
        ({"leverage_mode": "fixed", "fixed_leverage": 3}, "isolated", 3),
        ({"leverage_mode": "custom", "custom_leverage": {"BTCUSDT": 7}}, "isolated", 7),
    ],
)
def test_margin_mode_and_leverage_settings(btc, settings, mode, leverage):
    """R-CT-05: follow the trader's mode and leverage, or the follower's own."""
    lead = make_lead()
    following = follow(lead, **settings)
    lead_order(lead, btc, leverage=20, mode="isolated")
    copy = copy_of(following, btc)
    assert (copy.margin_mode, copy.leverage) == (mode, leverage)


def test_a_settings_change_applies_to_later_opens_only(btc, eth):
    """R-CT-05: existing positions keep their terms; opens after the change use the new setting."""
    lead = make_lead()
    following = follow(lead)
    lead_order(lead, btc)
    following_update_settings(following=following, changes={"leverage_mode": "fixed", "fixed_leverage": 2})
    assert copy_of(following, btc).leverage == 10
    later(lead)
    lead_order(lead, eth, qty="1")
    assert copy_of(following, eth).leverage == 2
    assert ledger_audit().ok
