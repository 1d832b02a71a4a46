"""Operator screens of the futures venue: risk operators run markets and the operator price feed;
prices, orders, positions and closes are read-only; platform balances are visible. (R-MG-08, R-OP-01)"""

from decimal import Decimal as D

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import JournalEntry
from accounts.selectors import ledger_audit
from copytrading.futures.models import MarketChange, MarkPrice, Order, Position, PositionClose, PriceSource
from copytrading.futures.services.market_settings import market_setting_set
from copytrading.futures.services.orders import order_place
from copytrading.futures.services.positions import position_close
from tests.factories import OperatorFactory, fund_futures, futures

pytestmark = pytest.mark.django_db

MARKETS = "/admin/futures/market/"
BALANCES = "/admin/futures/market/platform-balances/"
READ_ONLY_LISTS = [
    "/admin/futures/markprice/",
    "/admin/futures/position/",
    "/admin/futures/order/",
    "/admin/futures/positionclose/",
]


def mark_price_page(market) -> str:
    return f"/admin/futures/market/{market.pk}/mark-price/"


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def risk_operator():
    return OperatorFactory(groups=["Risk operators"])


@pytest.fixture
def risk(risk_operator) -> Client:
    return admin_client(risk_operator)


@pytest.fixture
def traded(user, btc) -> Position:
    """The user opened an isolated 10x long of 0.1 BTC at 60,000 and closed half of it."""
    fund_futures(user, "10000")
    market_setting_set(account=futures(user), market=btc, leverage=10, margin_mode="isolated")
    order = order_place(account=futures(user), market=btc, side="buy", qty=D("0.1"), idempotency_key="open")
    position = Position.objects.get(pk=order.position_id)
    position_close(position=position, fraction=D("0.5"), idempotency_key="half")
    return position


def test_risk_operators_open_every_futures_page(risk, traded, btc):
    for url in [MARKETS, *READ_ONLY_LISTS, BALANCES, mark_price_page(btc)]:
        response = risk.get(url)
        assert response.status_code == 200, url
    for url in [
        f"/admin/futures/position/{traded.pk}/change/",
        f"/admin/futures/order/{Order.objects.first().pk}/change/",
        f"/admin/futures/positionclose/{PositionClose.objects.get().pk}/change/",
        f"/admin/futures/market/{btc.pk}/change/",
    ]:
        assert risk.get(url).status_code == 200, url


@pytest.mark.parametrize(
    "query",
    ["market__id__exact={btc}", "status__exact=open", "side__exact=long", "margin_mode__exact=isolated"],
)
def test_positions_and_orders_filter_by_market_status_side_and_mode(risk, traded, btc, query):
    query = query.format(btc=btc.pk)
    positions = risk.get(f"/admin/futures/position/?{query}")
    assert positions.status_code == 200
    assert f"/admin/futures/position/{traded.pk}/change/" in positions.content.decode()
    closed = risk.get("/admin/futures/position/?status__exact=closed").content.decode()
    assert f"/admin/futures/position/{traded.pk}/change/" not in closed
    order_query = query.replace("status__exact=open", "status__exact=filled").replace("long", "buy")
    assert risk.get(f"/admin/futures/order/?{order_query}").status_code == 200


def test_a_risk_operator_sets_the_mark_price_and_is_recorded_as_its_actor(risk, risk_operator, btc):
    """R-MG-08: the operator feed goes through mark_price_set: a tick with source operator and its actor."""
    response = risk.post(mark_price_page(btc), {"price": "61000.25"})
    assert response.status_code == 302
    assert response["Location"] == MARKETS
    tick = MarkPrice.objects.get()
    assert (tick.price, tick.source, tick.actor) == (D("61000.25"), PriceSource.OPERATOR, risk_operator)
    btc.refresh_from_db()
    assert (btc.mark_price, btc.mark_price_at) == (D("61000.25"), tick.at)


@pytest.mark.parametrize("price", ["abc", "0", "-5", "61000.005", "1e40", ""])
def test_a_bad_mark_price_is_shown_on_the_form_and_changes_nothing(risk, btc, price):
    response = risk.post(mark_price_page(btc), {"price": price})
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert not MarkPrice.objects.exists()
    btc.refresh_from_db()
    assert btc.mark_price == D("60000")


def test_the_set_mark_price_action_opens_the_form_for_one_market(risk, btc, eth):
    response = risk.post(MARKETS, {"action": "set_mark_price", "_selected_action": [btc.pk]})
    assert response.status_code == 302
    assert response["Location"] == mark_price_page(btc)
    both = risk.post(MARKETS, {"action": "set_mark_price", "_selected_action": [btc.pk, eth.pk]}, follow=True)
    assert "Select exactly one market" in both.content.decode()


@pytest.mark.parametrize("group", ["Finance", "Campaign operators"])
def test_other_operators_cannot_set_prices_or_run_markets(btc, group):
    client = admin_client(OperatorFactory(groups=[group]))
    assert client.get(mark_price_page(btc)).status_code == 403
    assert client.post(mark_price_page(btc), {"price": "1"}).status_code == 403
    assert client.get(MARKETS).status_code == 403
    assert not MarkPrice.objects.exists()


def test_the_price_feed_is_offered_only_to_those_who_may_use_it(risk, btc):
    page = risk.get(MARKETS).content.decode()
    assert 'value="set_mark_price"' in page
    assert 'name="form-0-funding_rate"' in page  # rates are edited in the list
    assert 'name="form-0-maintenance_margin_rate"' not in page
    superuser = OperatorFactory(is_superuser=True)
    viewer = OperatorFactory()
    viewer.user_permissions.add(*risk_operator_permissions("view_market"))
    page = admin_client(viewer).get(MARKETS).content.decode()
    assert 'value="set_mark_price"' not in page
    assert admin_client(superuser).get(mark_price_page(btc)).status_code == 200


# The market change form carries the read-only inline of its recorded changes.
EMPTY_CHANGES_INLINE = {
    "changes-TOTAL_FORMS": "0",
    "changes-INITIAL_FORMS": "0",
    "changes-MIN_NUM_FORMS": "0",
    "changes-MAX_NUM_FORMS": "0",
}


def risk_operator_permissions(*codenames):
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(content_type__app_label="futures", codename__in=codenames)


def test_a_risk_operator_edits_rates_but_not_what_open_positions_depend_on(risk, risk_operator, btc, traded):
    page = risk.get(f"/admin/futures/market/{btc.pk}/change/").content.decode()
    assert 'name="funding_rate"' in page and 'name="max_leverage"' in page
    for fixed in ["maintenance_margin_rate", "price_tick", "qty_step", "min_qty", "mark_price", "symbol"]:
        assert f'name="{fixed}"' not in page, fixed
    response = risk.post(
        f"/admin/futures/market/{btc.pk}/change/",
        {
            "max_order_qty": "50",
            "max_leverage": "125",
            "taker_fee_rate": "0.0005",
            "funding_rate": "0.0002",
            "funding_interval_hours": "8",
            "token_follow_limit": "",
            "is_active": "on",
            "maintenance_margin_rate": "0.9",  # ignored: read-only while a position is open
            "mark_price": "1",  # ignored: read-only
            "reason": "cheaper fees",
            **EMPTY_CHANGES_INLINE,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    btc.refresh_from_db()
    assert (btc.taker_fee_rate, btc.funding_rate, btc.max_order_qty) == (D("0.0005"), D("0.0002"), D("50"))
    assert (btc.maintenance_margin_rate, btc.mark_price) == (D("0.005"), D("60000"))
    change = MarketChange.objects.get(market=btc)  # R-OP-01: who and why
    assert (change.actor, change.reason) == (risk_operator, "cheaper fees")
    assert set(change.changes) == {"taker_fee_rate", "funding_rate", "max_order_qty"}


def test_with_no_open_position_the_admin_changes_the_maintenance_rate_too_and_needs_a_reason(risk, btc):
    form = {
        "max_order_qty": "100",
        "max_leverage": "125",
        "price_tick": "0.01",
        "qty_step": "0.001",
        "min_qty": "0.001",
        "maintenance_margin_rate": "0.006",
        "taker_fee_rate": "0.0006",
        "funding_rate": "0.0001",
        "funding_interval_hours": "8",
        "is_active": "on",
        **EMPTY_CHANGES_INLINE,
    }
    url = f"/admin/futures/market/{btc.pk}/change/"
    refused = risk.post(url, form)
    assert refused.status_code == 200 and "This field is required" in refused.content.decode()
    too_high = risk.post(url, {**form, "maintenance_margin_rate": "0.5", "reason": "r"})
    assert too_high.status_code == 200 and "must be below 1 / max_leverage" in too_high.content.decode()
    btc.refresh_from_db()
    assert btc.maintenance_margin_rate == D("0.005") and not MarketChange.objects.exists()
    assert risk.post(url, {**form, "reason": "riskier market"}).status_code == 302
    btc.refresh_from_db()
    assert btc.maintenance_margin_rate == D("0.006")
    assert MarketChange.objects.get().changes == {"maintenance_margin_rate": ["0.00500000", "0.00600000"]}


def test_a_risk_operator_stops_a_market_from_the_list_and_it_stops_trading(risk, btc, user):
    response = risk.post(
        MARKETS,
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": str(btc.pk),
            "form-0-taker_fee_rate": "0.0006",
            "form-0-funding_rate": "-0.0001",
            # is_active unticked
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    btc.refresh_from_db()
    assert (btc.is_active, btc.funding_rate) == (False, D("-0.0001"))
    fund_futures(user, "1000")
    client = APIClient()
    client.force_authenticate(user)
    assert client.get("/api/v1/markets").data == []
    entries = JournalEntry.objects.count()
    refused = client.post(
        "/api/v1/orders", {"symbol": "BTCUSDT", "side": "buy", "qty": "0.01"}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert refused.status_code == 400
    assert "symbol" in refused.data["fields"]
    assert JournalEntry.objects.count() == entries


def test_trading_records_are_read_only_even_for_a_superuser(traded):
    client = admin_client(OperatorFactory(is_superuser=True))
    entries = JournalEntry.objects.count()
    for model, pk in [
        ("position", traded.pk),
        ("order", Order.objects.first().pk),
        ("positionclose", PositionClose.objects.get().pk),
        (
            "markprice",
            MarkPrice.objects.create(market=traded.market, price=D("1"), source="operator", at=traded.opened_at).pk,
        ),
    ]:
        assert client.get(f"/admin/futures/{model}/add/").status_code == 403, model
        assert client.post(f"/admin/futures/{model}/{pk}/delete/", {"post": "yes"}).status_code == 403, model
        page = client.get(f"/admin/futures/{model}/{pk}/change/").content.decode()
        assert 'type="submit" value="Save"' not in page, model
    assert client.post(f"/admin/futures/market/{traded.market_id}/delete/", {"post": "yes"}).status_code == 403
    assert JournalEntry.objects.count() == entries
    assert Position.objects.filter(pk=traded.pk).exists()
    assert ledger_audit().ok


def test_platform_balances_show_house_insurance_fund_and_fee_revenue(risk, traded):
    fees = "5.40000000"  # 3.6 on the open + 1.8 on closing half at 60,000
    page = risk.get(BALANCES).content.decode()
    assert "Fee revenue" in page and fees in page
    assert "House (counterparty)" in page
    changelist = risk.get(MARKETS).content.decode()
    assert "Platform balances" in changelist and fees in changelist


def test_platform_balances_need_the_ledger_view_permission(btc):
    client = admin_client(OperatorFactory(groups=["Campaign operators"]))
    assert client.get(BALANCES).status_code == 403


def test_the_risk_group_holds_the_price_feed_permission(risk_operator):
    for perm in [
        "futures.set_mark_price",
        "futures.view_market",
        "futures.change_market",
        "futures.view_position",
        "futures.view_order",
        "futures.view_markprice",
    ]:
        assert risk_operator.has_perm(perm), perm
    assert risk_operator.has_perm("futures.add_market")  # markets are created by risk operators (ops API)
    assert not risk_operator.has_perm("futures.change_position")
    assert not OperatorFactory(groups=["Finance"]).has_perm("futures.set_mark_price")
