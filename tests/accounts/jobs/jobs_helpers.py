"""Builders for the tests of operators' job runs (``accounts.jobs``): the command, the API, a winning trade."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal as D
from io import StringIO

from django.core.management import call_command
from rest_framework.test import APIClient

from copytrading.futures.services.prices import mark_price_set
from copytrading.models import LeadTrader
from tests.copytrading.copy_helpers import lead_order

FIRE = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)  # 00:00 on 23 November, platform time
DAY = date(2026, 11, 23)
FINANCE, RISK, CAMPAIGN = "Finance", "Risk operators", "Campaign operators"


def win(lead, market) -> None:
    """The lead buys 0.1 at 60,000 and sells at 70,000: its Smart followers' copies close in profit."""
    LeadTrader.objects.filter(pk=lead.pk).update(last_open_at=None)
    mark_price_set(market=market, price=D("60000"))
    lead_order(lead, market, qty="0.1")
    mark_price_set(market=market, price=D("70000"))
    lead_order(lead, market, side="sell", qty="0.1", reduce_only=True)


def run_job(*args: str) -> str:
    """``manage.py run_job *args``; returns what it printed."""
    out = StringIO()
    call_command("run_job", *args, stdout=out)
    return out.getvalue()


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def post_run(user, name: str, body: dict, key: str | None = None):
    return api(user).post(
        f"/api/v1/ops/jobs/{name}/runs", body, format="json", HTTP_IDEMPOTENCY_KEY=key or uuid.uuid4().hex
    )
