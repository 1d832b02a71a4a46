"""Fixtures of the config tests: a settable clock, operators, and a following with a share pending."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone as django_timezone

from tests.accounts.jobs.jobs_helpers import FINANCE, RISK, win


@pytest.fixture
def clock(monkeypatch):
    """``clock.set(moment)``: from then on "now" is ``moment`` plus the real time elapsed since."""

    class Clock:
        def set(self, moment: datetime) -> None:
            started = time.monotonic()
            monkeypatch.setattr(django_timezone, "now", lambda: moment + timedelta(seconds=time.monotonic() - started))

    return Clock()


@pytest.fixture
def finance(db):
    from tests.factories import OperatorFactory

    return OperatorFactory(groups=[FINANCE])


@pytest.fixture
def risk(db):
    from tests.factories import OperatorFactory

    return OperatorFactory(groups=[RISK])


@pytest.fixture
def free_btc(db):
    from tests.factories import MarketFactory

    return MarketFactory(symbol="FREEUSDT", base_asset="FREE", taker_fee_rate=D("0"))


@pytest.fixture
def pending(free_btc, clock):
    """On 22 November (UTC) a following earns 100, so its lead's pending share is 10."""
    from copytrading.valuation import share_pending
    from tests.copytrading.copy_helpers import follow, make_lead

    clock.set(datetime(2026, 11, 22, 10, 0, tzinfo=UTC))
    lead = make_lead(ratio="0.1")
    following = follow(lead, amount="1000")
    win(lead, free_btc)
    assert share_pending(following) == D("10")
    return lead, following
