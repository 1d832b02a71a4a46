"""Mark prices: one service for every source (operators, replayed files, the simulator). (R-MG-08)"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.money import parse_amount
from config.errors import InvalidInput
from config.queueing import enqueue_on_commit
from copytrading.futures.models import Market, MarkPrice, PriceSource

# Clocks of price sources drift a little; beyond this a timestamp is a mistake.
FUTURE_SKEW = timedelta(seconds=60)


def mark_price_set(
    *,
    market: Market,
    price: Decimal,
    source: str = PriceSource.OPERATOR,
    actor_id: int | None = None,
    at: datetime | None = None,
) -> MarkPrice:
    """Record a new mark price and queue the market's risk sweep for this tick (after commit).

    A tick stamped before the current mark is kept as history only and moves nothing.
    """
    price = parse_amount(price, field="price")
    if source not in PriceSource.values:
        raise InvalidInput("source", f"must be one of {', '.join(PriceSource.values)}")
    if price % market.price_tick:
        raise InvalidInput("price", f"must be a multiple of the price tick {market.price_tick}")
    now = timezone.now()
    at = at or now
    if at > now + FUTURE_SKEW:
        raise InvalidInput("at", f"a price cannot be stamped in the future ({at.isoformat()})")
    with transaction.atomic():
        tick = MarkPrice.objects.create(market=market, price=price, source=source, actor_id=actor_id, at=at)
        # A tick older than the current mark (a replayed file after live prices) is history only.
        current = Market.objects.filter(pk=market.pk).filter(Q(mark_price_at__isnull=True) | Q(mark_price_at__lte=at))
        if current.update(mark_price=price, mark_price_at=at):
            market.mark_price, market.mark_price_at = price, at
            enqueue_on_commit("futures.risk_sweep", market.pk, tick.pk)
    return tick
