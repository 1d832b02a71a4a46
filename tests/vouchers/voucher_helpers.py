"""Copy positions that close at a loss, and the delivery of their events to the vouchers' consumer."""

from __future__ import annotations

import uuid
from decimal import Decimal as D

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
