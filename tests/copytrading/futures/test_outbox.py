"""Every close writes one "position closed" event; each consumer gets it exactly once."""

import uuid
from decimal import Decimal as D

import pytest
from django.db import transaction

from copytrading.futures.events import register_batch_consumer, register_consumer, unregister_consumer
from copytrading.futures.models import OutboxDelivery, OutboxEvent
from copytrading.futures.services.orders import order_place
from copytrading.futures.services.outbox import outbox_deliver_pending
from copytrading.futures.services.positions import position_close
from tests.factories import fund_futures, futures

pytestmark = pytest.mark.django_db


@pytest.fixture
def received():
    seen = []
    register_consumer("test-consumer")(lambda payload: seen.append(payload["close_id"]))
    yield seen
    unregister_consumer("test-consumer")


def test_each_close_writes_one_event_with_its_result(user, btc):
    fund_futures(user, "1000")
    position = order_place(
        account=futures(user), market=btc, side="buy", qty=D("0.01"), idempotency_key=uuid.uuid4().hex
    ).position
    position_close(position=position, fraction=D("0.5"), idempotency_key="a")
    position_close(position=position, idempotency_key="b")
    payloads = [e.payload for e in OutboxEvent.objects.order_by("pk")]
    assert [(p["qty"], p["full"], p["reason"]) for p in payloads] == [
        ("0.00500000", False, "manual"),
        ("0.00500000", True, "manual"),
    ]


def test_a_crash_between_writing_and_delivering_still_delivers_exactly_once(user, btc, received):
    fund_futures(user, "1000")
    position = order_place(
        account=futures(user), market=btc, side="buy", qty=D("0.01"), idempotency_key=uuid.uuid4().hex
    ).position
    position_close(position=position, idempotency_key="close")  # event committed, the queued task never ran
    event = OutboxEvent.objects.get()

    # A delivery that crashes mid-way (after the handler, before commit) leaves nothing behind.
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox_deliver_pending(consumer="test-consumer")
        raise RuntimeError("worker died")
    assert not OutboxDelivery.objects.exists()

    received.clear()
    assert outbox_deliver_pending(consumer="test-consumer") == 1
    assert outbox_deliver_pending(consumer="test-consumer") == 0  # the re-run finds it delivered
    assert received == [event.payload["close_id"]]
    assert OutboxDelivery.objects.filter(event=event, consumer="test-consumer").count() == 1


def test_a_batch_consumer_gets_the_pending_events_together_in_order_and_once(user, btc):
    calls = []
    register_batch_consumer("test-batch")(lambda payloads: calls.append([p["close_id"] for p in payloads]))
    try:
        fund_futures(user, "1000")
        position = order_place(
            account=futures(user), market=btc, side="buy", qty=D("0.03"), idempotency_key=uuid.uuid4().hex
        ).position
        for key in ("a", "b", "c"):
            position_close(position=position, qty=D("0.01"), idempotency_key=key)

        assert outbox_deliver_pending(consumer="test-batch", batch=2) == 3
        assert outbox_deliver_pending(consumer="test-batch") == 0
    finally:
        unregister_consumer("test-batch")

    closes = list(OutboxEvent.objects.order_by("pk").values_list("payload__close_id", flat=True))
    assert calls == [closes[:2], closes[2:]]  # batches of two, oldest first
    assert OutboxDelivery.objects.filter(consumer="test-batch").count() == 3


def test_a_failing_batch_consumer_leaves_its_batch_undelivered(user, btc):
    def failing(payloads):
        raise RuntimeError("voucher books are down")

    register_batch_consumer("test-batch")(failing)
    try:
        fund_futures(user, "1000")
        position = order_place(
            account=futures(user), market=btc, side="buy", qty=D("0.01"), idempotency_key=uuid.uuid4().hex
        ).position
        position_close(position=position, idempotency_key="a")
        with pytest.raises(RuntimeError):
            outbox_deliver_pending(consumer="test-batch")
    finally:
        unregister_consumer("test-batch")
    assert not OutboxDelivery.objects.filter(consumer="test-batch").exists()
