"""Operators create markets and change their parameters over the ops API, with who and why recorded.

The checks are the admin's: a refused change names the field and changes nothing. (R-MG-01, R-OP-01)
"""

import uuid
from decimal import Decimal as D

import pytest
from rest_framework.test import APIClient

from copytrading.futures.models import Market, MarketChange
from copytrading.futures.services.market_settings import market_setting_set
from copytrading.futures.services.orders import order_place
from tests.factories import OperatorFactory, fund_futures, futures

pytestmark = pytest.mark.django_db

OPS_MARKETS = "/api/v1/ops/markets"
NEW_MARKET = {
    "symbol": "dogeusdt",
    "base_asset": "DOGE",
    "price_tick": "0.00001",
    "qty_step": "1",
    "min_qty": "10",
    "max_order_qty": "1000000",
    "max_leverage": 50,
    "maintenance_margin_rate": "0.01",
    "taker_fee_rate": "0.0005",
    "reason": "listing DOGE",
}


@pytest.fixture
def risk():
    client = APIClient()
    client.force_authenticate(OperatorFactory(groups=["Risk operators"]))
    return client


def market_url(symbol: str) -> str:
    return f"{OPS_MARKETS}/{symbol}"


def state():
    return list(Market.objects.order_by("pk").values()), MarketChange.objects.count()


def test_a_risk_operator_creates_a_market_and_the_creation_is_recorded(risk):
    response = risk.post(OPS_MARKETS, NEW_MARKET, format="json")
    assert response.status_code == 201, response.data
    assert response.data["symbol"] == "DOGEUSDT"
    market = Market.objects.get(symbol="DOGEUSDT")
    assert (market.price_tick, market.max_leverage, market.is_active) == (D("0.00001"), 50, True)
    change = MarketChange.objects.get(market=market)
    assert change.created and change.reason == "listing DOGE"
    assert change.changes["max_leverage"] == [None, 50]
    listed = risk.get(OPS_MARKETS).data
    assert [m["symbol"] for m in listed] == ["DOGEUSDT"]
    assert listed[0]["recent_changes"][0]["actor"] == change.actor.email


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"price_tick": "0"}, "price_tick"),
        ({"max_leverage": 0}, "max_leverage"),
        ({"max_leverage": 500}, "max_leverage"),
        ({"maintenance_margin_rate": "1"}, "maintenance_margin_rate"),
        ({"maintenance_margin_rate": "0.05"}, "maintenance_margin_rate"),  # ≥ 1/50: liquidated as it opens
        ({"taker_fee_rate": "-0.001"}, "taker_fee_rate"),
        ({"taker_fee_rate": 0.0005}, "taker_fee_rate"),  # a JSON float is refused
        ({"min_qty": "10.5"}, "min_qty"),  # not a multiple of the step
        ({"max_order_qty": "5"}, "max_order_qty"),  # below the minimum
        ({"symbol": "BTC/USDT"}, "symbol"),
        ({"reason": " "}, "reason"),
        ({"funding_interval_hours": 3}, "funding_interval_hours"),
    ],
)
def test_a_bad_market_is_refused_naming_the_field_and_nothing_is_created(risk, change, field):
    before = state()
    response = risk.post(OPS_MARKETS, {**NEW_MARKET, **change}, format="json")
    assert response.status_code == 400, response.data
    assert field in response.data["fields"]
    assert state() == before


def test_a_second_market_with_the_same_symbol_is_a_conflict(risk, btc):
    before = state()
    response = risk.post(OPS_MARKETS, {**NEW_MARKET, "symbol": "BTCUSDT"}, format="json")
    assert response.status_code == 409
    assert "symbol" in response.data["fields"]
    assert state() == before


def test_an_operator_changes_rates_and_the_change_is_recorded_with_old_and_new(risk, btc):
    response = risk.patch(
        market_url("btcusdt"), {"taker_fee_rate": "0.0004", "max_leverage": 100, "reason": "fee cut"}, format="json"
    )
    assert response.status_code == 200, response.data
    btc.refresh_from_db()
    assert (btc.taker_fee_rate, btc.max_leverage) == (D("0.0004"), 100)
    change = MarketChange.objects.get(market=btc)
    assert change.changes == {"taker_fee_rate": ["0.00060000", "0.00040000"], "max_leverage": [125, 100]}
    assert change.reason == "fee cut" and not change.created


def test_tick_step_and_maintenance_change_only_while_no_position_is_open(risk, btc, user):
    # Given no open position, the tick changes,
    ok = risk.patch(market_url("BTCUSDT"), {"price_tick": "0.1", "reason": "coarser tick"}, format="json")
    assert ok.status_code == 200
    # when a position is open, the maintenance rate may not change (stored liquidation prices depend on it),
    fund_futures(user, "1000")
    market_setting_set(account=futures(user), market=btc, leverage=10, margin_mode="isolated")
    order_place(account=futures(user), market=btc, side="buy", qty=D("0.01"), idempotency_key=uuid.uuid4().hex)
    before = state()
    refused = risk.patch(
        market_url("BTCUSDT"), {"maintenance_margin_rate": "0.006", "reason": "riskier"}, format="json"
    )
    assert refused.status_code == 409
    assert "maintenance_margin_rate" in refused.data["fields"]
    assert state() == before
    # but the fee still may.
    assert (
        risk.patch(market_url("BTCUSDT"), {"taker_fee_rate": "0.0007", "reason": "r"}, format="json").status_code == 200
    )


def test_a_change_without_a_reason_or_without_any_parameter_is_refused(risk, btc):
    before = state()
    assert "reason" in risk.patch(market_url("BTCUSDT"), {"taker_fee_rate": "0.0004"}, format="json").data["fields"]
    assert risk.patch(market_url("BTCUSDT"), {"reason": "nothing"}, format="json").status_code == 400
    assert risk.patch(market_url("NOPE"), {"taker_fee_rate": "0.0004", "reason": "r"}, format="json").status_code == 404
    assert state() == before


@pytest.mark.parametrize("groups", [[], ["Finance"], ["Campaign operators"]])
def test_other_operators_and_users_cannot_run_markets(btc, groups):
    client = APIClient()
    client.force_authenticate(OperatorFactory(groups=groups))
    assert client.post(OPS_MARKETS, NEW_MARKET, format="json").status_code == 403
    assert (
        client.patch(market_url("BTCUSDT"), {"taker_fee_rate": "0.0004", "reason": "r"}, format="json").status_code
        == 403
    )
    assert not Market.objects.filter(symbol="DOGEUSDT").exists()
