"""Copy positions that close at a loss, the delivery of their events to the vouchers' consumer, and the API's
clients: the mobile app (token), the web (session) and operators."""

from __future__ import annotations

import uuid
from decimal import Decimal as D

from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from copytrading.futures.models import PositionClose
from copytrading.futures.services.market_settings import market_setting_set
from copytrading.futures.services.orders import order_place
from copytrading.futures.services.outbox import outbox_deliver_pending
from copytrading.futures.services.positions import position_close
from copytrading.futures.services.prices import mark_price_set


def open_copy(following, market, *, qty="0.01", leverage=10, mode="cross"):
    """A copy position in the following's slot, opened at the current mark."""
    market_setting_set(account=following.sub_account, market=market, leverage=leverage, margin_mode=mode)
    return order_place(
        account=following.sub_account,
        market=market,
        side="buy",
        qty=D(qty),
        slot=following.pk,
        idempotency_key=uuid.uuid4().hex,
    ).position


def close_at(position, market, price):
    mark_price_set(market=market, price=D(price))
    position_close(position=position, idempotency_key=uuid.uuid4().hex)
    return PositionClose.objects.filter(position=position).latest("pk")


def deliver():
    return outbox_deliver_pending(consumer="vouchers.triggers")


def app_client(user) -> APIClient:
    """The mobile client: authenticated by the user's API token."""
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def web_client(user) -> APIClient:
    """The web app: authenticated by a session cookie."""
    client = APIClient()
    client.force_login(user)
    return client


def ops_client(operator) -> APIClient:
    client = APIClient()
    client.force_authenticate(operator)
    return client
