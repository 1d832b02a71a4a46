"""Payout (experience) vouchers over the API: the user's list with both deadlines, claiming in the app, and the
operators' review. (R-VC-02, R-VC-07, R-VC-08, R-VC-09, R-OP-01)

The mobile client authenticates with its API token; the web with a session, which may read
the payouts but never claim one (R-VC-07: claiming happens in the app, like R-VC-02).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from accounts.models import JournalEntry
from accounts.selectors import ledger_audit
from config.clock import platform_day_start
from copytrading.futures.services.prices import mark_price_set
from tests.factories import OperatorFactory
from tests.vouchers.voucher_helpers import app_client, close_at, deliver, open_copy, ops_client, web_client
from vouchers.ledger import campaign_accounts
from vouchers.models import Payout, PayoutState
from vouchers.selectors import campaign_budget_problems
from vouchers.services.claims import voucher_claim
from vouchers.services.payouts import payout_hold, payouts_issue_due

pytestmark = pytest.mark.django_db

PAYOUTS = "/api/v1/vouchers/payouts"
OPS_PAYOUTS = "/api/v1/ops/payouts"


def claim_url(payout: Payout) -> str:
    return f"{PAYOUTS}/{payout.pk}/claim"


def z(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def books_agree() -> bool:
    return campaign_budget_problems() == [] and ledger_audit().ok


def lose(following, btc) -> None:
    """A copy of 0.01 BTC opened at 60,000 and closed at 57,000 (a loss of 30), delivered to the vouchers."""
    mark_price_set(market=btc, price=D("60000"))
    close_at(open_copy(following, btc), btc, "57000")
    deliver()


def issue(payout: Payout) -> Payout:
    """The daily run after the trigger issues it (R-VC-07)."""
    payouts_issue_due(now=platform_day_start(payout.triggered_at) + timedelta(days=1, minutes=15))
    payout.refresh_from_db()
    return payout


@pytest.fixture
def campaign(live_campaign):
    """A 50 voucher campaign a user may claim three times from."""
    return live_campaign(face_value=D("50"), per_user_limit=3)


@pytest.fixture
def triggered(campaign, following, btc):
    """A pending payout of 30: the follower's 50 voucher triggered by a first loss of 30 (R-VC-04)."""
    voucher_claim(user=following.follower, campaign=campaign, idempotency_key="k1")
    lose(following, btc)
    return Payout.objects.select_related("voucher").get()


@pytest.fixture
def issued(triggered):
    return issue(triggered)


# --- the user's payouts: listed with both deadlines, claimed in the app ---------------------------------


def test_the_app_claims_an_issued_payout_and_the_list_shows_both_deadlines_and_the_trigger(issued):
    """R-VC-07: claimed in the app, then usable for the campaign's usage days; R-VC-08: both deadlines shown,
    with the close that triggered it and the original voucher."""
    client = app_client(issued.user)

    listed = client.get(PAYOUTS)

    assert listed.status_code == 200, listed.content
    [row] = listed.json()["results"]
    assert (row["id"], row["amount"], row["state"], row["status"]) == (issued.pk, "30.00000000", "issued", "available")
    assert row["claim_by"] == z(issued.claim_by) and row["usable_until"] is None
    assert row["trigger_close_id"] == issued.voucher.trigger_close_id is not None
    assert row["voucher"]["id"] == issued.voucher_id
    assert (row["voucher"]["face_value"], row["voucher"]["status"]) == ("50.00000000", "used")

    response = client.post(claim_url(issued))

    assert response.status_code == 200, response.content
    issued.refresh_from_db()
    assert issued.state == PayoutState.CLAIMED
    assert issued.usable_until == issued.claimed_at + timedelta(days=14)
    body = response.json()
    assert (body["state"], body["status"], body["usable_until"]) == ("claimed", "available", z(issued.usable_until))
    again = client.post(claim_url(issued))  # a retried claim: the same voucher, nothing more
    assert again.status_code == 200 and again.json() == body
    assert books_agree()  # claiming moves no money: the 30 stays reserved until spent (R-VC-09)


def test_the_web_reads_the_payouts_but_may_not_claim_one(issued):
    """R-VC-07, R-VC-02: claiming answers the app's token only; a web session gets 403 app_only."""
    web = web_client(issued.user)

    assert web.get(PAYOUTS).status_code == 200
    response = web.post(claim_url(issued))

    assert response.status_code == 403, response.content
    assert response.json()["code"] == "app_only"
    issued.refresh_from_db()
    assert issued.state == PayoutState.ISSUED


def test_someone_elses_payout_is_not_found(issued, other_user):
    """R-VC-08: a user sees and claims only its own payouts; anyone else's answers 404, as an unknown id does."""
    client = app_client(other_user)

    assert client.post(claim_url(issued)).status_code == 404
    assert client.post(f"{PAYOUTS}/987654/claim").status_code == 404
    assert client.get(PAYOUTS).json()["results"] == []
    issued.refresh_from_db()
    assert issued.state == PayoutState.ISSUED


def test_a_payout_past_its_claim_window_is_refused_naming_the_voucher(issued):
    """R-VC-07: an issued payout must be claimed within its claim window; after it the claim is a 422."""
    # As if it had been issued eight days ago: its seven-day claim window ended yesterday.
    Payout.objects.filter(pk=issued.pk).update(
        issued_at=timezone.now() - timedelta(days=8), claim_by=timezone.now() - timedelta(days=1)
    )
    client = app_client(issued.user)

    response = client.post(claim_url(issued))

    assert response.status_code == 422, response.content
    assert list(response.json()["fields"]) == ["voucher"]
    assert "claim window" in response.json()["detail"]
    assert client.get(PAYOUTS).json()["results"][0]["status"] == "expired"


def test_a_pending_payout_cannot_be_claimed_yet(triggered):
    """R-VC-07: the daily run after the trigger issues it; before that a claim is a 422 naming the voucher."""
    response = app_client(triggered.user).post(claim_url(triggered))

    assert response.status_code == 422, response.content
    assert list(response.json()["fields"]) == ["voucher"]
    assert app_client(triggered.user).get(PAYOUTS).json()["results"][0]["status"] == "pending"


# --- operators: review with reasons -------------------------------------------------------------------


def test_operators_hold_then_release_a_payout_with_reasons(triggered, campaign_operator):
    """R-VC-07: operators can hold a payout for review; R-OP-01: each decision recorded with who and why."""
    client = ops_client(campaign_operator)

    held = client.post(f"{OPS_PAYOUTS}/{triggered.pk}/hold", {"reason": "shared device"}, format="json")

    assert held.status_code == 200, held.content
    body = held.json()
    assert (body["state"], body["reviewed_by"], body["review_reason"]) == (
        "held",
        campaign_operator.email,
        "shared device",
    )
    assert body["pay_by"] == z(triggered.triggered_at + timedelta(days=7))
    assert payouts_issue_due(now=platform_day_start(triggered.triggered_at) + timedelta(days=1, minutes=15)) == 0

    released = client.post(f"{OPS_PAYOUTS}/{triggered.pk}/release", {"reason": "checked: a family"}, format="json")

    assert released.status_code == 200, released.content
    triggered.refresh_from_db()
    assert (triggered.state, triggered.reviewed_by, triggered.review_reason) == (
        PayoutState.ISSUED,
        campaign_operator,
        "checked: a family",
    )
    assert triggered.claim_by is not None
    again = client.post(f"{OPS_PAYOUTS}/{triggered.pk}/release", {"reason": "twice"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "invalid_state"


def test_a_review_needs_a_reason(triggered, campaign_operator):
    """R-OP-01: every decision is recorded with why: no reason, no hold."""
    response = ops_client(campaign_operator).post(f"{OPS_PAYOUTS}/{triggered.pk}/hold", {}, format="json")

    assert response.status_code == 400, response.content
    assert "reason" in response.json()["fields"]
    triggered.refresh_from_db()
    assert triggered.state == PayoutState.PENDING


def test_a_rejected_payout_returns_its_reservation_once_and_a_replay_returns_the_first_answer(
    triggered, campaign_operator
):
    """R-VC-09: rejecting a held payout releases its reserved amount to available; it moves money, so it takes an
    Idempotency-Key and a replay answers the same. R-OP-01: with who and why."""
    client = ops_client(campaign_operator)
    payout_hold(payout=triggered, actor=campaign_operator, reason="five accounts, one card")
    url = f"{OPS_PAYOUTS}/{triggered.pk}/reject"

    keyless = client.post(url, {"reason": "abuse"}, format="json")
    first = client.post(url, {"reason": "abuse"}, format="json", HTTP_IDEMPOTENCY_KEY="reject-1")
    replay = client.post(url, {"reason": "abuse"}, format="json", HTTP_IDEMPOTENCY_KEY="reject-1")

    assert keyless.status_code == 400 and keyless.json()["code"] == "idempotency_key_missing"
    assert first.status_code == 200, first.content
    assert (first.json()["state"], first.json()["review_reason"]) == ("rejected", "abuse")
    assert replay.status_code == 200 and replay["Idempotent-Replay"] == "true" and replay.json() == first.json()
    accounts = campaign_accounts(triggered.campaign)
    accounts.available.refresh_from_db()
    accounts.reserved.refresh_from_db()
    assert (accounts.available.balance, accounts.reserved.balance) == (D("1000"), D("0"))
    assert JournalEntry.objects.filter(idempotency_key=f"payout-reject:{triggered.pk}").count() == 1
    assert books_agree()


def test_only_payout_reviewers_hold_release_or_reject(triggered, finance_operator, user):
    """R-OP-01: reviewing needs vouchers.review_payout (Campaign operators); Finance and users get 403."""
    for who in (finance_operator, user):
        client = ops_client(who)
        for review in ("hold", "release"):
            assert (
                client.post(f"{OPS_PAYOUTS}/{triggered.pk}/{review}", {"reason": "x"}, format="json").status_code == 403
            )
        rejected = client.post(
            f"{OPS_PAYOUTS}/{triggered.pk}/reject", {"reason": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="r"
        )
        assert rejected.status_code == 403
        assert client.get(OPS_PAYOUTS).status_code == 403
    triggered.refresh_from_db()
    assert triggered.state == PayoutState.PENDING
    assert ops_client(OperatorFactory()).get(OPS_PAYOUTS).status_code == 403  # staff without the permission


def test_the_held_filter_and_the_seventh_day_alert(campaign, following, btc, campaign_operator):
    """R-VC-07: operators list the held payouts, and those passing their seventh day within a day (the alert)."""
    for key in ("k1", "k2", "k3"):
        voucher_claim(user=following.follower, campaign=campaign, idempotency_key=key)
        lose(following, btc)
    old, new, pending = Payout.objects.order_by("pk")
    payout_hold(payout=old, actor=campaign_operator, reason="check")
    payout_hold(payout=new, actor=campaign_operator, reason="check")
    # The older one triggered six days and a minute ago: it passes its seventh day within a day.
    Payout.objects.filter(pk=old.pk).update(triggered_at=timezone.now() - timedelta(days=6, minutes=1))
    client = ops_client(campaign_operator)

    held = client.get(OPS_PAYOUTS, {"state": "held"})
    alert = client.get(OPS_PAYOUTS, {"alert": "true"})
    everything = client.get(OPS_PAYOUTS)
    bad = client.get(OPS_PAYOUTS, {"state": "lost"})

    assert held.status_code == 200, held.content
    assert [p["id"] for p in held.json()["results"]] == [new.pk, old.pk]
    assert [p["id"] for p in alert.json()["results"]] == [old.pk]
    assert [p["id"] for p in everything.json()["results"]] == [pending.pk, new.pk, old.pk]
    assert [p["id"] for p in client.get(OPS_PAYOUTS, {"state": "pending"}).json()["results"]] == [pending.pk]
    assert bad.status_code == 400
