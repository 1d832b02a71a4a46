"""The outbox: closes write events in their own transaction; a task delivers them to each consumer once."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from accounts.models import LedgerAccount
from config.db import copy_rows
from config.queueing import enqueue_on_commit
from copytrading.futures.events import BATCH_CONSUMERS, CONSUMERS, BatchHandler, Handler
from copytrading.futures.models import OutboxDelivery, OutboxEvent, PositionClose

logger = logging.getLogger(__name__)

# Events handled per transaction: one consumer's handler runs per event inside
# it, so a batch bounds how much one slow consumer holds locks for.
DELIVERY_BATCH = 200
# A batch consumer's cost is a few statements per batch, not per event: a sweep's thousand closes go in one.
BATCH_CONSUMER_BATCH = 1000


def position_closed_payload(close: PositionClose, owner_id: int) -> dict:
    position = close.position
    return {
        "close_id": close.pk,
        "position_id": position.pk,
        "account_id": position.account_id,
        "owner_id": owner_id,
        "market": position.market.symbol,
        "slot": position.slot,
        "side": position.side,
        "margin_mode": position.margin_mode,
        "qty": format(close.qty, "f"),
        "price": format(close.price, "f"),
        "realised_pnl": format(close.realised_pnl, "f"),
        "fee": format(close.fee, "f"),
        "funding": format(close.funding, "f"),
        "margin_lost": format(close.margin_lost, "f"),
        "reason": close.reason,
        # The journal entry of the fill or sweep: closes of one cross liquidation share it.
        "entry_id": close.entry_id,
        "full": position.qty == 0,
        "opened_at": position.opened_at.isoformat(),
        "closed_at": close.created_at.isoformat(),
    }


def events_write(closes: list[PositionClose]) -> int:
    """Write one "position closed" event per close (inside the caller's transaction); return how many.

    COPY, as plain rows: a liquidation sweep or a copy fan-out closes thousands of
    positions at once, and binding thousands of JSON parameters costs more than the
    closes themselves.
    """
    if not closes:
        return 0
    owners = dict(
        LedgerAccount.objects.filter(pk__any={c.position.account_id for c in closes}).values_list("pk", "owner_id")
    )
    now = timezone.now()
    copy_rows(
        OutboxEvent,
        ("kind", "payload", "created_at"),
        (("position_closed", Jsonb(position_closed_payload(c, owners[c.position.account_id])), now) for c in closes),
    )
    enqueue_on_commit("futures.outbox_deliver")
    return len(closes)


def outbox_deliver_pending(*, consumer: str | None = None, batch: int | None = None) -> int:
    """Deliver undelivered events to each registered consumer; return the number of deliveries made.

    Each event is locked (skipping ones another worker holds), handled, and its
    delivery row inserted in one transaction: a crash before commit leaves it
    undelivered, a second run after commit finds it delivered. A batch consumer
    gets each locked batch at once, and its deliveries are inserted together.
    """
    delivered = 0
    for name, handler in list(CONSUMERS.items()):
        if not consumer or name == consumer:
            delivered += _deliver_each(name, handler, batch or DELIVERY_BATCH)
    for name, batch_handler in list(BATCH_CONSUMERS.items()):
        if not consumer or name == consumer:
            delivered += _deliver_batches(name, batch_handler, batch or BATCH_CONSUMER_BATCH)
    return delivered


def _pending(name: str, batch: int) -> list[OutboxEvent]:
    return list(
        OutboxEvent.objects.exclude(deliveries__consumer=name)
        .order_by("pk")
        .select_for_update(skip_locked=True)[:batch]
    )


def _deliver_each(name: str, handler: Handler, batch: int) -> int:
    delivered = 0
    while True:
        with transaction.atomic():
            events = _pending(name, batch)
            for event in events:
                try:
                    with transaction.atomic():
                        handler(event.payload)
                        OutboxDelivery.objects.create(event=event, consumer=name)
                except IntegrityError:
                    continue  # delivered meanwhile by another worker
                delivered += 1
        if len(events) < batch:
            return delivered


def _deliver_batches(name: str, handler: BatchHandler, batch: int) -> int:
    delivered = 0
    while True:
        with transaction.atomic():
            events = _pending(name, batch)
            if events:
                handler([e.payload for e in events])
                # Locked by this transaction, so nobody delivered them meanwhile.
                now = timezone.now()
                copy_rows(OutboxDelivery, ("event_id", "consumer", "delivered_at"), ((e.pk, name, now) for e in events))
                delivered += len(events)
        if len(events) < batch:
            return delivered
