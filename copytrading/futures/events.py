"""Consumers of "position closed" events.

Apps register a handler here (vouchers, statistics, protection); the outbox
delivers every event to every registered consumer exactly once, inside a
transaction that also records the delivery, so a handler's writes and its
delivery mark commit or roll back together.

A handler takes one event (``register_consumer``) or a batch of them, oldest
first (``register_batch_consumer``): a consumer that reads or writes per user
does it once per batch instead of once per event, which is what keeps a
liquidation sweep of thousands of positions cheap to follow.
"""

from __future__ import annotations

from collections.abc import Callable

Handler = Callable[[dict], None]
BatchHandler = Callable[[list[dict]], None]

CONSUMERS: dict[str, Handler] = {}
BATCH_CONSUMERS: dict[str, BatchHandler] = {}


def register_consumer(name: str) -> Callable[[Handler], Handler]:
    def decorate(handler: Handler) -> Handler:
        CONSUMERS[name] = handler
        return handler

    return decorate


def register_batch_consumer(name: str) -> Callable[[BatchHandler], BatchHandler]:
    """``handler(payloads)`` gets up to a delivery batch of events, in event order, in one transaction."""

    def decorate(handler: BatchHandler) -> BatchHandler:
        BATCH_CONSUMERS[name] = handler
        return handler

    return decorate


def unregister_consumer(name: str) -> None:
    CONSUMERS.pop(name, None)
    BATCH_CONSUMERS.pop(name, None)
