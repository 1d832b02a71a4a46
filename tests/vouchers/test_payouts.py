"""Reimbursements as experience vouchers: the daily run after the trigger, holds, claims, expiry.
(R-VC-07, R-VC-08, R-VC-09)"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db import connection

from accounts.selectors import ledger_audit
from config.clock import platform_day_start
from config.errors import InvalidState, RuleViolation
from tests.vouchers.voucher_helpers import close_at, deliver, open_copy
from vouchers.ledger import campaign_accounts
from vouchers.models import AbuseBan, Payout, PayoutState
from vouchers.selectors import campaign_budget_problems, campaign_liabilities
from vouchers.services.claims import voucher_claim
from vouchers.services.payouts import (
    payout_claim,
    payout_hold,
    payout_reject,
    payout_release,
    payouts_expire_due,
    payouts_held_alert,
    payouts_issue_due,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def triggered(live_campaign, following, btc):
    """A 50 voucher triggered by a first loss of 30: a pending payout of 30."""
    campaign = live_campaign(face_value=D("50"))
    voucher_claim(user=following.follower, campaign=campaign, idempotency_key="k")
    close_at(open_copy(following, btc), btc, "57000")
    deliver()
    return Payout.objects.get()


def next_day(payout):
    return platform_day_start(payout.triggered_at) + timedelta(days=1, minutes=15)


def reserved(campaign):
    account = campaign_accounts(campaign).reserved
    account.refresh_from_db()
    return account.balance


def books_agree():
    return campaign_budget_problems() == [] and ledger_audit().ok


def test_a_trigger_leaves_a_pending_payout_the_next_daily_run_issues(triggered):
    """R-VC-07: issued by the daily run after the trigger, claimable for the campaign's claim window (7 days)."""
    assert (triggered.state, triggered.amount) == (PayoutState.PENDING, D("30"))
    assert payouts_issue_due(now=triggered.triggered_at + timedelta(minutes=1)) == 0  # the same platform day

    assert payouts_issue_due(now=next_day(triggered)) == 1
    assert payouts_issue_due(now=next_day(triggered)) == 0  # a second run changes nothing

    triggered.refresh_from_db()
    assert triggered.state == PayoutState.ISSUED
    assert triggered.claim_by == triggered.issued_at + timedelta(days=7)
    assert reserved(triggered.campaign) == D("30") and books_agree()  # reserved until spent (R-VC-09)


def test_a_claimed_payout_is_usable_for_the_campaign_usage_period(triggered):
    payouts_issue_due(now=next_day(triggered))
    triggered.refresh_from_db()

    claimed = payout_claim(user=triggered.user, payout=triggered, now=triggered.issued_at + timedelta(days=1))

    assert claimed.state == PayoutState.CLAIMED
    assert claimed.usable_until == claimed.claimed_at + timedelta(days=14)
    assert payout_claim(user=triggered.user, payout=triggered).pk == claimed.pk  # a retried claim


def test_a_payout_not_claimed_in_its_window_expires_and_its_money_returns(triggered):
    payouts_issue_due(now=next_day(triggered))
    triggered.refresh_from_db()
    late = triggered.claim_by + timedelta(seconds=1)

    with pytest.raises(RuleViolation, match="claim window"):
        payout_claim(user=triggered.user, payout=triggered, now=late)
    assert payouts_expire_due(now=late) == 1
    assert payouts_expire_due(now=late) == 0

    triggered.refresh_from_db()
    assert triggered.state == PayoutState.EXPIRED
    assert reserved(triggered.campaign) == 0 and books_agree()


def test_a_claimed_payout_unused_past_its_usage_expiry_expires(triggered):
    """R-XV-03: unused balances expire at the expiry time."""
    payouts_issue_due(now=next_day(triggered))
    triggered.refresh_from_db()
    claimed = payout_claim(user=triggered.user, payout=triggered, now=triggered.issued_at)

    assert payouts_expire_due(now=claimed.usable_until - timedelta(seconds=1)) == 0
    assert payouts_expire_due(now=claimed.usable_until) == 1
    assert reserved(triggered.campaign) == 0 and books_agree()


def test_a_held_payout_waits_for_review_then_is_released(triggered, campaign_operator):
    """R-VC-07: operators can hold a payout for review; R-OP-01: with who and why."""
    payout_hold(payout=triggered, actor=campaign_operator, reason="shared device")
    assert payouts_issue_due(now=next_day(triggered)) == 0

    released = payout_release(payout=triggered, actor=campaign_operator, reason="checked: a family")

    assert released.state == PayoutState.ISSUED and released.review_reason == "checked: a family"
    assert released.reviewed_by == campaign_operator
    with pytest.raises(InvalidState):
        payout_hold(payout=released, actor=campaign_operator, reason="too late")


def test_a_rejected_payout_releases_its_reservation(triggered, campaign_operator):
    """R-VC-09: the reservation returns to available when a held payout is rejected."""
    campaign = triggered.campaign
    payout_hold(payout=triggered, actor=campaign_operator, reason="abuse suspected")
    payout_reject(payout=triggered, actor=campaign_operator, reason="one person, five accounts")

    books = campaign_liabilities([campaign])[campaign.pk]
    assert (books.available, books.reserved, books.pending_payouts) == (D("1000"), D("0"), D("0"))
    assert books_agree()


def test_operators_are_warned_of_a_held_payout_a_day_before_its_seventh_day(triggered, campaign_operator, caplog):
    payout_hold(payout=triggered, actor=campaign_operator, reason="check")
    with caplog.at_level(logging.WARNING, logger="vouchers.services.payouts"):
        assert payouts_held_alert(now=triggered.triggered_at + timedelta(days=5)) == 0
        assert payouts_held_alert(now=triggered.triggered_at + timedelta(days=6)) == 1
    assert "passes its seventh day" in caplog.text


@pytest.mark.slow
def test_the_reimbursement_run_twice_in_parallel_issues_each_payout_once(triggered, transactional_db):
    """Two beats at once: one payout each, never two."""
    now = next_day(triggered)
    counts: list[int] = []

    def run():
        try:
            counts.append(payouts_issue_due(now=now))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(counts) == [0, 1]
    assert Payout.objects.get().state == PayoutState.ISSUED


def test_a_payout_triggered_after_its_user_was_banned_is_withheld_by_the_daily_run(triggered, campaign_operator):
    """R-LC-06: a disabled account's payouts are withheld (shown as withheld, its money back in available)."""
    AbuseBan.objects.create(user=triggered.user, actor=campaign_operator, reason="one person, five accounts")

    assert payouts_issue_due(now=next_day(triggered)) == 0

    triggered.refresh_from_db()
    assert triggered.state == PayoutState.WITHHELD
    assert reserved(triggered.campaign) == 0 and books_agree()
