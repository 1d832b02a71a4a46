"""Vouchers over the API: the app's claimable list and claims, the voucher center, and the operators' campaigns.
(R-VC-01, R-VC-02, R-VC-08, R-VC-09, R-OP-01)

The mobile client authenticates with its API token; the web with a session, which
may read the voucher center but never claim (R-VC-02).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from accounts.models import JournalEntry
from accounts.selectors import ledger_audit
from tests.copytrading.copy_helpers import follow, make_lead
from tests.factories import UserFactory
from tests.vouchers.voucher_helpers import app_client, ops_client, web_client
from vouchers.ledger import campaign_accounts
from vouchers.models import Campaign, CampaignChange, Voucher, VoucherState
from vouchers.selectors import campaign_budget_problems
from vouchers.services.campaigns import campaign_pause
from vouchers.services.claims import voucher_claim, vouchers_expire_due

pytestmark = pytest.mark.django_db

CAMPAIGNS = "/api/v1/vouchers/campaigns"
CLAIMS = "/api/v1/vouchers/claims"
VOUCHERS = "/api/v1/vouchers"
OPS = "/api/v1/ops/campaigns"


def claim(client, campaign, key: str | None = None):
    return client.post(CLAIMS, {"campaign": campaign.pk}, format="json", HTTP_IDEMPOTENCY_KEY=key or uuid.uuid4().hex)


def balances(campaign) -> tuple[D, D]:
    accounts = campaign_accounts(campaign)
    accounts.available.refresh_from_db()
    accounts.reserved.refresh_from_db()
    return accounts.available.balance, accounts.reserved.balance


def iso(moment) -> str:
    return moment.isoformat()


# --- the app: claimable campaigns and claims -----------------------------------------


def test_the_app_lists_the_campaigns_the_user_may_claim_now(live_campaign, user):
    """R-VC-01, R-VC-02: live coverage campaigns in their window, under the user's limit; money as strings."""
    now = timezone.now()
    live = live_campaign(name="Welcome cover", per_user_limit=1)
    live_campaign(name="Not yet published", publish=False)
    live_campaign(name="Deadline passed", claim_deadline=now - timedelta(hours=1))
    client = app_client(user)

    response = client.get(CAMPAIGNS)

    assert response.status_code == 200, response.content
    assert [c["name"] for c in response.json()] == ["Welcome cover"]
    listed = response.json()[0]
    assert listed["id"] == live.pk
    assert (listed["kind"], listed["face_value"], listed["audience"]) == ("first_loss", "50.00000000", "everyone")
    assert (listed["validity_days"], listed["per_user_limit"]) == (7, 1)
    assert {"promotion_starts_at", "promotion_ends_at", "claim_deadline"} <= set(listed)
    assert listed["claim_deadline"].endswith("Z")

    assert claim(client, live).status_code == 201
    assert client.get(CAMPAIGNS).json() == []  # its limit claimed: nothing more to claim


def test_a_claim_reserves_the_face_value_and_a_replay_returns_the_same_voucher(live_campaign, user):
    """R-VC-01, R-VC-09: 201 with the voucher; funded 1,000 = available 950 + reserved 50; a replay reserves once."""
    campaign = live_campaign()
    client = app_client(user)

    first = claim(client, campaign, key="claim-1")

    assert first.status_code == 201, first.content
    body = first.json()
    voucher = Voucher.objects.get(pk=body["id"])
    assert (voucher.user, voucher.state) == (user, VoucherState.CLAIMED)
    assert body["campaign"] == {"id": campaign.pk, "name": "Welcome cover"}
    assert (body["kind"], body["face_value"], body["state"], body["status"]) == (
        "first_loss",
        "50.00000000",
        "claimed",
        "available",
    )
    assert body["valid_until"] == iso(voucher.valid_until).replace("+00:00", "Z")
    assert balances(campaign) == (D("950"), D("50"))

    again = claim(client, campaign, key="claim-1")
    assert again.status_code == 201 and again["Idempotent-Replay"] == "true"
    assert again.json() == body
    assert Voucher.objects.count() == 1 and balances(campaign) == (D("950"), D("50"))

    other_body = claim(client, live_campaign(name="Another cover"), key="claim-1")
    assert other_body.status_code == 409 and other_body.json()["code"] == "idempotency_conflict"
    assert campaign_budget_problems() == [] and ledger_audit().ok


def _deadline_passed(live_campaign, claimant):
    return live_campaign(claim_deadline=timezone.now() - timedelta(hours=1))


def _budget_used_up(live_campaign, claimant):
    campaign = live_campaign(budget=D("80"), funded="80")
    voucher_claim(user=UserFactory(), campaign=campaign, idempotency_key="first")  # 30 left: less than 50
    return campaign


def _limit_claimed(live_campaign, claimant):
    campaign = live_campaign(per_user_limit=1)
    voucher_claim(user=claimant, campaign=campaign, idempotency_key="earlier")
    return campaign


def _paused(live_campaign, claimant):
    campaign = live_campaign()
    return campaign_pause(campaign=campaign, actor=campaign.created_by, reason="fraud wave")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_deadline_passed, "collection deadline of this campaign has passed"),
        (_budget_used_up, "budget is used up"),
        (_limit_claimed, "claimed this campaign's limit of 1"),
        (_paused, "not running"),
    ],
    ids=["deadline", "budget", "per-user-limit", "paused"],
)
def test_a_refused_claim_is_a_422_naming_the_campaign_and_reserves_nothing(live_campaign, user, make, message):
    """R-VC-01: a claim after the deadline, over the budget or the per-user limit is refused with a clear reason."""
    campaign = make(live_campaign, user)
    before = (Voucher.objects.count(), balances(campaign))

    response = claim(app_client(user), campaign)

    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "rule_violation"
    assert message in body["detail"]
    assert list(body["fields"]) == ["campaign"] and message in body["fields"]["campaign"][0]
    assert (Voucher.objects.count(), balances(campaign)) == before


def test_a_campaign_for_new_copy_traders_refuses_a_user_who_has_followed_before(live_campaign):
    """R-VC-01 decision: only users who never had a following may claim; the refusal names the campaign."""
    campaign = live_campaign(audience="new_copy_traders")
    veteran = follow(make_lead()).follower

    refused = claim(app_client(veteran), campaign)
    claimed = claim(app_client(UserFactory()), campaign)

    assert refused.status_code == 422, refused.content
    assert "new copy traders" in refused.json()["fields"]["campaign"][0]
    assert claimed.status_code == 201, claimed.content
    assert balances(campaign) == (D("950"), D("50"))


def test_a_web_session_may_neither_list_nor_claim_app_only_vouchers(live_campaign, user):
    """R-VC-02: claiming (and the claimable list) answers the app's token only; a session gets 403 app_only."""
    campaign = live_campaign()
    web = web_client(user)

    listed = web.get(CAMPAIGNS)
    claimed = claim(web, campaign)

    for response in (listed, claimed):
        assert response.status_code == 403, response.content
        assert response.json()["code"] == "app_only"
        assert "app" in response.json()["detail"]
    assert not Voucher.objects.exists() and balances(campaign) == (D("1000"), D("0"))


def test_a_claim_without_an_idempotency_key_is_a_400_naming_the_header(live_campaign, user):
    """R-VC-01: a claim reserves money, so it needs an Idempotency-Key; without one nothing is reserved."""
    campaign = live_campaign()

    response = app_client(user).post(CLAIMS, {"campaign": campaign.pk}, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "idempotency_key_missing"
    assert "Idempotency-Key" in response.json()["fields"]
    assert not Voucher.objects.exists()


def test_an_unknown_or_draft_campaign_answers_404(live_campaign, user):
    draft = live_campaign(publish=False)
    client = app_client(user)

    assert claim(client, draft).status_code == 404
    response = client.post(CLAIMS, {"campaign": 987654}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert not Voucher.objects.exists()


# --- the voucher center --------------------------------------------------------------


def test_the_voucher_center_shows_available_and_expired_vouchers_with_both_deadlines(live_campaign, user):
    """R-VC-08: available, used and expired vouchers with the usage deadline and the collection deadline;
    the web reads the center too (R-VC-02: only claiming is app-only)."""
    short = live_campaign(name="Short cover", validity_days=1)
    long = live_campaign(name="Long cover", kind="liquidation", face_value=D("100"))
    client = app_client(user)
    expiring = claim(client, short).json()
    available = claim(client, long).json()
    vouchers_expire_due(now=Voucher.objects.get(pk=expiring["id"]).valid_until)

    response = web_client(user).get(VOUCHERS)

    assert response.status_code == 200, response.content
    rows = response.json()["results"]
    assert response.json()["count"] == 2
    assert [(r["id"], r["state"], r["status"]) for r in rows] == [
        (available["id"], "claimed", "available"),  # live first
        (expiring["id"], "expired", "expired"),
    ]
    by_id = {r["id"]: r for r in rows}
    for campaign, voucher_id in ((long, available["id"]), (short, expiring["id"])):
        voucher = Voucher.objects.get(pk=voucher_id)
        row = by_id[voucher_id]
        assert row["campaign"] == {"id": campaign.pk, "name": campaign.name}
        assert row["valid_until"] == iso(voucher.valid_until).replace("+00:00", "Z")
        assert row["claim_deadline"] == iso(campaign.claim_deadline).replace("+00:00", "Z")
    assert by_id[available["id"]]["face_value"] == "100.00000000"
    assert by_id[expiring["id"]]["ended_at"] is not None


def test_a_voucher_is_shown_to_its_owner_and_answers_404_to_anyone_else(live_campaign, user, other_user):
    """R-VC-08: one's own voucher; someone else's is not found."""
    voucher = voucher_claim(user=user, campaign=live_campaign(), idempotency_key="k1")

    mine = app_client(user).get(f"{VOUCHERS}/{voucher.pk}")
    theirs = app_client(other_user).get(f"{VOUCHERS}/{voucher.pk}")

    assert mine.status_code == 200 and mine.json()["id"] == voucher.pk
    assert theirs.status_code == 404 and theirs.json()["code"] == "not_found"
    assert app_client(other_user).get(VOUCHERS).json()["results"] == []


# --- operators -------------------------------------------------------------------------


def _new_campaign_body(**overrides) -> dict:
    now = timezone.now()
    return {
        "name": "Spring cover",
        "kind": "liquidation",
        "face_value": "100",
        "budget": "1000",
        "promotion_starts_at": iso(now - timedelta(hours=1)),
        "promotion_ends_at": iso(now + timedelta(days=7)),
        "claim_deadline": iso(now + timedelta(days=7)),
        "validity_days": 5,
        "per_user_limit": 1,
        "audience": "new_copy_traders",
        "reason": "spring promotion",
        **overrides,
    }


def test_a_campaign_operator_runs_a_campaign_and_every_change_is_recorded_with_who_and_why(campaign_operator):
    """R-OP-01, R-VC-01: create, update, publish, pause, end over the API, each recorded with its reason."""
    client = ops_client(campaign_operator)

    created = client.post(OPS, _new_campaign_body(), format="json")
    assert created.status_code == 201, created.content
    campaign_id = created.json()["id"]
    assert (created.json()["status"], created.json()["face_value"], created.json()["budget"]) == (
        "draft",
        "100.00000000",
        "1000.00000000",
    )
    assert created.json()["liability"]["funded"] == "0.00000000"

    url = f"{OPS}/{campaign_id}"
    updated = client.patch(
        url, {"changes": {"face_value": "80", "validity_days": 3}, "reason": "cheaper"}, format="json"
    )
    assert updated.status_code == 200, updated.content
    assert (updated.json()["face_value"], updated.json()["validity_days"]) == ("80.00000000", 3)

    for action, status in (("publish", "live"), ("pause", "paused"), ("end", "ended")):
        moved = client.post(f"{url}/{action}", {"reason": f"{action} it"}, format="json")
        assert moved.status_code == 200, moved.content
        assert moved.json()["status"] == status

    detail = client.get(url).json()
    assert [(c["action"], c["actor"], c["reason"]) for c in detail["recent_changes"]] == [
        ("ended", campaign_operator.email, "end it"),
        ("paused", campaign_operator.email, "pause it"),
        ("published", campaign_operator.email, "publish it"),
        ("updated", campaign_operator.email, "cheaper"),
        ("created", campaign_operator.email, "spring promotion"),
    ]
    assert detail["recent_changes"][3]["changes"] == {"face_value": "80.00000000", "validity_days": 3}
    assert CampaignChange.objects.filter(campaign_id=campaign_id, actor=campaign_operator).count() == 5

    ended_change = client.patch(url, {"changes": {"name": "Later"}, "reason": "too late"}, format="json")
    assert ended_change.status_code == 409 and ended_change.json()["code"] == "invalid_state"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": ""}, "reason"),
        ({"face_value": 5.5}, "face_value"),  # a float never touches money
        ({"claim_deadline": "2030-01-01T00:00:00"}, "claim_deadline"),  # a time without its zone is not guessed
        ({"audience": "vips"}, "audience"),
        ({"colour": "red"}, "colour"),
        ({"budget": "20"}, "budget"),  # below one voucher's face value (the service's check)
    ],
)
def test_a_bad_campaign_setting_is_a_400_naming_it(campaign_operator, body, field):
    """R-VC-01, R-OP-01: each refused setting is named; nothing is created."""
    response = ops_client(campaign_operator).post(OPS, _new_campaign_body(**body), format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert not Campaign.objects.exists()


def test_what_a_claimed_voucher_is_worth_cannot_change_once_published(live_campaign, campaign_operator):
    """R-VC-01: a live campaign changes its reach and timing only (422 naming the setting); unknown keys are 400."""
    campaign = live_campaign()
    client = ops_client(campaign_operator)

    fixed = client.patch(f"{OPS}/{campaign.pk}", {"changes": {"face_value": "80"}, "reason": "x"}, format="json")
    unknown = client.patch(f"{OPS}/{campaign.pk}", {"changes": {"colour": "red"}, "reason": "x"}, format="json")
    nothing = client.patch(f"{OPS}/{campaign.pk}", {"changes": {}, "reason": "x"}, format="json")

    assert fixed.status_code == 422 and "face_value" in fixed.json()["fields"]
    assert unknown.status_code == 400 and "changes.colour" in unknown.json()["fields"]
    assert nothing.status_code == 400
    campaign.refresh_from_db()
    assert campaign.face_value == D("50")


def test_operators_see_each_campaigns_live_liability(live_campaign, user, finance_operator):
    """R-VC-09: funded = available + reserved + paid out, with the live claims, in the list and the detail."""
    campaign = live_campaign()
    voucher_claim(user=user, campaign=campaign, idempotency_key="k1")
    client = ops_client(finance_operator)

    listed = client.get(OPS)
    detail = client.get(f"{OPS}/{campaign.pk}")

    assert listed.status_code == 200, listed.content
    [row] = listed.json()["results"]
    for liability in (row["liability"], detail.json()["liability"]):
        assert liability == {
            "budget": "1000.00000000",
            "funded": "1000.00000000",
            "available": "950.00000000",
            "reserved": "50.00000000",
            "paid_out": "0.00000000",
            "live_claims": 1,
            "triggered": 0,
            "pending_payouts": "0.00000000",
            "reserved_by_claims": "50.00000000",
        }


def test_a_plain_user_gets_403_from_the_operators_campaign_routes(live_campaign, user):
    """R-OP-01: operators only, even with the app's token."""
    campaign = live_campaign()
    client = app_client(user)

    assert client.get(OPS).status_code == 403
    assert client.post(OPS, _new_campaign_body(), format="json").status_code == 403
    assert client.post(f"{OPS}/{campaign.pk}/pause", {"reason": "x"}, format="json").status_code == 403
    assert client.get(f"{OPS}/{campaign.pk}").json()["code"] == "permission_denied"


def test_only_finance_funds_a_campaign_within_its_budget_and_a_replay_funds_once(
    live_campaign, campaign_operator, finance_operator
):
    """R-VC-09, R-OP-01: a campaign operator cannot fund (403); Finance can, with who and why, up to the budget."""
    campaign = live_campaign(funded="0")
    url = f"{OPS}/{campaign.pk}/fundings"
    entries = JournalEntry.objects.count()

    body = {"amount": "600", "reason": "Q2"}
    denied = ops_client(campaign_operator).post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="f1")
    assert denied.status_code == 403, denied.content

    finance = ops_client(finance_operator)
    funded = finance.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="f1")
    assert funded.status_code == 201, funded.content
    funding = funded.json()
    assert (funding["amount"], funding["actor"], funding["reason"], funding["campaign"]) == (
        "600.00000000",
        finance_operator.email,
        "Q2",
        campaign.pk,
    )
    assert (funding["liability"]["funded"], funding["liability"]["available"]) == ("600.00000000", "600.00000000")

    replay = finance.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="f1")
    assert replay.status_code == 201 and replay["Idempotent-Replay"] == "true" and replay.json() == funding

    over = finance.post(url, {"amount": "401", "reason": "more"}, format="json", HTTP_IDEMPOTENCY_KEY="f2")
    assert over.status_code == 422, over.content
    assert over.json()["fields"] == {"amount": ["at most 400.00000000"]}

    as_float = finance.post(url, {"amount": 1.5, "reason": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="f3")
    assert as_float.status_code == 400 and "amount" in as_float.json()["fields"]

    assert balances(campaign) == (D("600"), D("0"))
    assert JournalEntry.objects.count() == entries + 1
    assert campaign.changes.filter(action="funded", actor=finance_operator, reason="Q2").count() == 1
    assert campaign_budget_problems() == [] and ledger_audit().ok


def test_an_unknown_campaign_answers_404_to_operators(finance_operator, campaign_operator):
    assert ops_client(finance_operator).get(f"{OPS}/987654").status_code == 404
    response = ops_client(campaign_operator).post(f"{OPS}/987654/publish", {"reason": "x"}, format="json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
