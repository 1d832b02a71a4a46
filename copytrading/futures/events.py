"""Consumers of "position closed" events.

Apps register a handler here (vouchers, statistics, protection); the outbox
delivers every event to every registered consumer exactly once, inside a
transaction that also records the delivery, so a handler's writes and its
delivery mark commit or roll back together.
"""

from __future__ import annotations

from collections.abc import Callable

Handler = Callable[[dict], None]

CONSUMERS: dict[str, Handler] = {}


def register_consumer(name: str) -> Callable[[Handler], Handler]:
    def decorate(handler: Handler) -> Handler:
        CONSUMERS[name] = handler
        return handler

    return decorate


def unregister_consumer(name: str) -> None:
    CONSUMERS.pop(name, None)
