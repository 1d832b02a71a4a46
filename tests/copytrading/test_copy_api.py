"""The copy engine through the API: lead traders, operators' decisions, traders, followings, decisions, records.

Every follower reads and changes only its own followings (anyone else's is a
404); every refused request names the field and changes nothing: no journal
entry, no following, the ledger audit still proves.
"""

import uuid
from decimal import Decimal as D

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AccountKind, JournalEntry, LedgerAccount
from accounts.selectors import ledger_audit
from copytrading.futures.models import Position
from copytrading.models import CopyDecision, Following, FollowingStatus, LeadTrader
from copytrading.services.leads import lead_trader_apply, lead_trader_suspend
from tests.copytrading.copy_helpers import copy_of, follow, lead_order, make_lead, sub_balance
from tests.factories import OperatorFactory, UserFactory, fund_futures, fund_spot, futures, spot

pytestmark = pytest.mark.django_db

LEAD_TRADERS = "/api/v1/lead-traders"
LEAD_ME = "/api/v1/lead-traders/me"
TRADERS = "/api/v1/traders"
FOLLOWINGS = "/api/v1/followings"
ERROR_KEYS = {"code", "detail", "fields"}


def key() -> str:
    return uuid.uuid4().hex


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def post(client: APIClient, path: str, body: dict, idempotency_key: str | None = "new"):
    """POST JSON with a fresh Idempotency-Key (or the given one, or none with ``None``)."""
    if idempotency_key == "new":
        idempotency_key = key()
    headers = {} if idempotency_key is None else {"HTTP_IDEMPOTENCY_KEY": idempotency_key}
    return client.post(path, body, format="json", **headers)


def ops_url(lead_id: int, action: str) -> str:
    return f"/api/v1/ops/lead-traders/{lead_id}/{action}"


def following_url(following_id: int, action: str = "") -> str:
    return f"{FOLLOWINGS}/{following_id}" + (f"/{action}" if action else "")


def state() -> tuple:
    """What a refused request must leave unchanged."""
    return (
        JournalEntry.objects.count(),
        list(Following.objects.order_by("pk").values()),
        list(LeadTrader.objects.order_by("pk").values()),
        list(Position.objects.order_by("pk").values_list("pk", "qty", "status")),
        CopyDecision.objects.count(),
        list(LedgerAccount.objects.order_by("pk").values_list("pk", "balance", "held")),
    )


def assert_refused(response, status: int, field: str | None, before: tuple) -> None:
    assert response.status_code == status, response.data
    assert set(response.data) == ERROR_KEYS
    if field is not None:
        assert field in response.data["fields"], response.data
    assert state() == before
    assert ledger_audit().ok


def next_open_allowed(lead: LeadTrader) -> None:
    """Move the lead's last open out of the 3-second frequency window (R-CT-15)."""
    LeadTrader.objects.filter(pk=lead.pk).update(last_open_at=timezone.now() - timezone.timedelta(seconds=10))


@pytest.fixture
def lead():
    return make_lead(equity="10000", nickname="alpha")


@pytest.fixture
def follower():
    user = UserFactory()
    fund_spot(user, "2000")
    return user


@pytest.fixture
def follower_client(follower) -> APIClient:
    return client_for(follower)


@pytest.fixture
def following(lead, follower) -> Following:
    """The follower copies the lead with 1,000 USDT, Smart Ratio, through the API."""
    response = post(client_for(follower), FOLLOWINGS, {"lead": lead.pk, "mode": "smart", "amount": "1000"})
    assert response.status_code == 201, response.data
    return Following.objects.get(pk=response.data["id"])


# --- lead traders -------------------------------------------------------------


def test_a_user_applies_to_lead_and_reads_its_application(user, auth_client):
    """R-CT-01: a user applies with a nickname, bio, profit-share ratio and optional minimum and follower limit;
    it is pending until operators approve."""
    body = {
        "nickname": "steady-hands",
        "bio": "BTC swing trades",
        "profit_share_ratio": "0.1",
        "min_following_amount": "200",
        "max_followers": 50,
    }
    response = auth_client.post(LEAD_TRADERS, body, format="json")
    assert response.status_code == 201, response.data
    assert response.data["status"] == "pending"
    assert (response.data["profit_share_ratio"], response.data["min_following_amount"]) == (
        "0.10000000",
        "200.00000000",
    )
    assert response.data["max_followers"] == 50
    lead = LeadTrader.objects.get(user=user)
    assert (lead.nickname, lead.bio, lead.profit_share_ratio) == ("steady-hands", "BTC swing trades", D("0.1"))

    me = auth_client.get(LEAD_ME)
    assert me.status_code == 200
    assert me.data == response.data


def test_reading_ones_application_before_applying_is_404_and_needs_a_login(auth_client):
    assert auth_client.get(LEAD_ME).status_code == 404
    assert APIClient().get(LEAD_ME).status_code == 401
    assert APIClient().post(LEAD_TRADERS, {"nickname": "abc"}, format="json").status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"nickname": "ab", "profit_share_ratio": "0.1"}, "nickname"),
        ({"nickname": "x" * 41, "profit_share_ratio": "0.1"}, "nickname"),
        ({"profit_share_ratio": "0.1"}, "nickname"),
        ({"nickname": "steady"}, "profit_share_ratio"),
        ({"nickname": "steady", "profit_share_ratio": "0.25"}, "profit_share_ratio"),
        ({"nickname": "steady", "profit_share_ratio": "-0.1"}, "profit_share_ratio"),
        ({"nickname": "steady", "profit_share_ratio": 0.1}, "profit_share_ratio"),
        ({"nickname": "steady", "profit_share_ratio": "ten"}, "profit_share_ratio"),
        ({"nickname": "steady", "profit_share_ratio": "0.1", "min_following_amount": "-1"}, "min_following_amount"),
        ({"nickname": "steady", "profit_share_ratio": "0.1", "max_followers": 0}, "max_followers"),
        ({"nickname": "steady", "profit_share_ratio": "0.1", "max_followers": "many"}, "max_followers"),
    ],
)
def test_a_bad_application_is_refused_naming_the_field(auth_client, body, field):
    """R-CT-22: the profit-share ratio of ordinary following is at most 20 %; the error names the range."""
    before = state()
    response = auth_client.post(LEAD_TRADERS, body, format="json")
    assert_refused(response, 400, field, before)
    if body.get("profit_share_ratio") == "0.25":
        assert "0.2" in response.data["fields"]["profit_share_ratio"][0]


def test_applying_twice_or_with_a_taken_nickname_is_refused(user, auth_client, lead):
    first = auth_client.post(LEAD_TRADERS, {"nickname": "steady", "profit_share_ratio": "0.1"}, format="json")
    assert first.status_code == 201
    someone = client_for(UserFactory())
    before = state()
    again = auth_client.post(LEAD_TRADERS, {"nickname": "other", "profit_share_ratio": "0.1"}, format="json")
    assert_refused(again, 409, None, before)
    taken = someone.post(LEAD_TRADERS, {"nickname": "alpha", "profit_share_ratio": "0.1"}, format="json")
    assert_refused(taken, 400, "nickname", before)


def test_a_follower_cannot_apply_to_lead_until_it_stops_following(following, follower, follower_client):
    """R-CT-23: a lead trader cannot follow other traders, so a follower cannot become one while following."""
    before = state()
    response = follower_client.post(LEAD_TRADERS, {"nickname": "copycat", "profit_share_ratio": "0.1"}, format="json")
    assert_refused(response, 422, None, before)
    assert not LeadTrader.objects.filter(user=follower).exists()


# --- operators approve and suspend ----------------------------------------------


@pytest.fixture
def applicant() -> LeadTrader:
    user = UserFactory()
    fund_futures(user, "2000")
    return lead_trader_apply(user=user, nickname="newcomer", profit_share_ratio=D("0.08"))


def test_risk_operators_approve_suspend_and_reinstate_a_lead_with_a_reason(applicant):
    """R-CT-01: lead traders are users approved by operators; the decision records who and why.
    Each transition is idempotent: deciding twice changes nothing."""
    risk = OperatorFactory(groups=["Risk operators"])
    client = client_for(risk)
    approved = client.post(ops_url(applicant.pk, "approve"), {"reason": "track record checked"}, format="json")
    assert approved.status_code == 200, approved.data
    assert (approved.data["status"], approved.data["status_reason"]) == ("approved", "track record checked")
    assert (approved.data["decided_by_id"], approved.data["user_id"]) == (risk.pk, applicant.user_id)
    again = client.post(ops_url(applicant.pk, "approve"), {"reason": "clicked twice"}, format="json")
    assert again.status_code == 200
    assert again.data["status_reason"] == "track record checked"
    assert APIClient().get(f"{TRADERS}/{applicant.pk}").status_code == 200

    suspended = client.post(ops_url(applicant.pk, "suspend"), {"reason": "wash trading"}, format="json")
    assert suspended.status_code == 200
    assert (suspended.data["status"], suspended.data["status_reason"]) == ("suspended", "wash trading")
    assert client.post(ops_url(applicant.pk, "suspend"), {"reason": "again"}, format="json").status_code == 200
    assert APIClient().get(f"{TRADERS}/{applicant.pk}").status_code == 404

    reinstated = client.post(ops_url(applicant.pk, "approve"), {"reason": "cleared"}, format="json")
    assert reinstated.data["status"] == "approved"
    applicant.refresh_from_db()
    assert (applicant.status, applicant.decided_by, applicant.status_reason) == ("approved", risk, "cleared")


@pytest.mark.parametrize("group", ["Campaign operators", "Finance", None])
@pytest.mark.parametrize("action", ["approve", "suspend"])
def test_deciding_on_a_lead_is_forbidden_without_the_review_permission(applicant, group, action):
    someone = OperatorFactory(groups=[group]) if group else UserFactory()
    before = state()
    response = client_for(someone).post(ops_url(applicant.pk, action), {"reason": "because"}, format="json")
    assert_refused(response, 403, None, before)
    anonymous = APIClient().post(ops_url(applicant.pk, action), {"reason": "because"}, format="json")
    assert_refused(anonymous, 401, None, before)


@pytest.mark.parametrize(
    ("action", "body", "status", "field"),
    [
        ("approve", {}, 400, "reason"),
        ("approve", {"reason": "   "}, 400, "reason"),
        ("suspend", {"reason": ""}, 400, "reason"),
        ("suspend", {"reason": "not approved yet"}, 409, None),  # a pending lead cannot be suspended
    ],
)
def test_a_decision_needs_a_reason_and_a_state_that_allows_it(applicant, action, body, status, field):
    client = client_for(OperatorFactory(groups=["Risk operators"]))
    before = state()
    assert_refused(client.post(ops_url(applicant.pk, action), body, format="json"), status, field, before)
    assert_refused(client.post(ops_url(999999, action), {"reason": "x"}, format="json"), 404, None, before)


# --- the public list of traders ---------------------------------------------------


def test_traders_are_listed_publicly_filtered_and_sorted(applicant):
    """R-CT-01: only approved lead traders are listed, with their followers count."""
    quiet = make_lead(nickname="quiet-one")
    busy = make_lead(nickname="busy-bee")
    follow(busy)
    follow(busy)
    follow(quiet)
    suspended = make_lead(nickname="gone-quiet")
    lead_trader_suspend(lead_id=suspended.pk, operator=OperatorFactory(), reason="review")
    client = APIClient()

    listed = client.get(TRADERS)
    assert listed.status_code == 200
    assert [(r["nickname"], r["followers_count"]) for r in listed.data["results"]] == [
        ("busy-bee", 2),
        ("quiet-one", 1),
    ]
    assert listed.data["count"] == 2
    newest = client.get(TRADERS, {"sort": "newest"})
    assert [r["nickname"] for r in newest.data["results"]] == ["busy-bee", "quiet-one"]
    assert [r["nickname"] for r in client.get(TRADERS, {"min_followers": 2}).data["results"]] == ["busy-bee"]
    assert [r["nickname"] for r in client.get(TRADERS, {"search": "QUIET"}).data["results"]] == ["quiet-one"]
    first = client.get(TRADERS, {"page_size": 1})
    assert [r["nickname"] for r in first.data["results"]] == ["busy-bee"]
    assert [r["nickname"] for r in client.get(first.data["next"]).data["results"]] == ["quiet-one"]


@pytest.mark.parametrize("query", [{"min_followers": -1}, {"min_followers": "many"}, {"sort": "best"}])
def test_a_bad_trader_query_is_refused_naming_the_parameter(query):
    response = APIClient().get(TRADERS, query)
    assert response.status_code == 400
    assert set(response.data["fields"]) == set(query)


@pytest.mark.parametrize(
    ("equity", "max_followers", "slots", "free"),
    [("10000", None, 500, 499), ("2000", None, 300, 299), ("500", None, 100, 99), ("10000", 1, 1, 0)],
)
def test_a_traders_follower_slots_depend_on_its_futures_equity(equity, max_followers, slots, free):
    """R-CT-22: under 100 USDT no slots; 100–1,000: 100; 1,000–5,000: 300; 5,000 and above: 500;
    capped by the lead's own limit. The detail shows the minimum first transfer too."""
    lead = make_lead(equity=equity, minimum="80")
    LeadTrader.objects.filter(pk=lead.pk).update(max_followers=max_followers)
    follow(lead)
    response = APIClient().get(f"{TRADERS}/{lead.pk}")
    assert response.status_code == 200
    body = response.data
    assert (body["follower_slots"], body["free_slots"], body["followers_count"]) == (slots, free, 1)
    assert (body["min_following_amount"], body["min_first_transfer"]) == ("80.00000000", "80.00000000")
    assert body["nickname"] == lead.nickname


def test_a_trader_not_approved_is_not_found(applicant):
    assert APIClient().get(f"{TRADERS}/{applicant.pk}").status_code == 404
    assert APIClient().get(f"{TRADERS}/999999").status_code == 404


# --- starting to follow -------------------------------------------------------------


def test_following_a_lead_funds_a_dedicated_sub_account_once(lead, follower, follower_client):
    """R-CT-02, R-CT-03: Smart Ratio opens a sub-account for this lead, funded from spot; a replay of the
    Idempotency-Key returns the first answer and moves nothing again."""
    idem = key()
    body = {"lead": lead.pk, "mode": "smart", "amount": "1000", "settings": {"slippage_ratio": "0.01"}}
    response = post(follower_client, FOLLOWINGS, body, idem)
    assert response.status_code == 201, response.data
    data = response.data
    assert (data["mode"], data["status"], data["invested"]) == ("smart", "active", "1000.00000000")
    assert (data["equity"], data["available"], data["net_value"]) == ("1000.00000000",) * 3
    assert data["lead"] == {"id": lead.pk, "nickname": "alpha", "profit_share_ratio": "0.10000000"}
    assert data["positions"] == []
    assert data["settings"]["slippage_ratio"] == "0.01000000"
    assert data["settings"]["max_position_value"] == "1000000.00000000"
    assert (data["settings"]["margin_mode"], data["settings"]["leverage_mode"]) == ("follow", "follow")
    following = Following.objects.get(pk=data["id"])
    assert following.sub_account.kind == AccountKind.FOLLOW
    assert sub_balance(following) == D("1000")
    assert spot(follower).balance == D("1000")

    entries = JournalEntry.objects.count()
    replay = post(follower_client, FOLLOWINGS, body, idem)
    assert replay.status_code == 201
    assert replay["Idempotent-Replay"] == "true"
    assert replay.data == response.data
    assert (JournalEntry.objects.count(), Following.objects.count()) == (entries, 1)
    assert ledger_audit().ok


def test_diverse_followings_share_one_pool_and_can_be_funded_from_futures(follower, follower_client):
    """R-CT-02: Diverse Exploration uses the follower's one shared pool; a fixed margin per copy is required."""
    fund_futures(follower, "500")
    first, second = make_lead(), make_lead()
    a = post(follower_client, FOLLOWINGS, {**_diverse(first), "amount": "300"})
    b = post(follower_client, FOLLOWINGS, {**_diverse(second), "amount": "200", "source": "futures"})
    assert (a.status_code, b.status_code) == (201, 201), (a.data, b.data)
    assert a.data["sub_account_id"] == b.data["sub_account_id"]
    assert b.data["equity"] == "500.00000000"  # the pool
    assert b.data["net_value"] == "200.00000000"  # this following's own
    assert b.data["settings"]["diverse_margin"] == "100.00000000"
    assert (spot(follower).balance, futures(follower).balance) == (D("1700"), D("300"))


def _diverse(lead: LeadTrader) -> dict:
    return {"lead": lead.pk, "mode": "diverse", "amount": "300", "settings": {"diverse_margin": "100"}}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "49.99"}, "amount"),  # R-CT-03: the first transfer is at least 50 USDT
        ({"amount": 100.5}, "amount"),
        ({"amount": "-100"}, "amount"),
        ({"amount": None}, "amount"),
        ({"mode": "copy"}, "mode"),
        ({"source": "follow"}, "source"),
        ({"lead": "alpha"}, "lead"),
        ({"lead": 999999}, "lead"),
        ({"settings": {"slippage_ratio": "0.0005"}}, "settings.slippage_ratio"),
        ({"settings": {"slippage_ratio": "0.05"}}, "settings.slippage_ratio"),
        ({"settings": {"slippage_ratio": 0.01}}, "settings.slippage_ratio"),
        ({"settings": {"slippage_ratio": None}}, "settings.slippage_ratio"),
        ({"settings": {"leverage_mode": "fixed", "fixed_leverage": 11}}, "settings.fixed_leverage"),
        ({"settings": {"leverage_mode": "fixed", "fixed_leverage": 0}}, "settings.fixed_leverage"),
        ({"settings": {"leverage_mode": "fixed"}}, "settings.fixed_leverage"),
        ({"settings": {"fixed_leverage": "five"}}, "settings.fixed_leverage"),
        ({"settings": {"leverage_mode": "custom", "custom_leverage": {"BTCUSDT": 21}}}, "settings.custom_leverage"),
        ({"settings": {"custom_leverage": {"NOPEUSDT": 5}}}, "settings.custom_leverage"),
        ({"settings": {"leverage_mode": "max"}}, "settings.leverage_mode"),
        ({"settings": {"margin_mode": "hedge"}}, "settings.margin_mode"),
        ({"settings": {"pairs": ["NOPEUSDT"]}}, "settings.pairs"),
        ({"settings": {"pairs": "BTCUSDT"}}, "settings.pairs"),
        ({"settings": {"stop_loss_ratio": "1.5"}}, "settings.stop_loss_ratio"),
        ({"settings": {"take_profit_ratio": "0"}}, "settings.take_profit_ratio"),
        ({"settings": {"max_margin_per_order_pct": "2"}}, "settings.max_margin_per_order_pct"),
        ({"settings": {"max_position_value": "0"}}, "settings.max_position_value"),
        ({"settings": {"max_margin_per_pair": "-5"}}, "settings.max_margin_per_pair"),
        ({"settings": {"guardian_max_loss": "lots"}}, "settings.guardian_max_loss"),
        ({"settings": {"auto_follow_new_pairs": "sometimes"}}, "settings.auto_follow_new_pairs"),
        ({"settings": {"slipage_ratio": "0.01"}}, "settings.slipage_ratio"),
        ({"settings": "fast"}, "settings.non_field_errors"),
        ({"mode": "diverse"}, "settings.diverse_margin"),
        ({"mode": "diverse", "settings": {"diverse_multiple": "101"}}, "settings.diverse_multiple"),
    ],
)
def test_a_bad_following_is_refused_naming_the_field(lead, btc, follower_client, body, field):
    """R-CT-05: every setting is validated and the error names the field and its range (R-CT-09: slippage
    0.1 %–3 %; fixed leverage 1–10x; custom leverage never above the market maximum, here 20x)."""
    btc.max_leverage = 20
    btc.save()
    before = state()
    response = post(follower_client, FOLLOWINGS, {"lead": lead.pk, "mode": "smart", "amount": "1000", **body})
    assert_refused(response, 400, field, before)
    if field == "settings.slippage_ratio" and body["settings"]["slippage_ratio"] in ("0.0005", "0.05"):
        assert response.data["fields"][field] == ["must be at least 0.001 and at most 0.03"]
    if field == "settings.custom_leverage" and "BTCUSDT" in body["settings"]["custom_leverage"]:
        assert response.data["fields"][field] == ["must be a whole number from 1 to 20"]


def test_the_first_transfer_is_at_least_the_leads_minimum(follower_client):
    """R-CT-03: at least 50 USDT and at least the trader's minimum following amount."""
    picky = make_lead(minimum="300")
    before = state()
    response = post(follower_client, FOLLOWINGS, {"lead": picky.pk, "mode": "smart", "amount": "299"})
    assert_refused(response, 400, "amount", before)
    assert "300" in response.data["fields"]["amount"][0]
    assert post(follower_client, FOLLOWINGS, {"lead": picky.pk, "mode": "smart", "amount": "300"}).status_code == 201


def test_a_following_needs_an_idempotency_key_and_the_funds(lead, follower_client):
    before = state()
    body = {"lead": lead.pk, "mode": "smart", "amount": "1000"}
    assert_refused(post(follower_client, FOLLOWINGS, body, None), 400, "Idempotency-Key", before)
    assert_refused(post(follower_client, FOLLOWINGS, {**body, "amount": "2000.01"}), 422, "amount", before)
    assert APIClient().post(FOLLOWINGS, body, format="json").status_code == 401


def test_no_user_can_follow_itself_and_a_lead_cannot_follow(lead):
    """R-CT-23: a lead trader cannot follow other traders, and no user can follow itself."""
    fund_spot(lead.user, "1000")
    before = state()
    own = post(client_for(lead.user), FOLLOWINGS, {"lead": lead.pk, "mode": "smart", "amount": "100"})
    assert_refused(own, 422, "lead", before)
    other = make_lead()
    before = state()
    response = post(client_for(lead.user), FOLLOWINGS, {"lead": other.pk, "mode": "smart", "amount": "100"})
    assert_refused(response, 422, "lead", before)
    assert "lead trader cannot follow" in response.data["detail"]


def test_an_applicant_cannot_follow_either(applicant, lead):
    """R-CT-23: a pending application already counts as leading."""
    fund_spot(applicant.user, "500")
    before = state()
    response = post(client_for(applicant.user), FOLLOWINGS, {"lead": lead.pk, "mode": "smart", "amount": "100"})
    assert_refused(response, 422, "lead", before)


def test_a_suspended_lead_or_one_with_no_free_slot_takes_no_follower(lead, follower_client):
    """R-CT-01, R-CT-22: a suspended trader accepts no followers; nor does one whose slots are full."""
    LeadTrader.objects.filter(pk=lead.pk).update(max_followers=1)
    follow(lead)
    before = state()
    full = post(follower_client, FOLLOWINGS, {"lead": lead.pk, "mode": "smart", "amount": "100"})
    assert_refused(full, 422, "lead", before)
    assert "no free follower slot" in full.data["detail"]
    other = make_lead()
    lead_trader_suspend(lead_id=other.pk, operator=OperatorFactory(), reason="review")
    before = state()
    suspended = post(follower_client, FOLLOWINGS, {"lead": other.pk, "mode": "smart", "amount": "100"})
    assert_refused(suspended, 422, "lead", before)


def test_following_the_same_lead_twice_is_refused(following, lead, follower_client):
    before = state()
    response = post(follower_client, FOLLOWINGS, {"lead": lead.pk, "mode": "smart", "amount": "100"})
    assert_refused(response, 422, "lead", before)


# --- reading followings ---------------------------------------------------------------


def test_followings_list_and_detail_show_only_ones_own(following, follower_client, lead, btc):
    """R-CT-02: the detail shows equity, available, this following's copy positions, settings and status."""
    stranger = follow(lead, amount="500")
    lead_order(lead, btc, qty="0.1", leverage=10)
    listed = follower_client.get(FOLLOWINGS)
    assert listed.status_code == 200
    assert [row["id"] for row in listed.data["results"]] == [following.pk]

    detail = follower_client.get(following_url(following.pk))
    assert detail.status_code == 200
    body = detail.data
    [position] = body["positions"]
    copy = copy_of(following, btc)
    assert (position["id"], position["qty"], position["margin"]) == (copy.pk, "0.01000000", "60.00000000")
    # 1,000 − 0.36 fee; cross: 60 of margin in use stays.
    assert (body["equity"], body["available"], body["net_value"]) == ("999.64000000", "939.64000000", "999.64000000")
    assert body["status"] == "active"
    assert client_for(stranger.follower).get(following_url(following.pk)).status_code == 404


@pytest.mark.parametrize(
    ("method", "action", "body"),
    [
        ("get", "", None),
        ("patch", "", {"settings": {"slippage_ratio": "0.01"}}),
        ("post", "funds", {"amount": "100"}),
        ("post", "withdrawals", {"amount": "100"}),
        ("post", "stop", {"method": "market"}),
        ("get", "decisions", None),
        ("get", "records", None),
    ],
)
def test_another_users_following_is_not_found_and_unchanged(following, method, action, body):
    stranger = UserFactory()
    fund_spot(stranger, "1000")
    client = client_for(stranger)
    before = state()
    if method == "get":
        response = client.get(following_url(following.pk, action))
    else:
        response = getattr(client, method)(
            following_url(following.pk, action), body, format="json", HTTP_IDEMPOTENCY_KEY=key()
        )
    assert_refused(response, 404, None, before)
    if method == "get":
        response = client.get(following_url(999999, action))
    else:
        response = getattr(client, method)(
            following_url(999999, action), body, format="json", HTTP_IDEMPOTENCY_KEY=key()
        )
    assert_refused(response, 404, None, before)


# --- settings --------------------------------------------------------------------------


def test_changed_settings_apply_to_copy_opens_made_after_the_change(following, follower_client, lead, btc, eth):
    """R-CT-05: settings are editable at any time; an open copy keeps its own, new opens use the new ones."""
    lead_order(lead, btc, qty="0.1", leverage=10)
    response = follower_client.patch(
        following_url(following.pk),
        {"settings": {"leverage_mode": "fixed", "fixed_leverage": 5, "stop_loss_ratio": "0.5"}},
        format="json",
    )
    assert response.status_code == 200, response.data
    assert (response.data["settings"]["leverage_mode"], response.data["settings"]["fixed_leverage"]) == ("fixed", 5)
    assert response.data["settings"]["stop_loss_ratio"] == "0.50000000"
    following.refresh_from_db()
    assert (following.leverage_mode, following.fixed_leverage, following.stop_loss_ratio) == ("fixed", 5, D("0.5"))
    next_open_allowed(lead)
    lead_order(lead, eth, qty="1", leverage=10)
    old, new = copy_of(following, btc), copy_of(following, eth)
    assert (old.leverage, old.stop_loss_price) == (10, None)
    assert new.leverage == 5 and new.stop_loss_price is not None


def test_deselecting_a_pair_stops_copying_it(following, follower_client, lead, btc, eth):
    """R-CT-05: pairs followed, each can be deselected (and, without auto-follow, a new pair is not copied)."""
    settings = {"pairs": ["ETHUSDT"], "auto_follow_new_pairs": False}
    response = follower_client.patch(following_url(following.pk), {"settings": settings}, format="json")
    assert response.status_code == 200
    lead_order(lead, btc, qty="0.1")
    decision = CopyDecision.objects.get(following=following)
    assert (decision.followed, decision.reason) == (False, "pair_not_followed")


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"slippage_ratio": "0.0005"}, "settings.slippage_ratio"),
        ({"slippage_ratio": "0.05"}, "settings.slippage_ratio"),
        ({"fixed_leverage": 11}, "settings.fixed_leverage"),
        ({"leverage_mode": "fixed"}, "settings.fixed_leverage"),  # none stored
        ({"custom_leverage": {"BTCUSDT": 126}}, "settings.custom_leverage"),  # BTCUSDT's maximum is 125
        ({"max_position_value": "ten"}, "settings.max_position_value"),
        ({"follow_existing": "perhaps"}, "settings.follow_existing"),
        ({"margin_mode": 3}, "settings.margin_mode"),
        ({"bogus": 1}, "settings.bogus"),
        ({}, "settings"),
    ],
)
def test_out_of_range_settings_are_refused_naming_the_field(following, follower_client, btc, settings, field):
    """R-CT-05: out of range → 400 naming the field (slippage 0.1 %–3 %, fixed leverage 1–10x,
    custom leverage at most the market's maximum); nothing changes."""
    before = state()
    response = follower_client.patch(following_url(following.pk), {"settings": settings}, format="json")
    assert_refused(response, 400, field, before)


def test_a_stopped_followings_settings_cannot_change(following, follower_client):
    post(follower_client, following_url(following.pk, "stop"), {"method": "market"})
    before = state()
    response = follower_client.patch(
        following_url(following.pk), {"settings": {"slippage_ratio": "0.01"}}, format="json"
    )
    assert_refused(response, 409, None, before)


# --- funds in and out ----------------------------------------------------------------------


def test_adding_funds_moves_them_once_per_key(following, follower, follower_client):
    """R-CT-03: funds can be added at any time, from spot or futures."""
    idem = key()
    response = post(follower_client, following_url(following.pk, "funds"), {"amount": "500"}, idem)
    assert response.status_code == 200, response.data
    assert (response.data["invested"], response.data["equity"]) == ("1500.00000000", "1500.00000000")
    replay = post(follower_client, following_url(following.pk, "funds"), {"amount": "500"}, idem)
    assert replay.data == response.data
    assert (sub_balance(following), spot(follower).balance) == (D("1500"), D("500"))
    assert ledger_audit().ok


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"amount": "0"}, 400, "amount"),
        ({"amount": 10.5}, 400, "amount"),
        ({"amount": "abc"}, 400, "amount"),
        ({}, 400, "amount"),
        ({"amount": "10", "source": "follow"}, 400, "source"),
        ({"amount": "1000.01"}, 422, "amount"),  # the spot account holds 1,000
    ],
)
def test_bad_funds_are_refused(following, follower_client, body, status, field):
    before = state()
    assert_refused(post(follower_client, following_url(following.pk, "funds"), body), status, field, before)
    assert_refused(
        post(follower_client, following_url(following.pk, "funds"), {"amount": "1"}, None),
        400,
        "Idempotency-Key",
        before,
    )


def test_withdrawing_pays_out_to_spot_but_never_the_margin_of_open_copies(
    following, follower, follower_client, lead, btc
):
    """R-CT-03: funds can be withdrawn at any time; the margin open copies need stays."""
    lead_order(lead, btc, qty="0.1", leverage=10)  # a cross copy of 0.01 BTC: margin 60, fee 0.36
    before = state()
    too_much = post(follower_client, following_url(following.pk, "withdrawals"), {"amount": "939.65"})
    assert_refused(too_much, 422, "amount", before)
    assert too_much.data["fields"]["amount"] == ["at most 939.64000000"]

    idem = key()
    response = post(follower_client, following_url(following.pk, "withdrawals"), {"amount": "300"}, idem)
    assert response.status_code == 201, response.data
    assert response.data["amount"] == "300.00000000"
    assert response.data["following"]["available"] == "639.64000000"
    assert response.data["following"]["invested"] == "700.00000000"
    replay = post(follower_client, following_url(following.pk, "withdrawals"), {"amount": "300"}, idem)
    assert replay.data == response.data
    assert spot(follower).balance == D("1300")
    assert ledger_audit().ok


@pytest.mark.parametrize("body", [{"amount": "-5"}, {"amount": 5.5}, {"amount": "1e400"}, {}])
def test_bad_withdrawals_are_refused(following, follower_client, body):
    before = state()
    assert_refused(post(follower_client, following_url(following.pk, "withdrawals"), body), 400, "amount", before)


# --- stop following ----------------------------------------------------------------------------


def test_stopping_at_market_closes_every_copy_and_returns_the_rest_once(
    following, follower, follower_client, lead, btc
):
    """R-CT-16: all copies close at market and what remains returns to spot; a replay moves nothing."""
    lead_order(lead, btc, qty="0.1", leverage=10)
    idem = key()
    response = post(follower_client, following_url(following.pk, "stop"), {"method": "market"}, idem)
    assert response.status_code == 200, response.data
    assert (response.data["status"], response.data["stop_method"], response.data["positions"]) == (
        "stopped",
        "market",
        [],
    )
    assert spot(follower).balance == D("1000") + D("1000") - D("0.72")
    entries = JournalEntry.objects.count()
    assert post(follower_client, following_url(following.pk, "stop"), {"method": "market"}, idem).data == response.data
    again = post(follower_client, following_url(following.pk, "stop"), {"method": "market"})
    assert again.status_code == 200
    assert JournalEntry.objects.count() == entries
    assert ledger_audit().ok


def test_stopping_by_following_the_trader_to_close(following, follower_client, lead, btc):
    """R-CT-17: no new opens; the open copy stays until the lead closes it."""
    lead_order(lead, btc, qty="0.1", leverage=10)
    response = post(follower_client, following_url(following.pk, "stop"), {"method": "follow_close"})
    assert response.status_code == 200
    assert response.data["status"] == "stopping"
    assert len(response.data["positions"]) == 1
    assert Following.objects.get(pk=following.pk).status == FollowingStatus.STOPPING


@pytest.mark.parametrize("body", [{"method": "later"}, {}, {"method": 1}])
def test_a_bad_stop_is_refused(following, follower_client, body):
    before = state()
    assert_refused(post(follower_client, following_url(following.pk, "stop"), body), 400, "method", before)


# --- decisions and records -------------------------------------------------------------------------


def test_decisions_are_newest_first_with_reasons_and_filter_by_followed(following, follower_client, lead, btc, eth):
    """R-CT-14: every copy decision is listed, followed with quantity and price, or not with its reason."""
    lead_order(lead, btc, qty="0.1")
    settings = {"pairs": ["BTCUSDT"], "auto_follow_new_pairs": False}
    follower_client.patch(following_url(following.pk), {"settings": settings}, format="json")
    next_open_allowed(lead)
    lead_order(lead, eth, qty="1")
    response = follower_client.get(following_url(following.pk, "decisions"))
    assert response.status_code == 200
    newest, oldest = response.data["results"]
    assert (newest["symbol"], newest["followed"], newest["reason"]) == ("ETHUSDT", False, "pair_not_followed")
    assert newest["reason_text"] == "Pair not followed"
    assert (oldest["symbol"], oldest["followed"], oldest["reason"]) == ("BTCUSDT", True, "")
    assert (oldest["qty"], oldest["price"], oldest["leverage"]) == ("0.01000000", "60000.00000000", 10)
    assert oldest["position_id"] == copy_of(following, btc).pk

    missed = follower_client.get(following_url(following.pk, "decisions"), {"followed": "false"})
    assert [row["symbol"] for row in missed.data["results"]] == ["ETHUSDT"]
    followed = follower_client.get(following_url(following.pk, "decisions"), {"followed": "true"})
    assert [row["symbol"] for row in followed.data["results"]] == ["BTCUSDT"]
    by_reason = follower_client.get(following_url(following.pk, "decisions"), {"reason": "slippage"})
    assert by_reason.data["results"] == []
    page = follower_client.get(following_url(following.pk, "decisions"), {"page_size": 1})
    assert [row["symbol"] for row in page.data["results"]] == ["ETHUSDT"]
    assert [row["symbol"] for row in follower_client.get(page.data["next"]).data["results"]] == ["BTCUSDT"]


@pytest.mark.parametrize("query", [{"followed": "sometimes"}, {"reason": "bad_luck"}])
def test_a_bad_decision_filter_is_refused(following, follower_client, query):
    response = follower_client.get(following_url(following.pk, "decisions"), query)
    assert response.status_code == 400
    assert set(response.data["fields"]) == set(query)


def test_records_list_every_ledger_movement_of_the_sub_account(following, follower_client, lead, btc):
    """R-CT-03: the sub-account's records: funds in, the copy's fee, a withdrawal; newest first."""
    lead_order(lead, btc, qty="0.1", leverage=10)
    post(follower_client, following_url(following.pk, "withdrawals"), {"amount": "100"})
    response = follower_client.get(following_url(following.pk, "records"))
    assert response.status_code == 200
    rows = [(r["kind"], r["amount"], r["reference"]) for r in response.data["results"]]
    assert rows == [
        ("following_funds_out", "-100.00000000", f"following:{following.pk}"),
        ("copy_fill", "-0.36000000", rows[1][2]),
        ("following_funds_in", "1000.00000000", f"following:{following.pk}"),
    ]
    assert rows[1][2].startswith("order:")
    assert all(r["created_at"] for r in response.data["results"])


def test_records_of_a_diverse_following_are_those_of_the_shared_pool(follower, follower_client):
    first, second = make_lead(), make_lead()
    a = post(follower_client, FOLLOWINGS, _diverse(first)).data
    b = post(follower_client, FOLLOWINGS, _diverse(second)).data
    records = follower_client.get(following_url(a["id"], "records")).data["results"]
    assert [r["reference"] for r in records] == [f"following:{b['id']}", f"following:{a['id']}"]
