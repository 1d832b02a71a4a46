"""The futures venue through the API: markets and prices, orders, positions, margin, TP/SL and settings.

Every bad request is answered with a 400/404 naming the field and changes
nothing: no journal entry, no order, the ledger audit still proves.
"""

import uuid
from decimal import Decimal as D

import pytest
from rest_framework.test import APIClient

from accounts.models import JournalEntry
from accounts.selectors import ledger_audit
from copytrading.futures.models import MarginMode, MarkPrice, Order, Position, PositionStatus, PriceSource
from copytrading.futures.services.orders import order_place
from copytrading.futures.services.prices import mark_price_set
from tests.copytrading.conftest import margin_account
from tests.factories import MarketFactory, OperatorFactory, UserFactory, fund_futures, futures

pytestmark = pytest.mark.django_db

MARKETS = "/api/v1/markets"
ORDERS = "/api/v1/orders"
POSITIONS = "/api/v1/positions"
OPS_PRICES = "/api/v1/ops/prices"
ERROR_KEYS = {"code", "detail", "fields"}


def prices_url(symbol: str) -> str:
    return f"/api/v1/markets/{symbol}/prices"


def settings_url(symbol: str) -> str:
    return f"/api/v1/markets/{symbol}/settings"


def position_url(position_id: int, action: str) -> str:
    return f"/api/v1/positions/{position_id}/{action}"


def key() -> str:
    return uuid.uuid4().hex


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def post(client: APIClient, path: str, body: dict, idempotency_key: str | None = "new"):
    """POST JSON with a fresh Idempotency-Key (or the given one, or none with ``None``)."""
    if idempotency_key == "new":
        idempotency_key = key()
    headers = {} if idempotency_key is None else {"HTTP_IDEMPOTENCY_KEY": idempotency_key}
    return client.post(path, body, format="json", **headers)


def ledger_state(user) -> tuple:
    """What a refused request must leave unchanged."""
    return (
        JournalEntry.objects.count(),
        Order.objects.count(),
        list(Position.objects.order_by("pk").values_list("pk", "qty", "margin", "status", "take_profit_price")),
        futures(user).balance,
    )


def set_price(market, price: str) -> None:
    mark_price_set(market=market, price=D(price))


@pytest.fixture
def trader(user, btc):
    """The user has 10,000 USDT in its futures account and trades BTCUSDT 10x isolated."""
    fund_futures(user, "10000")
    client = client_for(user)
    response = client.put(settings_url("BTCUSDT"), {"leverage": 10, "margin_mode": "isolated"}, format="json")
    assert response.status_code == 200, response.data
    return client


@pytest.fixture
def long_position(trader) -> Position:
    """An isolated 10x long of 0.1 BTC opened at 60,000 through the API."""
    response = post(trader, ORDERS, {"symbol": "BTCUSDT", "side": "buy", "qty": "0.1"})
    assert response.status_code == 201, response.data
    return Position.objects.get(pk=response.data["position_id"])


# --- markets and prices ---------------------------------------------------------


def test_markets_are_listed_publicly_with_their_trading_parameters(btc, eth):
    """R-MG-01: each market shows tick, step, minimum and maximum quantity, max leverage, maintenance
    and taker rates, funding rate and the mark price, as decimal strings."""
    MarketFactory(symbol="OLDUSDT", base_asset="OLD", is_active=False)
    response = APIClient().get(MARKETS)
    assert response.status_code == 200
    assert [row["symbol"] for row in response.data] == ["BTCUSDT", "ETHUSDT"]
    row = response.data[0]
    assert row == {
        "symbol": "BTCUSDT",
        "base_asset": "BTC",
        "price_tick": "0.01000000",
        "qty_step": "0.00100000",
        "min_qty": "0.00100000",
        "max_order_qty": "100.00000000",
        "max_leverage": 125,
        "maintenance_margin_rate": "0.00500000",
        "taker_fee_rate": "0.00060000",
        "funding_rate": "0.00010000",
        "funding_interval_hours": 8,
        "mark_price": "60000.00000000",
        "mark_price_at": None,
    }


def test_price_history_is_newest_first_and_cursor_paginated(btc):
    for price in ["60100", "60200", "60300"]:
        set_price(btc, price)
    client = APIClient()
    first = client.get(prices_url("BTCUSDT"), {"page_size": 2})
    assert first.status_code == 200
    assert [row["price"] for row in first.data["results"]] == ["60300.00000000", "60200.00000000"]
    assert first.data["results"][0]["source"] == "operator"
    second = client.get(first.data["next"])
    assert [row["price"] for row in second.data["results"]] == ["60100.00000000"]
    assert second.data["next"] is None


def test_price_history_of_an_unknown_market_is_404(btc):
    response = APIClient().get(prices_url("NOPEUSDT"))
    assert response.status_code == 404
    assert set(response.data) == ERROR_KEYS


# --- operator prices --------------------------------------------------------------


def test_a_risk_operator_sets_the_mark_price_with_itself_as_actor(btc):
    """R-MG-08: an operator's price is recorded with source "operator" and the operator as actor."""
    risk = OperatorFactory(groups=["Risk operators"])
    client = client_for(risk)
    idem = key()
    response = post(client, OPS_PRICES, {"symbol": "BTCUSDT", "price": "61234.56"}, idem)
    assert response.status_code == 201, response.data
    assert response.data["price"] == "61234.56000000"
    tick = MarkPrice.objects.get(pk=response.data["id"])
    assert (tick.source, tick.actor, tick.price) == (PriceSource.OPERATOR, risk, D("61234.56"))
    btc.refresh_from_db()
    assert btc.mark_price == D("61234.56")

    replay = post(client, OPS_PRICES, {"symbol": "BTCUSDT", "price": "61234.56"}, idem)
    assert replay.status_code == 201
    assert replay.data == response.data
    assert replay["Idempotent-Replay"] == "true"
    assert MarkPrice.objects.count() == 1


@pytest.mark.parametrize("group", ["Finance", "Campaign operators", None])
def test_setting_a_price_is_forbidden_without_the_permission(btc, group):
    someone = OperatorFactory(groups=[group]) if group else UserFactory()
    response = post(client_for(someone), OPS_PRICES, {"symbol": "BTCUSDT", "price": "1000"})
    assert response.status_code == 403
    assert set(response.data) == ERROR_KEYS
    btc.refresh_from_db()
    assert btc.mark_price == D("60000")
    assert not MarkPrice.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"symbol": "NOPEUSDT", "price": "1000"}, "symbol"),
        ({"symbol": "BTCUSDT", "price": "1000.005"}, "price"),
        ({"symbol": "BTCUSDT", "price": "0"}, "price"),
        ({"symbol": "BTCUSDT", "price": 61000.5}, "price"),
        ({"symbol": "BTCUSDT"}, "price"),
    ],
)
def test_a_bad_operator_price_is_refused_naming_the_field(btc, body, field):
    client = client_for(OperatorFactory(groups=["Risk operators"]))
    response = post(client, OPS_PRICES, body)
    assert response.status_code == 400
    assert field in response.data["fields"]
    assert not MarkPrice.objects.exists()


# --- orders -----------------------------------------------------------------------


def test_an_order_fills_at_the_mark_and_opens_an_isolated_position(user, trader):
    """R-MG-02: filled at the mark; margin = notional / leverage, taker fee = notional × fee rate."""
    response = post(trader, ORDERS, {"symbol": "BTCUSDT", "side": "buy", "qty": "0.1"})
    assert response.status_code == 201, response.data
    body = response.data
    assert body["status"] == "filled"
    assert (body["side"], body["requested_qty"], body["filled_qty"]) == ("buy", "0.10000000", "0.10000000")
    assert (body["price"], body["fee"], body["realised_pnl"]) == ("60000.00000000", "3.60000000", "0.00000000")
    assert (body["leverage"], body["margin_mode"]) == (10, "isolated")
    assert futures(user).balance == D("10000") - D("600") - D("3.6")
    assert margin_account(futures(user)).balance == D("600")

    positions = trader.get(POSITIONS)
    assert positions.status_code == 200
    [row] = positions.data["results"]
    assert row["id"] == body["position_id"]
    assert (row["side"], row["qty"], row["entry_price"]) == ("long", "0.10000000", "60000.00000000")
    assert (row["margin"], row["liquidation_price"]) == ("600.00000000", "54271.36000000")
    assert (row["unrealised_pnl"], row["take_profit_price"], row["auto_add_margin"]) == ("0.00000000", None, False)
    assert ledger_audit().ok


def test_unrealised_pnl_follows_the_mark(trader, long_position, btc):
    set_price(btc, "61000.5")
    [row] = trader.get(POSITIONS).data["results"]
    assert row["mark_price"] == "61000.50000000"
    assert row["unrealised_pnl"] == "100.05000000"  # 0.1 × 1,000.5


def test_an_order_by_margin_sizes_the_quantity_from_leverage_and_mark(trader):
    response = post(trader, ORDERS, {"symbol": "BTCUSDT", "side": "sell", "margin": "300"})
    assert response.status_code == 201, response.data
    assert response.data["filled_qty"] == "0.05000000"  # 300 × 10 / 60,000
    assert Position.objects.get(pk=response.data["position_id"]).side == "short"


def test_an_order_beyond_the_liquidity_cap_is_partially_filled(user, trader):
    MarketFactory(symbol="SOLUSDT", base_asset="SOL", max_order_qty=D("0.05"), mark_price=D("100"))
    response = post(trader, ORDERS, {"symbol": "SOLUSDT", "side": "buy", "qty": "0.2"})
    assert response.status_code == 201, response.data
    assert response.data["status"] == "partially_filled"
    assert (response.data["requested_qty"], response.data["filled_qty"]) == ("0.20000000", "0.05000000")


def test_a_replayed_order_returns_the_same_order_and_trades_once(user, trader):
    idem = key()
    body = {"symbol": "BTCUSDT", "side": "buy", "qty": "0.1"}
    first = post(trader, ORDERS, body, idem)
    entries = JournalEntry.objects.count()
    replay = post(trader, ORDERS, body, idem)
    assert first.status_code == replay.status_code == 201
    assert replay.data == first.data
    assert replay["Idempotent-Replay"] == "true"
    assert Order.objects.count() == 1
    assert JournalEntry.objects.count() == entries
    assert futures(user).balance == D("10000") - D("603.6")

    conflict = post(trader, ORDERS, {**body, "qty": "0.2"}, idem)
    assert conflict.status_code == 409
    assert Order.objects.count() == 1


def test_orders_list_only_the_callers_own(user, trader, long_position, other_user, btc):
    fund_futures(other_user, "1000")
    order_place(account=futures(other_user), market=btc, side="buy", qty=D("0.01"), idempotency_key=key())
    response = trader.get(ORDERS)
    assert response.status_code == 200
    assert [row["id"] for row in response.data["results"]] == [long_position.orders.get().pk]
    assert "next" in response.data


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"symbol": "NOPEUSDT", "side": "buy", "qty": "0.1"}, "symbol"),
        ({"side": "buy", "qty": "0.1"}, "symbol"),
        ({"symbol": "BTCUSDT", "side": "long", "qty": "0.1"}, "side"),
        ({"symbol": "BTCUSDT", "side": "buy", "qty": "0"}, "qty"),
        ({"symbol": "BTCUSDT", "side": "buy", "qty": "-1"}, "qty"),
        ({"symbol": "BTCUSDT", "side": "buy", "qty": "0.0000000001"}, "qty"),
        ({"symbol": "BTCUSDT", "side": "buy", "qty": "0.0009"}, "qty"),  # rounds down to 0 < minimum 0.001
        ({"symbol": "BTCUSDT", "side": "buy", "qty": "abc"}, "qty"),
        ({"symbol": "BTCUSDT", "side": "buy", "qty": 0.1}, "qty"),  # a JSON float
        ({"symbol": "BTCUSDT", "side": "buy", "qty": True}, "qty"),
        ({"symbol": "BTCUSDT", "side": "buy"}, "qty"),
        ({"symbol": "BTCUSDT", "side": "buy", "qty": "0.1", "margin": "100"}, "qty"),
        ({"symbol": "BTCUSDT", "side": "buy", "margin": "-100"}, "margin"),
        ({"symbol": "BTCUSDT", "side": "buy", "margin": 100.5}, "margin"),
    ],
)
def test_a_bad_order_is_refused_naming_the_field_and_changes_nothing(user, trader, body, field):
    before = ledger_state(user)
    response = post(trader, ORDERS, body)
    assert response.status_code == 400, response.data
    assert set(response.data) == ERROR_KEYS
    assert field in response.data["fields"], response.data
    assert ledger_state(user) == before
    assert ledger_audit().ok


def test_an_order_without_an_idempotency_key_is_refused(user, trader):
    before = ledger_state(user)
    response = post(trader, ORDERS, {"symbol": "BTCUSDT", "side": "buy", "qty": "0.1"}, idempotency_key=None)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.data["fields"]
    assert ledger_state(user) == before


def test_an_order_beyond_the_available_margin_is_refused(user, trader):
    before = ledger_state(user)
    response = post(trader, ORDERS, {"symbol": "BTCUSDT", "side": "buy", "qty": "2"})  # 12,000 margin > 10,000
    assert response.status_code == 422
    assert "qty" in response.data["fields"]
    assert ledger_state(user) == before
    assert ledger_audit().ok


def test_the_api_needs_authentication_to_trade(btc):
    client = APIClient()
    assert client.get(ORDERS).status_code == 401
    assert client.get(POSITIONS).status_code == 401
    assert post(client, ORDERS, {"symbol": "BTCUSDT", "side": "buy", "qty": "0.1"}).status_code == 401
    assert client.put(settings_url("BTCUSDT"), {"leverage": 5}, format="json").status_code == 401


# --- closing ----------------------------------------------------------------------


def test_closing_half_at_a_higher_mark_realises_half_the_profit(user, trader, long_position, btc):
    """R-MG-02: the close fills at the mark; realised PnL = qty × (mark − entry), taker fee on the close."""
    set_price(btc, "62000")
    response = post(trader, position_url(long_position.pk, "close"), {"fraction": "0.5"})
    assert response.status_code == 200, response.data
    assert (response.data["side"], response.data["filled_qty"], response.data["price"]) == (
        "sell",
        "0.05000000",
        "62000.00000000",
    )
    assert response.data["realised_pnl"] == "100.00000000"  # 0.05 × 2,000
    assert response.data["fee"] == "1.86000000"  # 0.05 × 62,000 × 0.0006
    assert response.data["reduce_only"] is True
    long_position.refresh_from_db()
    assert (long_position.qty, long_position.margin, long_position.status) == (D("0.05"), D("300"), "open")
    # 10,000 − 600 − 3.6 at the open; back: 300 margin + 100 profit − 1.86 fee.
    assert futures(user).balance == D("9794.54")
    assert ledger_audit().ok

    rest = post(trader, position_url(long_position.pk, "close"), {})
    assert rest.status_code == 200, rest.data
    assert rest.data["filled_qty"] == "0.05000000"
    assert trader.get(POSITIONS).data["results"] == []
    [closed] = trader.get(POSITIONS, {"status": "closed"}).data["results"]
    assert (closed["id"], closed["status"], closed["realised_pnl"]) == (long_position.pk, "closed", "200.00000000")
    assert closed["unrealised_pnl"] is None
    assert ledger_audit().ok


def test_closing_a_quantity(trader, long_position):
    response = post(trader, position_url(long_position.pk, "close"), {"qty": "0.03"})
    assert response.status_code == 200, response.data
    long_position.refresh_from_db()
    assert long_position.qty == D("0.07")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"fraction": "1.5"}, "fraction"),
        ({"fraction": "0"}, "fraction"),
        ({"fraction": 0.5}, "fraction"),
        ({"qty": "0.0005"}, "qty"),
        ({"qty": "-0.01"}, "qty"),
        ({"qty": "abc"}, "qty"),
        ({"qty": "0.01", "fraction": "0.5"}, "qty"),
    ],
)
def test_a_bad_close_is_refused_naming_the_field_and_changes_nothing(user, trader, long_position, body, field):
    before = ledger_state(user)
    response = post(trader, position_url(long_position.pk, "close"), body)
    assert response.status_code == 400, response.data
    assert field in response.data["fields"]
    assert ledger_state(user) == before


def test_closing_a_closed_position_is_a_conflict(user, trader, long_position):
    assert post(trader, position_url(long_position.pk, "close"), {}).status_code == 200
    before = ledger_state(user)
    response = post(trader, position_url(long_position.pk, "close"), {})
    assert response.status_code == 409
    assert ledger_state(user) == before


def test_a_close_replayed_with_its_key_closes_once(user, trader, long_position):
    idem = key()
    first = post(trader, position_url(long_position.pk, "close"), {"fraction": "0.5"}, idem)
    replay = post(trader, position_url(long_position.pk, "close"), {"fraction": "0.5"}, idem)
    assert replay.data == first.data
    long_position.refresh_from_db()
    assert long_position.qty == D("0.05")


# --- another user's positions ------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("close", {}),
        ("margin", {"amount": "10"}),
        ("tpsl", {"take_profit_price": "70000"}),
    ],
)
def test_another_users_position_is_404_and_untouched(user, long_position, action, body):
    intruder = UserFactory()
    fund_futures(intruder, "1000")
    before = ledger_state(user)
    response = post(client_for(intruder), position_url(long_position.pk, action), body)
    assert response.status_code == 404
    assert set(response.data) == ERROR_KEYS
    assert ledger_state(user) == before
    assert client_for(intruder).get(POSITIONS).data["results"] == []


def test_an_unknown_position_is_404(trader):
    assert post(trader, position_url(999999, "close"), {}).status_code == 404


# --- isolated margin ----------------------------------------------------------------


def test_adding_and_removing_isolated_margin_moves_the_liquidation_price(user, trader, long_position):
    """R-MG-05: an isolated position can lose only its margin; adding margin lowers its liquidation
    price, removing margin gives it back to the available balance, never below the initial margin."""
    url = position_url(long_position.pk, "margin")
    added = post(trader, url, {"amount": "100"})
    assert added.status_code == 200, added.data
    assert added.data["margin"] == "700.00000000"
    assert added.data["liquidation_price"] == "53266.34000000"  # (6,000 − 700) / (0.1 × 0.995), a tick up
    assert futures(user).balance == D("10000") - D("603.6") - D("100")
    assert margin_account(futures(user)).balance == D("700")

    removed = post(trader, url, {"amount": "-50"})
    assert removed.status_code == 200, removed.data
    assert removed.data["margin"] == "650.00000000"
    assert futures(user).balance == D("10000") - D("603.6") - D("50")

    before = ledger_state(user)
    too_much = post(trader, url, {"amount": "-200"})  # at most 50 above the 600 initial margin
    assert too_much.status_code == 422
    assert "amount" in too_much.data["fields"]
    assert ledger_state(user) == before
    assert ledger_audit().ok


@pytest.mark.parametrize("amount", ["0", "abc", 10.5, "0.000000001", None, ""])
def test_a_bad_margin_amount_is_refused(user, trader, long_position, amount):
    before = ledger_state(user)
    response = post(trader, position_url(long_position.pk, "margin"), {"amount": amount})
    assert response.status_code == 400, response.data
    assert "amount" in response.data["fields"]
    assert ledger_state(user) == before


def test_margin_cannot_be_adjusted_on_a_cross_position(user, trader, btc):
    """R-MG-03: cross positions share the account's equity; there is no margin of their own to adjust."""
    trader.put(settings_url("BTCUSDT"), {"margin_mode": "cross"}, format="json")
    opened = post(trader, ORDERS, {"symbol": "BTCUSDT", "side": "buy", "qty": "0.1"})
    before = ledger_state(user)
    response = post(trader, position_url(opened.data["position_id"], "margin"), {"amount": "10"})
    assert response.status_code == 422
    assert ledger_state(user) == before


def test_margin_without_an_idempotency_key_is_refused(user, trader, long_position):
    before = ledger_state(user)
    response = post(trader, position_url(long_position.pk, "margin"), {"amount": "10"}, idempotency_key=None)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.data["fields"]
    assert ledger_state(user) == before


# --- take profit, stop loss, auto-add ---------------------------------------------------


def test_tpsl_and_auto_add_are_set_kept_and_cleared(trader, long_position):
    """R-MG-05: auto-add margin is off by default and switched on per position."""
    url = position_url(long_position.pk, "tpsl")
    response = post(trader, url, {"take_profit_price": "66000", "stop_loss_price": "57000", "auto_add_margin": True})
    assert response.status_code == 200, response.data
    assert (response.data["take_profit_price"], response.data["stop_loss_price"]) == (
        "66000.00000000",
        "57000.00000000",
    )
    assert response.data["auto_add_margin"] is True

    kept = post(trader, url, {"stop_loss_price": None})  # the take profit is left out: kept
    assert kept.status_code == 200, kept.data
    assert (kept.data["take_profit_price"], kept.data["stop_loss_price"]) == ("66000.00000000", None)
    assert kept.data["auto_add_margin"] is True
    [row] = trader.get(POSITIONS).data["results"]
    assert (row["take_profit_price"], row["stop_loss_price"], row["auto_add_margin"]) == ("66000.00000000", None, True)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"take_profit_price": "59000"}, "take_profit_price"),  # a long's take profit is above the mark
        ({"stop_loss_price": "61000"}, "stop_loss_price"),
        ({"take_profit_price": "66000.001"}, "take_profit_price"),
        ({"take_profit_price": 66000.5}, "take_profit_price"),
        ({"stop_loss_price": "-1"}, "stop_loss_price"),
        ({"auto_add_margin": "maybe"}, "auto_add_margin"),
    ],
)
def test_a_bad_tpsl_is_refused_naming_the_field(user, trader, long_position, body, field):
    before = ledger_state(user)
    response = post(trader, position_url(long_position.pk, "tpsl"), body)
    assert response.status_code == 400, response.data
    assert field in response.data["fields"]
    assert ledger_state(user) == before


def test_tpsl_without_an_idempotency_key_is_refused(trader, long_position):
    response = post(trader, position_url(long_position.pk, "tpsl"), {"take_profit_price": "66000"}, None)
    assert response.status_code == 400
    long_position.refresh_from_db()
    assert long_position.take_profit_price is None


# --- settings -------------------------------------------------------------------------


def test_each_market_has_its_own_leverage_and_margin_mode(user, trader, eth):
    """R-MG-03: different pairs in one account may use different margin modes."""
    default = trader.get(settings_url("ETHUSDT"))
    assert default.status_code == 200
    assert default.data == {"symbol": "ETHUSDT", "leverage": 10, "margin_mode": "cross", "max_leverage": 125}

    response = trader.put(settings_url("ethusdt"), {"leverage": 20}, format="json")
    assert response.status_code == 200, response.data
    assert (response.data["leverage"], response.data["margin_mode"]) == (20, "cross")

    btc_order = post(trader, ORDERS, {"symbol": "BTCUSDT", "side": "buy", "qty": "0.01"})
    eth_order = post(trader, ORDERS, {"symbol": "ETHUSDT", "side": "sell", "qty": "1"})
    assert (btc_order.data["margin_mode"], btc_order.data["leverage"]) == ("isolated", 10)
    assert (eth_order.data["margin_mode"], eth_order.data["leverage"]) == ("cross", 20)
    modes = {row["symbol"]: row["margin_mode"] for row in trader.get(POSITIONS).data["results"]}
    assert modes == {"BTCUSDT": MarginMode.ISOLATED, "ETHUSDT": MarginMode.CROSS}
    assert ledger_audit().ok


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"leverage": 0}, "leverage"),
        ({"leverage": 126}, "leverage"),  # the market's maximum is 125
        ({"leverage": -3}, "leverage"),
        ({"leverage": 2.5}, "leverage"),
        ({"leverage": "abc"}, "leverage"),
        ({"margin_mode": "portfolio"}, "margin_mode"),
        ({}, "leverage"),
    ],
)
def test_a_bad_setting_is_refused_naming_the_field(user, trader, body, field):
    response = trader.put(settings_url("BTCUSDT"), body, format="json")
    assert response.status_code == 400, response.data
    assert field in response.data["fields"]
    setting = trader.get(settings_url("BTCUSDT")).data
    assert (setting["leverage"], setting["margin_mode"]) == (10, "isolated")


def test_settings_of_an_unknown_market_are_404(trader):
    assert trader.put(settings_url("NOPEUSDT"), {"leverage": 5}, format="json").status_code == 404
    assert trader.get(settings_url("NOPEUSDT")).status_code == 404


def test_the_margin_mode_cannot_change_with_an_open_position(trader, long_position):
    response = trader.put(settings_url("BTCUSDT"), {"margin_mode": "cross"}, format="json")
    assert response.status_code == 422
    assert "margin_mode" in response.data["fields"]
    assert trader.get(settings_url("BTCUSDT")).data["margin_mode"] == "isolated"


def test_positions_filter_rejects_an_unknown_status(trader):
    response = trader.get(POSITIONS, {"status": "pending"})
    assert response.status_code == 400
    assert "status" in response.data["fields"]


def test_a_closed_position_shows_under_closed_only(trader, long_position):
    post(trader, position_url(long_position.pk, "close"), {})
    assert trader.get(POSITIONS).data["results"] == []
    closed = trader.get(POSITIONS, {"status": PositionStatus.CLOSED}).data["results"]
    assert [row["id"] for row in closed] == [long_position.pk]


@pytest.mark.parametrize("market", [{"is_active": False}, {"mark_price": None}], ids=["inactive", "unpriced"])
def test_an_order_on_a_market_not_trading_is_refused_on_the_symbol(user, trader, market):
    MarketFactory(symbol="XRPUSDT", base_asset="XRP", **market)
    before = ledger_state(user)
    response = post(trader, ORDERS, {"symbol": "XRPUSDT", "side": "buy", "qty": "1"})
    assert response.status_code == 400
    assert "symbol" in response.data["fields"]
    assert ledger_state(user) == before


def test_a_quantity_between_steps_rounds_down_to_the_step(user, trader):
    """R-MG-01: quantities round down to the market's step."""
    response = post(trader, ORDERS, {"symbol": "BTCUSDT", "side": "buy", "qty": "0.0015"})
    assert response.status_code == 201, response.data
    assert response.data["filled_qty"] == "0.00100000"
