"""Builders for copy-trading scenarios. Followers start and leads trade through the API, as clients do;
the fan-out then runs as the `copy` worker would run it."""

from __future__ import annotations

import uuid
from decimal import Decimal

from rest_framework.test import APIClient

from accounts.models import LedgerAccount
from copytrading.futures.models import Order, Position, PositionStatus
from copytrading.models import Following, LeadTrader
from copytrading.services.fanout import copy_fanout
from copytrading.services.leads import lead_trader_apply, lead_trader_approve
from tests.factories import OperatorFactory, UserFactory, fund_futures, fund_spot


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def make_lead(*, equity: str = "10000", ratio: str = "0.1", minimum: str = "0", nickname: str | None = None):
    user = UserFactory()
    fund_futures(user, equity)
    lead = lead_trader_apply(
        user=user,
        nickname=nickname or f"lead-{uuid.uuid4().hex[:6]}",
        profit_share_ratio=Decimal(ratio),
        min_following_amount=Decimal(minimum),
    )
    return lead_trader_approve(lead_id=lead.pk, operator=OperatorFactory(), reason="track record checked")


def follow(lead: LeadTrader, *, amount: str = "1000", mode: str = "smart", user=None, **settings) -> Following:
    """Start following through ``POST /api/v1/followings``."""
    user = user or UserFactory()
    fund_spot(user, amount)
    body = {"lead": lead.pk, "mode": mode, "amount": amount, "source": "spot", "settings": settings}
    response = client_for(user).post("/api/v1/followings", body, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert response.status_code == 201, response.data
    return Following.objects.get(pk=response.data["id"])


def lead_order(
    lead: LeadTrader,
    market,
    *,
    side: str = "buy",
    qty: str = "0.1",
    leverage: int = 10,
    mode: str = "cross",
    reduce_only: bool = False,
    fanout: bool = True,
) -> Order:
    """The lead sets its leverage and mode and places a market order through the API; then the fan-out runs."""
    client = client_for(lead.user)
    response = client.put(
        f"/api/v1/markets/{market.symbol}/settings", {"leverage": leverage, "margin_mode": mode}, format="json"
    )
    assert response.status_code == 200, response.data
    response = client.post(
        "/api/v1/orders",
        {"symbol": market.symbol, "side": side, "qty": qty, "reduce_only": reduce_only},
        format="json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )
    assert response.status_code == 201, response.data
    order = Order.objects.get(pk=response.data["id"])
    assert response.data["copy_blocked"] == order.copy_blocked
    if fanout:
        copy_fanout(lead_order_id=order.pk)
    return order


def copy_of(following: Following, market) -> Position | None:
    return Position.objects.filter(
        account=following.sub_account, market=market, slot=following.pk, status=PositionStatus.OPEN
    ).first()


def sub_balance(following: Following) -> Decimal:
    return LedgerAccount.objects.get(pk=following.sub_account_id).balance
