"""Fixtures of the voucher tests: a maker of live, funded campaigns."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.copytrading.conftest import btc, eth  # noqa: F401 - the markets the copy tests trade
from tests.copytrading.copy_helpers import follow, make_lead
from tests.factories import UserFactory, fund_futures
from vouchers.models import Campaign
from vouchers.services.campaigns import campaign_create, campaign_fund, campaign_publish


@pytest.fixture
def live_campaign(campaign_operator, finance_operator):
    """``live_campaign(kind=…, face_value=…, funded=…, **settings)``: created, funded and published."""

    def make(*, funded: str | None = None, publish: bool = True, **settings) -> Campaign:
        now = timezone.now()
        values = {
            "name": "Welcome cover",
            "kind": "first_loss",
            "face_value": Decimal("50"),
            "budget": Decimal("1000"),
            "promotion_starts_at": now - timedelta(days=1),
            "promotion_ends_at": now + timedelta(days=10),
            "claim_deadline": now + timedelta(days=10),
            "validity_days": 7,
            **settings,
        }
        campaign = campaign_create(actor=campaign_operator, reason="launch", **values)
        amount = Decimal(funded) if funded is not None else campaign.budget
        if amount:
            campaign_fund(
                campaign=campaign, amount=amount, actor=finance_operator, reason="Q4 budget", idempotency_key="fund-1"
            )
        if publish:
            campaign = campaign_publish(campaign=campaign, actor=campaign_operator, reason="go")
        return campaign

    return make


@pytest.fixture
def following(db):
    """A Smart Ratio following with 1,000 USDT in its sub-account."""
    return follow(make_lead(), amount="1000")


@pytest.fixture
def lc_campaign(live_campaign):
    """``lc_campaign(face_value="20", **settings)``: a live, funded loss-coverage campaign (budget 1,000)."""

    def make(*, face_value: str = "20", **settings):
        return live_campaign(kind="loss_coverage", face_value=Decimal(face_value), **settings)

    return make


@pytest.fixture
def trader(db):
    """A user trading by hand, with 10,000 USDT in its futures account."""
    user = UserFactory()
    fund_futures(user, "10000")
    return user
