"""Two identical money-moving requests arriving at once execute once."""

import threading
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import JournalEntry
from accounts.selectors import ledger_audit
from tests.factories import futures, spot


@pytest.mark.django_db(transaction=True)
def test_identical_transfers_racing_with_one_key_move_money_once(user, fund):
    fund(user, "100")
    key = uuid.uuid4().hex
    entries_before = JournalEntry.objects.count()
    barrier = threading.Barrier(8)
    responses = []

    def send():
        try:
            client = APIClient()
            client.force_authenticate(user)
            barrier.wait()
            response = client.post(
                "/api/v1/transfers",
                {"source": "spot", "destination": "futures", "amount": "30"},
                format="json",
                HTTP_IDEMPOTENCY_KEY=key,
            )
            responses.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(responses) == 8
    assert {status for status, _ in responses} == {201}
    assert len({body["id"] for _, body in responses}) == 1
    assert JournalEntry.objects.count() == entries_before + 1
    assert spot(user).balance == Decimal("70")
    assert futures(user).balance == Decimal("30")
    assert ledger_audit().ok
