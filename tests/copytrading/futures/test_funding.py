"""Funding at the market rate every 8 hours. (R-MG-07)"""

import uuid
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from accounts.models import AccountKind
from accounts.selectors import ledger_audit
from copytrading.futures.models import FundingRun, Position
from copytrading.futures.services.funding import funding_run, funding_settle_due, funding_time_at_or_before
from copytrading.futures.services.market_settings import market_setting_set
from copytrading.futures.services.orders import order_place
from tests.copytrading.conftest import margin_account
from tests.factories import UserFactory, fund_futures, futures

pytestmark = pytest.mark.django_db
T = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


def open_position(market, side, mode):
    user = UserFactory()
    fund_futures(user, "1000")
    market_setting_set(account=futures(user), market=market, leverage=10, margin_mode=mode)
    order_place(account=futures(user), market=market, side=side, qty=D("0.1"), idempotency_key=uuid.uuid4().hex)
    return user


def test_funding_of_one_basis_point_moves_from_the_long_to_the_short_through_the_house(btc, platform):
    """R-MG-07: +0.01 % on 0.1 BTC at 60,000 = 0.6 USDT: the isolated long pays from its margin, the cross short
    receives into its balance."""
    long_user = open_position(btc, "buy", "isolated")
    short_user = open_position(btc, "sell", "cross")
    house_before = platform(AccountKind.HOUSE)
    run = funding_run(market=btc, funding_time=T)
    assert run.positions == 2
    long_pos = Position.objects.get(account=futures(long_user))
    assert long_pos.margin == D("599.4")
    assert long_pos.funding_paid == D("0.6")
    assert margin_account(futures(long_user)).balance == D("599.4")
    assert futures(short_user).balance == D("1000") - D("3.6") + D("0.6")
    assert Position.objects.get(account=futures(short_user)).funding_paid == D("-0.6")
    assert platform(AccountKind.HOUSE) == house_before  # balanced book: the house is untouched
    assert ledger_audit().ok


def test_a_negative_rate_makes_shorts_pay_and_the_house_covers_an_imbalance(btc, platform):
    btc.funding_rate = D("-0.0001")
    btc.save()
    long_user = open_position(btc, "buy", "cross")
    house_before = platform(AccountKind.HOUSE)
    funding_run(market=btc, funding_time=T)
    assert futures(long_user).balance == D("1000") - D("3.6") + D("0.6")
    assert platform(AccountKind.HOUSE) == house_before - D("0.6")  # no short to pay: the house does
    assert ledger_audit().ok


def test_funding_runs_once_per_market_and_funding_time(btc):
    user = open_position(btc, "buy", "cross")
    funding_run(market=btc, funding_time=T)
    funding_run(market=btc, funding_time=T)
    assert funding_settle_due(now=datetime(2026, 11, 21, 9, 30, tzinfo=UTC)) == 0  # 08:00 already done
    assert FundingRun.objects.count() == 1
    assert futures(user).balance == D("1000") - D("3.6") - D("0.6")


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2026-11-21T07:59:59", "2026-11-21T00:00"),
        ("2026-11-21T08:00:00", "2026-11-21T08:00"),
        ("2026-11-21T23:10:00", "2026-11-21T16:00"),
    ],
)
def test_funding_times_are_00_08_and_16_utc(now, expected):
    moment = datetime.fromisoformat(now).replace(tzinfo=UTC)
    assert funding_time_at_or_before(moment) == datetime.fromisoformat(expected).replace(tzinfo=UTC)
