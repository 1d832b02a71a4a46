"""Why and how a position closed, and every movement of an account, as a mobile client sees them.

(R-MG-04, R-MG-06, R-PS-07)
"""

import uuid
from decimal import Decimal as D

import pytest
from rest_framework.test import APIClient

from accounts.models import AccountKind, LedgerAccount
from copytrading.futures.models import Position
from copytrading.futures.services.liquidation import risk_sweep
from copytrading.futures.services.market_settings import market_setting_set
from copytrading.futures.services.orders import order_place
from copytrading.futures.services.positions import position_close
from copytrading.futures.services.prices import mark_price_set
from tests.factories import fund_futures, futures

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def open_long(user, market, qty="0.1"):
    market_setting_set(account=futures(user), market=market, leverage=10, margin_mode="isolated")
    return order_place(account=futures(user), market=market, side="buy", qty=D(qty), idempotency_key=uuid.uuid4().hex)


def closed_positions(user) -> list[dict]:
    response = client_for(user).get("/api/v1/positions", {"status": "closed"})
    assert response.status_code == 200
    return response.data["results"]


def test_a_liquidated_position_says_so_with_its_close_price_and_liquidation_fee(user, btc):
    """R-MG-04's worked example: liquidated one tick under 54,271.36, fee 27.135 to the insurance fund."""
    fund_futures(user, "1000")
    open_long(user, btc)
    tick = mark_price_set(market=btc, price=D("54271.35"))
    risk_sweep(market_id=btc.pk, tick_id=tick.pk)

    [position] = closed_positions(user)
    assert position["close_reason"] == "liquidation"
    assert position["close_price"] == "54271.35000000"
    assert position["liquidation_fee"] == "27.13500000"
    assert position["realised_pnl"] == "-572.86500000"
    [close] = position["closes"]
    assert close["reason"] == "liquidation"
    assert (close["qty"], close["margin_lost"]) == ("0.10000000", "600.00000000")
    assert close["closed_at"] is not None


def test_a_position_closed_in_two_steps_lists_both_closes_and_ends_with_the_last_one(user, btc):
    fund_futures(user, "1000")
    order = open_long(user, btc)
    position_id = order.position_id
    mark_price_set(market=btc, price=D("61000"))
    position_close(position=Position.objects.get(pk=position_id), fraction=D("0.5"), idempotency_key="half")
    open_view = client_for(user).get("/api/v1/positions").data["results"][0]
    assert open_view["close_reason"] is None and open_view["close_price"] is None  # still open
    assert [c["reason"] for c in open_view["closes"]] == ["manual"]

    mark_price_set(market=btc, price=D("62000"))
    position_close(position=Position.objects.get(pk=position_id), idempotency_key="rest")
    [position] = closed_positions(user)
    assert position["close_reason"] == "manual"
    assert position["close_price"] == "62000.00000000"
    assert [c["price"] for c in position["closes"]] == ["62000.00000000", "61000.00000000"]
    # 0.05 × 1,000 + 0.05 × 2,000 realised, fees excluded
    assert position["realised_pnl"] == "150.00000000"
    assert D(position["fees_paid"]) == sum(D(c["fee"]) for c in position["closes"]) + D("3.6")
    assert position["liquidation_fee"] == "0.00000000"


def test_listing_positions_costs_the_same_queries_for_one_or_many(user, btc, django_assert_max_num_queries):
    fund_futures(user, "100000")
    for _ in range(6):
        order = open_long(user, btc, qty="0.01")
        position_close(position=Position.objects.get(pk=order.position_id), idempotency_key=uuid.uuid4().hex)
    client = client_for(user)
    with django_assert_max_num_queries(6):
        assert len(client.get("/api/v1/positions", {"status": "closed"}).data["results"]) == 6


def test_account_records_list_every_movement_of_an_own_account_newest_first(user, btc):
    wallet = fund_futures(user, "1000")
    open_long(user, btc)
    response = client_for(user).get(f"/api/v1/accounts/{wallet.pk}/records")
    assert response.status_code == 200
    kinds = [r["kind"] for r in response.data["results"]]
    assert kinds[0] == "futures_order" and "transfer" in kinds
    amounts = [D(r["amount"]) for r in response.data["results"]]
    assert sum(amounts) == futures(user).balance  # the records add up to the balance


def test_account_records_filter_by_kind_and_time(user, btc):
    wallet = fund_futures(user, "1000")
    open_long(user, btc)
    client = client_for(user)
    only_orders = client.get(f"/api/v1/accounts/{wallet.pk}/records", {"kind": "futures_order"}).data["results"]
    assert [r["kind"] for r in only_orders] == ["futures_order"]
    future = client.get(f"/api/v1/accounts/{wallet.pk}/records", {"since": "2999-01-01T00:00:00Z"}).data["results"]
    assert future == []
    bad = client.get(
        f"/api/v1/accounts/{wallet.pk}/records", {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
    )
    assert bad.status_code == 400 and "until" in bad.data["fields"]


def test_another_users_account_records_answer_404(user, other_user):
    fund_futures(other_user, "10")
    theirs = LedgerAccount.objects.get(owner=other_user, kind=AccountKind.SPOT)
    response = client_for(user).get(f"/api/v1/accounts/{theirs.pk}/records")
    assert response.status_code == 404
    assert set(response.data) == {"code", "detail", "fields"}
