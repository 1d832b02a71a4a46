"""Copy positions under the risk sweep: SL/TP ratios, the Net Value Guardian, isolation, follow existing.
(R-CT-06, R-CT-07, R-CT-03, R-CT-05)"""

from decimal import Decimal as D

import pytest

from accounts.selectors import ledger_audit
from copytrading.futures.models import CloseReason, Position
from copytrading.futures.services.liquidation import risk_sweep
from copytrading.futures.services.prices import mark_price_set
from copytrading.models import CopyDecision, FollowingStatus
from tests.copytrading.copy_helpers import copy_of, follow, lead_order, make_lead, sub_balance
from tests.factories import spot

pytestmark = pytest.mark.django_db


def tick(market, price):
    mark = mark_price_set(market=market, price=D(price))
    return risk_sweep(market_id=market.pk, tick_id=mark.pk)


def test_stop_loss_ratio_closes_the_copy_at_market(btc):
    """R-CT-07: 50 % of a 60 USDT margin = 30 USDT loss on 0.01 BTC → 3,000 below the entry: 57,000."""
    lead = make_lead()
    following = follow(lead, stop_loss_ratio="0.5", take_profit_ratio="1")
    lead_order(lead, btc)
    copy = copy_of(following, btc)
    assert (copy.stop_loss_price, copy.take_profit_price) == (D("57000"), D("66000"))
    tick(btc, "57000.01")
    assert copy_of(following, btc) is not None
    tick(btc, "57000")
    closed = Position.objects.get(pk=copy.pk)
    assert closed.closes.get().reason == CloseReason.STOP_LOSS
    assert closed.closes.get().realised_pnl == D("-30")
    assert ledger_audit().ok


def test_take_profit_ratio_closes_the_copy_at_market(btc):
    lead = make_lead()
    following = follow(lead, take_profit_ratio="1")
    lead_order(lead, btc, side="sell")
    copy = copy_of(following, btc)
    assert copy.take_profit_price == D("54000")  # short: 60 USDT profit on 0.01 BTC = 6,000 below
    tick(btc, "54000")
    assert Position.objects.get(pk=copy.pk).closes.get().reason == CloseReason.TAKE_PROFIT


def test_net_value_guardian_stops_following_when_the_net_loss_reaches_its_limit(btc):
    """R-CT-06: invested 1,000, loss limit 20: at 58,000 the copy has lost 20 (+0.36 fee) → stop as R-CT-16."""
    lead = make_lead()
    following = follow(lead, guardian_max_loss="20")
    lead_order(lead, btc)
    tick(btc, "58100")  # loss 19 + fee 0.36 = 19.36 < 20
    following.refresh_from_db()
    assert following.status == FollowingStatus.ACTIVE
    tick(btc, "58000")
    following.refresh_from_db()
    assert following.status == FollowingStatus.STOPPED
    reasons = {c.reason for p in Position.objects.filter(slot=following.pk) for c in p.closes.all()}
    assert reasons == {CloseReason.GUARDIAN}
    assert sub_balance(following) == 0
    assert spot(following.follower).balance == D("1000") - D("20") - D("0.36") - D("0.348")
    assert ledger_audit().ok


def test_net_value_guardian_floor(btc):
    lead = make_lead()
    following = follow(lead, guardian_min_net_value="985")
    lead_order(lead, btc)
    tick(btc, "58500")  # net value 1,000 − 0.36 − 15 = 984.64 ≤ 985
    following.refresh_from_db()
    assert following.status == FollowingStatus.STOPPED


def test_a_liquidation_in_one_sub_account_never_touches_the_followers_other_money(btc):
    """R-CT-03: following funds are isolated in their sub-account."""
    risky_lead, calm_lead = make_lead(equity="1000"), make_lead()
    risky = follow(risky_lead, amount="100", leverage_mode="fixed", fixed_leverage=10, margin_mode="isolated")
    calm = follow(calm_lead, amount="500", user=risky.follower)
    from tests.factories import fund_spot

    fund_spot(risky.follower, "250")
    lead_order(risky_lead, btc, qty="0.01", leverage=10)  # copy: 0.01 × 100/1,000 = 0.001 BTC at 10x
    spot_before, calm_before = spot(risky.follower).balance, sub_balance(calm)
    tick(btc, "20000")
    assert copy_of(risky, btc) is None
    assert Position.objects.get(slot=risky.pk).closes.get().reason == CloseReason.LIQUIDATION
    assert spot(risky.follower).balance == spot_before
    assert sub_balance(calm) == calm_before
    assert ledger_audit().ok


def test_follow_existing_positions_replicates_the_leads_open_positions_at_the_current_mark(btc):
    """R-CT-05: "follow and replicate the lead's existing open positions at start"."""
    lead = make_lead()
    lead_order(lead, btc, qty="0.1")
    mark_price_set(market=btc, price=D("61000"))
    following = follow(lead, amount="1000", follow_existing=True)
    copy = copy_of(following, btc)
    assert copy is not None and copy.entry_price == D("61000")
    # 0.1 × 1,000 / lead equity (10,000 − 3.6 fee + 100 unrealised = 10,096.4) = 0.0099… → 0.009
    assert copy.qty == D("0.009")
    assert CopyDecision.objects.get(following=following).followed
    assert ledger_audit().ok
