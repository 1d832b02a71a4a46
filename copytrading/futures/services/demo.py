"""Demo markets (BTCUSDT, ETHUSDT, SOLUSDT) and the price feeds that move them. (R-MG-01, R-MG-08)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from copytrading.futures.models import Market, MarkPrice, PriceSource, RiskSweep
from copytrading.futures.services.liquidation import risk_sweep
from copytrading.futures.services.prices import mark_price_set

# symbol → (Market fields, first mark price). Values follow the big USDT-margined venues.
DEMO_MARKETS: dict[str, tuple[dict, Decimal]] = {
    "BTCUSDT": (
        {
            "base_asset": "BTC",
            "price_tick": Decimal("0.1"),
            "qty_step": Decimal("0.001"),
            "min_qty": Decimal("0.001"),
            "max_order_qty": Decimal("50"),
            "max_leverage": 125,
            "maintenance_margin_rate": Decimal("0.004"),
            "token_follow_limit": Decimal("5000000"),
        },
        Decimal("60000"),
    ),
    "ETHUSDT": (
        {
            "base_asset": "ETH",
            "price_tick": Decimal("0.01"),
            "qty_step": Decimal("0.01"),
            "min_qty": Decimal("0.01"),
            "max_order_qty": Decimal("1000"),
            "max_leverage": 100,
            "maintenance_margin_rate": Decimal("0.005"),
            "token_follow_limit": Decimal("2000000"),
        },
        Decimal("3000"),
    ),
    "SOLUSDT": (
        {
            "base_asset": "SOL",
            "price_tick": Decimal("0.001"),
            "qty_step": Decimal("0.1"),
            "min_qty": Decimal("0.1"),
            "max_order_qty": Decimal("20000"),
            "max_leverage": 50,
            "maintenance_margin_rate": Decimal("0.01"),
            "token_follow_limit": Decimal("500000"),
        },
        Decimal("150"),
    ),
}
COMMON = {"taker_fee_rate": Decimal("0.0005"), "funding_rate": Decimal("0.0001"), "funding_interval_hours": 8}


def markets_seed_demo(*, first_price_at: datetime | None = None) -> list[Market]:
    """Create the demo markets that are missing and give each unpriced one its first mark price.

    ``first_price_at`` dates that first price (default: now); the demo's replayed
    history dates it at the history's start, so its replayed days move the mark.
    Idempotent: an existing market is left exactly as it is (operators may
    have tuned it or moved its price), so a second run changes nothing.
    """
    markets = []
    for symbol, (fields, first_price) in DEMO_MARKETS.items():
        with transaction.atomic():
            Market.objects.get_or_create(symbol=symbol, defaults={**COMMON, **fields})
            market = Market.objects.select_for_update().get(symbol=symbol)  # a concurrent seeder waits here
            if market.mark_price is None:
                mark_price_set(market=market, price=first_price, source=PriceSource.OPERATOR, at=first_price_at)
        markets.append(market)
    return markets


@dataclass(frozen=True)
class FedPrice:
    tick: MarkPrice
    current: bool  # it became the market's mark (False: older than the mark, kept as history only)
    sweep: RiskSweep | None  # the inline sweep, when one ran


def price_feed(
    *, market: Market, price: Decimal, source: str, at: datetime | None = None, sweep_inline: bool = False
) -> FedPrice:
    """One price from a feed (replayed file, simulator): record it and, if asked, sweep the market at once.

    ``mark_price_set`` always queues the sweep to the ``risk`` queue after
    commit; ``sweep_inline`` also runs it here, for a machine without a
    worker. Both are keyed by (market, tick), so whichever runs second is a
    no-op. A price older than the market's mark is history only: nothing to sweep.
    """
    tick = mark_price_set(market=market, price=price, source=source, at=at)
    current = market.mark_price_at == tick.at
    sweep = risk_sweep(market_id=market.pk, tick_id=tick.pk) if sweep_inline and current else None
    return FedPrice(tick=tick, current=current, sweep=sweep)
