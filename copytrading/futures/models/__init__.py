"""The futures venue's data: markets and prices, orders, positions and closes, the outbox.

Split by concern; import from here. The tables keep the names they were
created with (``copytrading_*``), before the venue became an app of its own.
"""

from copytrading.futures.models.events import OutboxDelivery, OutboxEvent
from copytrading.futures.models.markets import MarginMode, Market, MarketChange, MarketSetting, MarkPrice, PriceSource
from copytrading.futures.models.trading import (
    CloseReason,
    FundingRun,
    Order,
    OrderStatus,
    Position,
    PositionClose,
    PositionSide,
    PositionStatus,
    RiskSweep,
    Side,
)

__all__ = [
    "CloseReason",
    "FundingRun",
    "MarginMode",
    "MarkPrice",
    "Market",
    "MarketChange",
    "MarketSetting",
    "Order",
    "OrderStatus",
    "OutboxDelivery",
    "OutboxEvent",
    "Position",
    "PositionClose",
    "PositionSide",
    "PositionStatus",
    "PriceSource",
    "RiskSweep",
    "Side",
]
