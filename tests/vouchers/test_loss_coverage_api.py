"""The voucher center's loss-coverage vouchers over the API: total and remaining amounts shown live, used-up
vouchers gone, only the caller's own, compensations with their state; read-only, web or app. (R-LC-01, R-LC-05,
R-VC-08)"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from copytrading.futures.services.orders import order_place
from copytrading.futures.services.outbox import outbox_deliver_pending
from tests.factories import UserFactory, futures
from tests.vouchers.voucher_helpers import close_at
from vouchers.models import LossCoverageVoucher
from vouchers.services.loss_coverage import compensations_credit_due, loss_coverage_grant, utc_day_start

pytestmark = pytest.mark.django_db

CENTER = "/api/v1/vouchers/loss-coverage"


def grant(campaign, user, actor, key="k"):
    return loss_coverage_grant(campaign=campaign, user=user, actor=actor, reason="welcome gift", idempotency_key=key)


def manual(user, market, *, qty="0.01"):
    """A manual long on the user's main futures account (slot 0), opened at the current mark."""
    return order_place(
        account=futures(user), market=market, side="buy", qty=D(qty), idempotency_key=uuid.uuid4().hex
    ).position


def deliver() -> int:
    return outbox_deliver_pending(consumer="vouchers.loss_coverage")


def app_client(user) -> APIClient:
    """The mobile client: authenticated by the user's API token."""
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def web_client(user) -> APIClient:
    """The web app: authenticated by a session cookie."""
    client = APIClient()
    client.force_login(user)
    return client


def center(client) -> list[dict]:
    response = client.get(CENTER)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_the_remaining_amount_is_shown_live_50_then_20_after_a_loss_of_30(lc_campaign, trader, campaign_operator, btc):
    """R-LC-01: a 50 voucher shows total 50, remaining 50; a manual loss of 30 leaves 20, at once."""
    campaign = lc_campaign(face_value="50", closing_threshold=D("100"))
    voucher = grant(campaign, trader, campaign_operator)
    client = app_client(trader)

    (before,) = center(client)
    assert before == {
        "id": voucher.pk,
        "campaign": {"id": campaign.pk, "name": campaign.name},
        "total_amount": "50.00000000",
        "remaining": "50.00000000",
        "status": "active",
        "granted_at": voucher.granted_at.isoformat().replace("+00:00", "Z"),
        "expires_at": voucher.expires_at.isoformat().replace("+00:00", "Z"),
        "closing_threshold": "100.00000000",
        "compensations": [],
    }

    close = close_at(manual(trader, btc), btc, "57000")  # 0.01 BTC down 3,000: a loss of 30, closing amount 570
    deliver()

    (after,) = center(client)
    assert (after["total_amount"], after["remaining"], after["status"]) == ("50.00000000", "20.00000000", "active")
    (compensation,) = after["compensations"]
    assert (compensation["close_id"], compensation["loss"], compensation["amount"], compensation["state"]) == (
        close.pk,
        "30.00000000",
        "30.00000000",
        "pending",
    )


def test_a_used_up_voucher_leaves_the_center_and_an_expired_one_stays(lc_campaign, trader, campaign_operator, btc):
    """R-LC-01, R-VC-08: a 20 voucher and a loss of 30: fully used, gone; an expired voucher shows as expired."""
    used = grant(lc_campaign(face_value="20"), trader, campaign_operator)
    expired = grant(lc_campaign(face_value="10"), trader, campaign_operator)
    LossCoverageVoucher.objects.filter(pk=expired.pk).update(expires_at=timezone.now())  # past its deadline

    close_at(manual(trader, btc), btc, "57000")
    deliver()

    used.refresh_from_db()
    assert used.state == "used_up"
    listed = center(web_client(trader))
    assert [(v["id"], v["status"], v["remaining"]) for v in listed] == [(expired.pk, "expired", "10.00000000")]


def test_someone_elses_vouchers_never_appear(lc_campaign, trader, campaign_operator):
    campaign = lc_campaign(per_user_limit=2)
    mine = grant(campaign, trader, campaign_operator)
    other = UserFactory()
    grant(campaign, other, campaign_operator)
    grant(campaign, other, campaign_operator, key="second")

    assert [v["id"] for v in center(app_client(trader))] == [mine.pk]
    assert len(center(app_client(other))) == 2
    assert center(app_client(UserFactory())) == []


def test_compensations_are_listed_pending_then_credited(lc_campaign, trader, campaign_operator, btc):
    """R-LC-05: pending until the 00:05 UTC run of the following day, then credited to spot."""
    grant(lc_campaign(face_value="50"), trader, campaign_operator)
    close = close_at(manual(trader, btc), btc, "57000")
    deliver()
    client = web_client(trader)
    (pending,) = center(client)[0]["compensations"]
    assert (pending["state"], pending["credited_at"]) == ("pending", None)

    run = utc_day_start(close.created_at) + timedelta(days=1, minutes=5)
    assert compensations_credit_due(now=run) == (1, 0)

    (credited,) = center(client)[0]["compensations"]
    assert (credited["id"], credited["state"], credited["amount"]) == (pending["id"], "credited", "30.00000000")
    assert credited["credited_at"] == run.isoformat().replace("+00:00", "Z")


def test_the_center_is_read_with_a_web_session_and_refuses_an_anonymous_caller(lc_campaign, trader, campaign_operator):
    """R-VC-08: read-only, so the web may read it (only claiming coverage vouchers is app-only)."""
    grant(lc_campaign(), trader, campaign_operator)

    assert len(center(web_client(trader))) == 1
    assert APIClient().get(CENTER).status_code == 401


def test_the_center_reads_in_the_same_queries_for_one_or_three_vouchers(lc_campaign, trader, campaign_operator, btc):
    campaign = lc_campaign(face_value="50", per_user_limit=3)
    grant(campaign, trader, campaign_operator)
    close_at(manual(trader, btc), btc, "57000")
    deliver()
    client = app_client(trader)
    with CaptureQueriesContext(connection) as one:
        center(client)
    grant(campaign, trader, campaign_operator, key="b")
    grant(campaign, trader, campaign_operator, key="c")
    with CaptureQueriesContext(connection) as three:
        assert len(center(client)) == 3

    assert len(three) == len(one)
