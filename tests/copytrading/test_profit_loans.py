"""Withdrawing positive unrealised PnL as a platform loan; its interest and repayment. (R-PS-08)"""

from datetime import date
from decimal import Decimal as D

import pytest

from accounts.selectors import ledger_audit
from config.errors import InsufficientFunds
from copytrading.futures.services.outbox import outbox_deliver_pending
from copytrading.futures.services.prices import mark_price_set
from copytrading.services.followings import following_withdraw
from copytrading.services.loans import loan_interest_daily
from copytrading.valuation import loan_owed
from tests.copytrading.copy_helpers import copy_of, follow, lead_order, make_lead, sub_balance
from tests.factories import MarketFactory, spot

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 22)


@pytest.fixture
def free_btc(db):
    return MarketFactory(symbol="FREEUSDT", base_asset="FREE", taker_fee_rate=D("0"))


@pytest.fixture
def in_profit(free_btc):
    """A Smart follower (1,000 in) holding a cross copy of 0.01 at 60,000 (margin 60), now at 70,000: +100."""
    lead = make_lead(equity="10000")
    following = follow(lead, amount="1000")
    lead_order(lead, free_btc, qty="0.1", leverage=10, mode="cross")
    mark_price_set(market=free_btc, price=D("70000"))
    return lead, following


def test_the_part_beyond_cash_is_lent_against_unrealised_profit(in_profit, free_btc):
    """Cash free: 1,000 − 60 margin = 940; asking 1,000 lends 60 of the +100, equity stays above maintenance."""
    _, following = in_profit
    outcome = following_withdraw(following=following, amount=D("1000"), idempotency_key="w")
    assert (outcome.plan.loan, outcome.plan.payout) == (D("60"), D("1000"))
    assert spot(following.follower).balance == D("1000")
    assert loan_owed(following) == D("60")
    assert sub_balance(following) == D("60")  # the margin in use; no user balance went negative
    assert copy_of(following, free_btc) is not None
    assert ledger_audit().ok


def test_no_loan_takes_equity_below_the_maintenance_margin(in_profit):
    """Equity 1,100, maintenance 3.5: at most 96.5 can be lent; asking 1,040 (100 beyond cash) is refused."""
    _, following = in_profit
    with pytest.raises(InsufficientFunds):
        following_withdraw(following=following, amount=D("1040"), idempotency_key="w")
    assert loan_owed(following) == 0
    assert sub_balance(following) == D("1000")


def test_isolated_copies_lend_nothing(free_btc):
    lead = make_lead()
    following = follow(lead, amount="1000", margin_mode="isolated")
    lead_order(lead, free_btc, qty="0.1")
    mark_price_set(market=free_btc, price=D("70000"))
    with pytest.raises(InsufficientFunds):
        following_withdraw(following=following, amount=D("1000"), idempotency_key="w")


def test_interest_is_charged_once_a_day_and_realised_profit_repays_first(in_profit, free_btc):
    lead, following = in_profit
    following_withdraw(following=following, amount=D("1000"), idempotency_key="w")
    assert loan_interest_daily(day=DAY) == 1
    assert loan_owed(following) == D("60.03")  # 60 × 0.05 %
    assert loan_interest_daily(day=DAY) == 0
    lead_order(lead, free_btc, side="sell", qty="0.1", reduce_only=True)  # the copy realises +100
    outbox_deliver_pending()
    assert loan_owed(following) == 0
    assert sub_balance(following) == D("60") + D("100") - D("60.03")
    assert ledger_audit().ok
