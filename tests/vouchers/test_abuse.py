"""Voucher abuse: flagged claimants, and accounts disabled for it. (R-LC-06, R-VC-09, R-OP-01)

R-LC-06: operators can disable accounts caught abusing vouchers; their pending
compensation is withheld. Here: a ban withholds the user's payouts not yet spent and
returns their reserved amounts to the campaigns' available budget (R-VC-09), and the
user claims nothing more. R-VC-09: a campaign's claimants that share a registration or
login address or a withdrawal destination with another of its claimants are flagged for
review. R-OP-01: operators do this in the admin and the ops API, with who and why.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import AccessKind, JournalEntry, User
from accounts.selectors import ledger_audit
from accounts.services.access import access_record
from accounts.services.flows import withdrawal_request
from config.clock import platform_day_start
from config.errors import InvalidInput, RuleViolation
from copytrading.futures.services.prices import mark_price_set
from tests.factories import UserFactory, fund_spot
from tests.vouchers.voucher_helpers import close_at, deliver, open_copy
from vouchers.models import AbuseBan, Campaign, Payout, PayoutState, Voucher, VoucherState
from vouchers.selectors import campaign_budget_problems, campaign_flags, campaign_liabilities
from vouchers.services.abuse import account_disable_for_abuse
from vouchers.services.claims import voucher_claim
from vouchers.services.payouts import payout_claim, payout_hold, payouts_expire_due, payouts_issue_due

pytestmark = pytest.mark.django_db

BANS = "/api/v1/ops/voucher-bans"
ADMIN_BANS = "/admin/vouchers/abuseban/"
DISABLE = "/admin/vouchers/abuseban/disable/"
ADMIN_PAYOUTS = "/admin/vouchers/payout/"


def books_agree() -> bool:
    return campaign_budget_problems() == [] and ledger_audit().ok


def lose(following, btc) -> None:
    """A copy of 0.01 BTC opened at 60,000 and closed at 57,000 (a loss of 30), delivered to the vouchers."""
    mark_price_set(market=btc, price=D("60000"))
    close_at(open_copy(following, btc), btc, "57000")
    deliver()


def next_day(payout: Payout):
    return platform_day_start(payout.triggered_at) + timedelta(days=1, minutes=15)


def claim(campaign: Campaign, user: User) -> Voucher:
    return voucher_claim(user=user, campaign=campaign, idempotency_key=uuid.uuid4().hex)


def books(campaign: Campaign):
    return campaign_liabilities([campaign])[campaign.pk]


def ops_client(operator) -> APIClient:
    client = APIClient()
    client.force_authenticate(operator)
    return client


def admin_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def campaign(live_campaign):
    """50 vouchers, three per user, a budget of 1,000 funded."""
    return live_campaign(face_value=D("50"), per_user_limit=3)


@pytest.fixture
def issued_and_pending(campaign, following, btc):
    """Two payouts of 30 of the follower: the first issued by the daily run, the second triggered after it."""
    claim(campaign, following.follower)
    claim(campaign, following.follower)
    lose(following, btc)
    first = Payout.objects.get()
    payouts_issue_due(now=next_day(first))
    lose(following, btc)
    issued, pending = Payout.objects.order_by("pk")
    assert (issued.state, pending.state) == (PayoutState.ISSUED, PayoutState.PENDING)
    return issued, pending


# --- the ban ------------------------------------------------------------------------------------


def test_a_ban_withholds_pending_and_issued_payouts_and_returns_their_money_to_available(
    issued_and_pending, campaign, campaign_operator
):
    """R-LC-06: a disabled account's pending compensation is withheld — shown as withheld, never dropped;
    R-VC-09: a withheld payout's reservation returns to available, in one entry with who and why (R-OP-01)."""
    issued, pending = issued_and_pending
    before = books(campaign)
    assert (before.available, before.reserved) == (D("940"), D("60"))

    ban = account_disable_for_abuse(user=issued.user, actor=campaign_operator, reason="ring of 5 accounts")

    assert (ban.user, ban.actor, ban.reason) == (issued.user, campaign_operator, "ring of 5 accounts")
    for payout in (issued, pending):
        payout.refresh_from_db()
        assert payout.state == PayoutState.WITHHELD and payout.ended_at is not None
    after = books(campaign)
    assert (after.available, after.reserved, after.pending_payouts) == (D("1000"), D("0"), D("0"))
    entry = JournalEntry.objects.get(idempotency_key=f"voucher-ban:{ban.pk}")
    assert (entry.kind, entry.actor, entry.reason) == (
        "voucher_release",
        campaign_operator,
        "voucher abuse: ring of 5 accounts",
    )
    assert sorted(p.amount for p in entry.postings.all()) == [D("-60"), D("60")]
    assert books_agree()
    with pytest.raises(RuleViolation, match="withheld"):
        payout_claim(user=issued.user, payout=issued)  # a withheld payout is never claimed


def test_a_ban_withholds_held_and_claimed_payouts_but_leaves_ended_ones_alone(
    campaign, following, btc, campaign_operator
):
    """R-LC-06: every payout not yet spent is withheld (held and claimed too); an expired one has already given
    its reservation back and is left as it is, so nothing is released twice (R-VC-09)."""
    for _ in range(3):
        claim(campaign, following.follower)
    lose(following, btc)
    expired = Payout.objects.get()
    payouts_issue_due(now=next_day(expired))
    expired.refresh_from_db()
    payouts_expire_due(now=expired.claim_by + timedelta(seconds=1))  # never claimed: expired, released
    lose(following, btc)
    claimed = Payout.objects.get(state=PayoutState.PENDING)
    payouts_issue_due(now=next_day(claimed))
    claimed.refresh_from_db()
    payout_claim(user=claimed.user, payout=claimed)
    lose(following, btc)
    held = Payout.objects.get(state=PayoutState.PENDING)
    payout_hold(payout=held, actor=campaign_operator, reason="check")
    account_disable_for_abuse(user=following.follower, actor=campaign_operator, reason="abuse")

    states = dict(Payout.objects.values_list("pk", "state"))
    assert states == {expired.pk: PayoutState.EXPIRED, claimed.pk: PayoutState.WITHHELD, held.pk: PayoutState.WITHHELD}
    assert (books(campaign).available, books(campaign).reserved) == (D("1000"), D("0"))
    assert books_agree()


def test_a_banned_user_cannot_claim_a_voucher(live_campaign, user, campaign_operator):
    """R-LC-06: an account disabled for voucher abuse claims nothing more; the refusal says why and reserves nothing."""
    campaign = live_campaign()
    account_disable_for_abuse(user=user, actor=campaign_operator, reason="abuse")

    with pytest.raises(RuleViolation, match="disabled for voucher abuse") as refused:
        claim(campaign, user)

    assert list(refused.value.fields) == ["campaign"]
    assert Voucher.objects.count() == 0
    assert (books(campaign).available, books(campaign).reserved) == (D("1000"), D("0"))
    assert claim(campaign, UserFactory()).state == VoucherState.CLAIMED  # others still claim


def test_a_second_ban_is_harmless(issued_and_pending, campaign, campaign_operator):
    """R-LC-06, R-OP-01: banning twice keeps the first ban (who, why) and withholds and releases nothing again."""
    issued, _ = issued_and_pending
    first = account_disable_for_abuse(user=issued.user, actor=campaign_operator, reason="first look")
    entries = JournalEntry.objects.count()

    second = account_disable_for_abuse(user=issued.user, actor=UserFactory(), reason="second look")

    assert second.pk == first.pk and (second.actor, second.reason) == (campaign_operator, "first look")
    assert AbuseBan.objects.count() == 1 and JournalEntry.objects.count() == entries
    assert (books(campaign).available, books(campaign).reserved) == (D("1000"), D("0"))
    assert books_agree()


def test_a_ban_needs_a_reason(user, campaign_operator):
    """R-OP-01: a ban is recorded with why: without a reason nothing is written."""
    with pytest.raises(InvalidInput):
        account_disable_for_abuse(user=user, actor=campaign_operator, reason="  ")
    assert AbuseBan.objects.count() == 0


# --- flags ----------------------------------------------------------------------------------------


def _withdraw(user: User, address: str) -> None:
    fund_spot(user, "10")
    withdrawal_request(user=user, amount=D("1"), address=address, idempotency_key=f"w-{user.pk}")


@pytest.fixture
def ring(campaign):
    """Claimants a, b (one address: a's registration, b's login), c, d (one withdrawal destination, written in
    two cases) and e; an outsider who claimed nothing shares e's login address and withdrawal destination."""
    a, b, c, d, e, outsider = UserFactory.create_batch(6)
    for user in (a, b, c, d, e):
        claim(campaign, user)
    access_record(user=a, kind=AccessKind.REGISTRATION, address="198.51.100.7")
    access_record(user=b, kind=AccessKind.LOGIN, address="198.51.100.7")
    access_record(user=e, kind=AccessKind.LOGIN, address="203.0.113.9")
    access_record(user=outsider, kind=AccessKind.LOGIN, address="203.0.113.9")
    _withdraw(c, "0xAbCdEf0123456789abcdef0123456789ABCDEF01")
    _withdraw(d, "0xabcdef0123456789abcdef0123456789abcdef01")
    _withdraw(outsider, "TQ8dq7n1Rp3cExampleTronAddress")
    _withdraw(e, "TQ8dq7n1Rp3cExampleTronAddress")
    return a, b, c, d, e, outsider


def test_flags_find_claimants_sharing_a_login_address_or_a_withdrawal_destination(ring, campaign):
    """R-VC-09: claimants sharing a registration or login address, or a withdrawal destination, with another
    claimant of the same campaign are flagged, with whom; someone who did not claim flags nobody."""
    a, b, c, d, e, outsider = ring

    flags = campaign_flags(campaign=campaign)

    assert flags == {
        a.pk: {"address": {b.pk}, "withdrawal_address": set()},
        b.pk: {"address": {a.pk}, "withdrawal_address": set()},
        c.pk: {"address": set(), "withdrawal_address": {d.pk}},
        d.pk: {"address": set(), "withdrawal_address": {c.pk}},
    }
    assert e.pk not in flags and outsider.pk not in flags


def test_flags_are_read_in_constant_queries(ring, campaign, live_campaign):
    """R-VC-09: the same number of queries whatever the number of claimants."""
    with CaptureQueriesContext(connection) as few:
        campaign_flags(campaign=campaign)
    for user in UserFactory.create_batch(10):  # the budget holds 20 vouchers: 5 claimed, 10 more
        claim(campaign, user)
        access_record(user=user, kind=AccessKind.LOGIN, address="198.51.100.7")
    with CaptureQueriesContext(connection) as many:
        flags = campaign_flags(campaign=campaign)

    assert len(many) == len(few) == 3
    assert len(flags) == 14  # a, b and the ten on one address; c, d on one destination
    other = live_campaign(name="Another cover")
    assert campaign_flags(campaign=other) == {}  # nobody claimed there


# --- the admin ------------------------------------------------------------------------------------


def test_the_campaign_page_lists_the_flagged_claimants(ring, campaign, campaign_operator):
    """R-VC-09: the desk shows who shares an address or a withdrawal destination with whom, with a way to ban."""
    a, b, c, d, e, outsider = ring

    page = admin_client(campaign_operator).get(f"/admin/vouchers/campaign/{campaign.pk}/change/")

    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="campaign-flags"' in html and "Flagged claimants" in html
    for user in (a, b, c, d):
        assert f"{user.email} (#{user.pk})" in html
    assert e.email not in html and outsider.email not in html
    assert f"{DISABLE}?user={a.pk}" in html


def test_an_operator_disables_an_account_in_the_admin_and_sees_what_was_withheld(issued_and_pending, campaign_operator):
    """R-LC-06, R-OP-01: the "Disable for voucher abuse" page takes the user (id or email) and a reason, goes
    through the service and says how many payouts were withheld."""
    issued, _ = issued_and_pending
    client = admin_client(campaign_operator)
    assert 'href="/admin/vouchers/abuseban/disable/"' in client.get(ADMIN_BANS).content.decode()
    assert client.get(f"{DISABLE}?user={issued.user_id}").status_code == 200

    missing = client.post(DISABLE, {"user": "nobody@example.com", "reason": "abuse"})
    blank = client.post(DISABLE, {"user": issued.user.email, "reason": ""})
    assert missing.status_code == blank.status_code == 200 and AbuseBan.objects.count() == 0
    assert "No user nobody@example.com" in missing.content.decode()

    done = client.post(DISABLE, {"user": issued.user.email.upper(), "reason": "ring of 5"}, follow=True)

    assert done.status_code == 200
    ban = AbuseBan.objects.get()
    assert (ban.user, ban.actor, ban.reason) == (issued.user, campaign_operator, "ring of 5")
    assert "2 payout(s) withheld" in done.content.decode()
    again = client.post(DISABLE, {"user": str(issued.user_id), "reason": "again"}, follow=True)
    assert "already disabled" in again.content.decode() and AbuseBan.objects.count() == 1
    assert books_agree()


def test_only_operators_allowed_to_ban_reach_the_disable_page(user, finance_operator):
    """R-OP-01: banning needs vouchers.ban_voucher_abuse (Campaign operators); Finance gets 403."""
    client = admin_client(finance_operator)

    assert client.get(DISABLE).status_code == 403
    assert client.post(DISABLE, {"user": user.email, "reason": "x"}).status_code == 403
    assert AbuseBan.objects.count() == 0


def test_the_payout_admin_reviews_a_payout_with_a_reason_and_filters_the_seventh_day_alert(
    issued_and_pending, campaign_operator, finance_operator
):
    """R-VC-07: operators hold a payout for review and see the held ones passing their seventh day within a day;
    R-OP-01: through the services, with who and why, for operators holding vouchers.review_payout."""
    issued, pending = issued_and_pending
    client = admin_client(campaign_operator)

    page = client.get(f"{ADMIN_PAYOUTS}{pending.pk}/change/").content.decode()
    assert f"{ADMIN_PAYOUTS}{pending.pk}/hold/" in page and f"{ADMIN_PAYOUTS}{pending.pk}/reject/" not in page
    assert admin_client(finance_operator).post(f"{ADMIN_PAYOUTS}{pending.pk}/hold/", {"reason": "x"}).status_code == 403
    refused = client.post(f"{ADMIN_PAYOUTS}{issued.pk}/hold/", {"reason": "too late"})
    held = client.post(f"{ADMIN_PAYOUTS}{pending.pk}/hold/", {"reason": "shared device"})

    assert refused.status_code == 200 and "only a pending payout can be held" in refused.content.decode()
    assert held.status_code == 302
    pending.refresh_from_db()
    assert (pending.state, pending.reviewed_by, pending.review_reason) == (
        PayoutState.HELD,
        campaign_operator,
        "shared device",
    )
    assert (
        f"{ADMIN_PAYOUTS}{pending.pk}/release/" in client.get(f"{ADMIN_PAYOUTS}{pending.pk}/change/").content.decode()
    )

    listed = client.get(ADMIN_PAYOUTS, {"held_alert": "due"})
    assert list(listed.context["cl"].result_list) == []  # held today: six days to go
    Payout.objects.filter(pk=pending.pk).update(triggered_at=pending.triggered_at - timedelta(days=6))
    listed = client.get(ADMIN_PAYOUTS, {"held_alert": "due"})
    assert [p.pk for p in listed.context["cl"].result_list] == [pending.pk]
    assert [p.pk for p in client.get(ADMIN_PAYOUTS, {"state__exact": "issued"}).context["cl"].result_list] == [
        issued.pk
    ]

    rejected = client.post(f"{ADMIN_PAYOUTS}{pending.pk}/reject/", {"reason": "one person, two accounts"})
    assert rejected.status_code == 302
    pending.refresh_from_db()
    assert pending.state == PayoutState.REJECTED and books_agree()


# --- the ops API ----------------------------------------------------------------------------------


def test_ops_ban_a_user_over_the_api_once(issued_and_pending, campaign_operator):
    """R-LC-06, R-VC-09: 201 with what was withheld; the ban releases reservations, so it takes an Idempotency-Key;
    a second ban answers 200 with the first (R-OP-01: who and why)."""
    issued, _ = issued_and_pending
    client = ops_client(campaign_operator)
    body = {"user": issued.user_id, "reason": "ring of 5"}

    keyless = client.post(BANS, body, format="json")
    unknown = client.post(BANS, {"user": 987654, "reason": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="b-0")
    first = client.post(BANS, body, format="json", HTTP_IDEMPOTENCY_KEY="b-1")
    replay = client.post(BANS, body, format="json", HTTP_IDEMPOTENCY_KEY="b-1")
    second = client.post(BANS, {**body, "reason": "again"}, format="json", HTTP_IDEMPOTENCY_KEY="b-2")

    assert keyless.status_code == 400 and keyless.json()["code"] == "idempotency_key_missing"
    assert unknown.status_code == 400 and "user" in unknown.json()["fields"]
    assert first.status_code == 201, first.content
    out = first.json()
    assert out["user"] == {"id": issued.user_id, "email": issued.user.email}
    assert (out["actor"], out["reason"], out["withheld_payouts"], out["withheld_amount"]) == (
        campaign_operator.email,
        "ring of 5",
        2,
        "60.00000000",
    )
    assert replay.status_code == 201 and replay.json() == out
    assert second.status_code == 200 and second.json() == out
    assert AbuseBan.objects.count() == 1 and books_agree()


def test_ops_read_a_campaigns_flags(ring, campaign, campaign_operator):
    """R-VC-09: the flagged claimants over the API, each with whom it shares what and whether it is banned."""
    a, b, c, d, *_ = ring
    account_disable_for_abuse(user=a, actor=campaign_operator, reason="abuse")

    response = ops_client(campaign_operator).get(f"/api/v1/ops/campaigns/{campaign.pk}/flags")

    assert response.status_code == 200, response.content
    rows = {row["user"]["id"]: row for row in response.json()}
    assert set(rows) == {a.pk, b.pk, c.pk, d.pk}
    assert rows[a.pk]["banned"] is True and rows[b.pk]["banned"] is False
    assert rows[b.pk]["shares_address_with"] == [{"id": a.pk, "email": a.email}]
    assert rows[c.pk]["shares_withdrawal_destination_with"] == [{"id": d.pk, "email": d.email}]
    assert rows[c.pk]["shares_address_with"] == []


def test_ops_abuse_routes_need_their_permissions(campaign, finance_operator, user):
    """R-OP-01: banning needs vouchers.ban_voucher_abuse — Finance gets 403 — and the flags an operator who may
    see the campaign; a user gets 403 on both."""
    finance = ops_client(finance_operator)
    refused = finance.post(BANS, {"user": user.pk, "reason": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="b")

    assert refused.status_code == 403 and AbuseBan.objects.count() == 0
    assert finance.get(f"/api/v1/ops/campaigns/{campaign.pk}/flags").status_code == 200
    assert ops_client(user).get(f"/api/v1/ops/campaigns/{campaign.pk}/flags").status_code == 403
    assert ops_client(user).post(BANS, {"user": user.pk, "reason": "x"}, format="json").status_code == 403
