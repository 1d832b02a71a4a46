"""A lead's fill reaches its followers through a real Celery worker on the `copy` queue, queued on commit."""

import time
import uuid
from decimal import Decimal as D

import pytest
from django.db import transaction

from config.celery import app
from copytrading.futures.services.market_settings import market_setting_set
from copytrading.futures.services.orders import order_place
from copytrading.models import CopyDecision
from tests.copytrading.copy_helpers import copy_of, follow, make_lead
from tests.factories import MarketFactory, futures


@pytest.mark.slow
def test_a_lead_open_is_copied_end_to_end_by_a_worker(start_worker):
    assert app.conf.task_always_eager is False
    btc = MarketFactory()
    lead = make_lead()
    following = follow(lead)
    proc = start_worker(["copy"])
    market_setting_set(account=futures(lead.user), market=btc, leverage=10)
    with transaction.atomic():
        order_place(account=futures(lead.user), market=btc, side="buy", qty=D("0.1"), idempotency_key=uuid.uuid4().hex)
        assert not CopyDecision.objects.exists()  # nothing is copied before the lead's fill commits
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not CopyDecision.objects.exists():
        if proc.poll() is not None:
            pytest.fail(f"worker exited early:\n{proc.stdout.read()}")
        time.sleep(0.2)
    decision = CopyDecision.objects.get(following=following)
    assert decision.followed
    assert copy_of(following, btc).qty == D("0.01")
