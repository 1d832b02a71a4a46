"""Futures venue and copy trading data. Split by concern; import from here."""

from copytrading.models.events import OutboxDelivery, OutboxEvent
from copytrading.models.markets import MarginMode, Market, MarketSetting, MarkPrice, PriceSource
from copytrading.models.trading import (
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
