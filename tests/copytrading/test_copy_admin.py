"""Operator screens of the copy engine: lead traders are decided with a reason through the services; followings
and copy decisions are read-only; the platform's copy settings and token follow limits are edited in place.
(R-CT-01, R-CT-14, R-CT-21, R-CT-22, R-OP-01)"""

from decimal import Decimal as D

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from rest_framework.test import APIClient

from accounts.selectors import ledger_audit
from copytrading import admin as copy_admin
from copytrading.models import CopyDecision, CopySettings, Following, LeadTrader, LeadTraderStatus
from copytrading.services.leads import lead_trader_apply, lead_trader_suspend
from tests.copytrading.copy_helpers import follow, lead_order, make_lead
from tests.factories import OperatorFactory, UserFactory, fund_futures

pytestmark = pytest.mark.django_db

LEADS = "/admin/copytrading/leadtrader/"
FOLLOWINGS = "/admin/copytrading/following/"
DECISIONS = "/admin/copytrading/copydecision/"
COPY_SETTINGS = "/admin/copytrading/copysettings/"
MARKETS = "/admin/futures/market/"


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def risk_operator():
    return OperatorFactory(groups=["Risk operators"])


@pytest.fixture
def risk(risk_operator) -> Client:
    return admin_client(risk_operator)


@pytest.fixture
def applicant() -> LeadTrader:
    user = UserFactory()
    fund_futures(user, "6000")
    return lead_trader_apply(user=user, nickname="newcomer", profit_share_ratio=D("0.08"))


@pytest.fixture
def copied(btc, eth):
    """An approved lead with two followers; one lead open copied to both, one not followed (pair)."""
    lead = make_lead(nickname="alpha")
    smart = follow(lead)
    diverse = follow(lead, mode="diverse", diverse_margin="100", pairs=["ETHUSDT"], auto_follow_new_pairs=False)
    lead_order(lead, btc, qty="0.1")
    return lead, smart, diverse


def decide(client: Client, action: str, lead: LeadTrader, reason: str | None):
    """Run an admin action the way a browser does: pick it, then confirm with a reason (None: only pick it)."""
    chosen = client.post(LEADS, {"action": action, "_selected_action": [lead.pk]})
    if reason is None or chosen.status_code != 200:
        return chosen
    return client.post(LEADS, {"action": action, "_selected_action": [lead.pk], "apply": "1", "reason": reason})


def reloaded(lead: LeadTrader) -> LeadTrader:
    return LeadTrader.objects.select_related("decided_by").get(pk=lead.pk)


def test_risk_operators_open_every_copy_engine_page(risk, copied, applicant):
    lead, smart, _ = copied
    decision = CopyDecision.objects.first()
    for url in [
        LEADS,
        FOLLOWINGS,
        DECISIONS,
        f"{LEADS}{lead.pk}/change/",
        f"{FOLLOWINGS}{smart.pk}/change/",
        f"{DECISIONS}{decision.pk}/change/",
    ]:
        assert risk.get(url).status_code == 200, url
    page = risk.get(LEADS).content.decode()
    assert "newcomer" in page and "alpha" in page
    assert "track record checked" in page  # the reason of the approval is shown


@pytest.mark.parametrize("url", [LEADS, FOLLOWINGS, DECISIONS, COPY_SETTINGS])
def test_campaign_operators_see_no_copy_engine_page(url, copied):
    assert admin_client(OperatorFactory(groups=["Campaign operators"])).get(url).status_code == 403


def test_approving_asks_for_a_reason_and_records_the_operator(risk, risk_operator, applicant):
    """R-CT-01, R-OP-01: operators approve lead traders; the decision records who and why."""
    form = decide(risk, "approve", applicant, None)
    assert form.status_code == 200
    assert 'name="apply"' in form.content.decode()
    assert reloaded(applicant).status == LeadTraderStatus.PENDING

    blank = decide(risk, "approve", applicant, "   ")
    assert blank.status_code == 200
    assert "This field is required" in blank.content.decode()
    assert reloaded(applicant).status == LeadTraderStatus.PENDING

    done = decide(risk, "approve", applicant, "track record checked")
    assert done.status_code == 302
    lead = reloaded(applicant)
    assert (lead.status, lead.decided_by, lead.status_reason) == ("approved", risk_operator, "track record checked")
    assert lead.decided_at is not None
    assert APIClient().get(f"/api/v1/traders/{lead.pk}").status_code == 200


def test_suspending_and_reinstating_go_through_the_services(risk, risk_operator, applicant, monkeypatch):
    """R-CT-01: each action calls the lead-trader service with the operator and the reason."""
    calls = []

    def spy(service):
        def call(**kwargs):
            calls.append((service.__name__, kwargs))
            return service(**kwargs)

        return call

    for name in ("lead_trader_approve", "lead_trader_suspend", "lead_trader_reject"):
        monkeypatch.setattr(copy_admin, name, spy(getattr(copy_admin, name)))
    decide(risk, "approve", applicant, "checked")
    decide(risk, "suspend", applicant, "wash trading")
    assert reloaded(applicant).status == LeadTraderStatus.SUSPENDED
    assert reloaded(applicant).status_reason == "wash trading"
    decide(risk, "reinstate", applicant, "cleared")
    assert reloaded(applicant).status == LeadTraderStatus.APPROVED
    assert calls == [
        ("lead_trader_approve", {"lead_id": applicant.pk, "operator": risk_operator, "reason": "checked"}),
        ("lead_trader_suspend", {"lead_id": applicant.pk, "operator": risk_operator, "reason": "wash trading"}),
        ("lead_trader_approve", {"lead_id": applicant.pk, "operator": risk_operator, "reason": "cleared"}),
    ]


def test_rejecting_an_application(risk, applicant):
    decide(risk, "reject", applicant, "not enough history")
    lead = reloaded(applicant)
    assert (lead.status, lead.status_reason) == ("rejected", "not enough history")


@pytest.mark.parametrize(
    ("status", "action"),
    [
        ("pending", "suspend"),
        ("pending", "reinstate"),
        ("approved", "approve"),
        ("approved", "reinstate"),
        ("suspended", "approve"),
        ("suspended", "reject"),
    ],
)
def test_an_action_on_a_lead_in_the_wrong_state_changes_nothing(risk, applicant, status, action):
    LeadTrader.objects.filter(pk=applicant.pk).update(status=status)
    before = reloaded(applicant)
    response = decide(risk, action, applicant, "reason")
    assert response.status_code == 302
    messages = [str(m) for m in admin_client_messages(risk)]
    assert any("not" in m for m in messages), messages
    after = reloaded(applicant)
    assert (after.status, after.status_reason, after.decided_by_id) == (
        before.status,
        before.status_reason,
        before.decided_by_id,
    )


def admin_client_messages(client: Client):
    response = client.get(LEADS)
    return list(response.context["messages"])


def test_operators_without_the_review_permission_cannot_decide(applicant):
    """Risk operators decide on lead traders; an operator who may only view lead traders may not."""
    viewer = OperatorFactory()
    viewer.user_permissions.add(Permission.objects.get(codename="view_leadtrader"))
    client = admin_client(viewer)
    assert client.get(LEADS).status_code == 200
    decide(client, "approve", applicant, "sneaky")
    assert reloaded(applicant).status == LeadTraderStatus.PENDING


def test_lead_traders_filter_by_status(risk, copied, applicant):
    suspended = make_lead(nickname="gone-quiet")
    lead_trader_suspend(lead_id=suspended.pk, operator=OperatorFactory(), reason="review")
    listed = risk.get(LEADS, {"status__exact": "suspended"})
    assert [lead.nickname for lead in listed.context["cl"].result_list] == ["gone-quiet"]
    pending = risk.get(LEADS, {"status__exact": "pending"})
    assert [lead.nickname for lead in pending.context["cl"].result_list] == ["newcomer"]


def test_followings_are_read_only_and_filter_by_status_and_mode(risk, copied):
    _, smart, diverse = copied
    assert risk.get(f"{FOLLOWINGS}add/").status_code == 403
    page = risk.get(f"{FOLLOWINGS}{smart.pk}/change/")
    assert page.context["has_change_permission"] is False
    before = list(Following.objects.values())
    risk.post(f"{FOLLOWINGS}{smart.pk}/change/", {"status": "stopped"})
    assert list(Following.objects.values()) == before
    by_mode = risk.get(FOLLOWINGS, {"mode__exact": "diverse"})
    assert [f.pk for f in by_mode.context["cl"].result_list] == [diverse.pk]
    by_status = risk.get(FOLLOWINGS, {"status__exact": "active"})
    assert {f.pk for f in by_status.context["cl"].result_list} == {smart.pk, diverse.pk}


def test_copy_decisions_are_read_only_and_filter_by_reason_and_followed(risk, copied):
    """R-CT-14: operators find the decisions not followed by their reason."""
    _, smart, diverse = copied
    by_reason = risk.get(DECISIONS, {"reason__exact": "pair_not_followed"})
    assert [d.following_id for d in by_reason.context["cl"].result_list] == [diverse.pk]
    followed = risk.get(DECISIONS, {"followed__exact": "1"})
    assert [d.following_id for d in followed.context["cl"].result_list] == [smart.pk]
    assert risk.get(f"{DECISIONS}add/").status_code == 403
    decision = CopyDecision.objects.get(following=smart)
    assert risk.get(f"{DECISIONS}{decision.pk}/delete/").status_code == 403


def test_copy_settings_are_one_row_edited_in_place(risk):
    """R-CT-22: operators bound the profit-share ratio and tie follower slots to the lead's futures equity."""
    settings = CopySettings.current()
    opened = risk.get(COPY_SETTINGS)
    assert opened.status_code == 302
    assert opened["Location"] == f"{COPY_SETTINGS}{settings.pk}/change/"
    assert risk.get(f"{COPY_SETTINGS}add/").status_code == 403
    lead = make_lead(equity="2000")
    assert APIClient().get(f"/api/v1/traders/{lead.pk}").data["follower_slots"] == 300

    response = risk.post(
        f"{COPY_SETTINGS}{settings.pk}/change/",
        {
            "max_profit_share_ratio": "0.15",
            "min_following_amount": "60",
            "frequency_limit_seconds": "5",
            "follower_slot_tiers": "[[100, 10], [1000, 30]]",
        },
    )
    assert response.status_code == 302, response.context["adminform"].errors if response.context else response
    settings.refresh_from_db()
    assert (settings.max_profit_share_ratio, settings.min_following_amount) == (D("0.15"), D("60"))
    assert settings.follower_slot_tiers == [[100, 10], [1000, 30]]
    assert APIClient().get(f"/api/v1/traders/{lead.pk}").data["follower_slots"] == 30
    assert CopySettings.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_profit_share_ratio", "1.5"),
        ("max_profit_share_ratio", "0"),
        ("min_following_amount", "0"),
        ("follower_slot_tiers", "[[1000, 30], [100, 10]]"),
        ("follower_slot_tiers", "[[100, -1]]"),
        ("follower_slot_tiers", '{"100": 10}'),
        ("follower_slot_tiers", "[]"),
    ],
)
def test_bad_copy_settings_are_refused(risk, field, value):
    settings = CopySettings.current()
    body = {
        "max_profit_share_ratio": "0.2",
        "min_following_amount": "50",
        "frequency_limit_seconds": "3",
        "follower_slot_tiers": "[[100, 100], [1000, 300], [5000, 500]]",
        field: value,
    }
    response = risk.post(f"{COPY_SETTINGS}{settings.pk}/change/", body)
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    fresh = CopySettings.objects.get()
    assert (fresh.max_profit_share_ratio, fresh.min_following_amount) == (D("0.2"), D("50"))
    assert fresh.follower_slot_tiers == [[100, 100], [1000, 300], [5000, 500]]


def _market_row(btc, limit: str) -> dict:
    return {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-0-id": str(btc.pk),
        "form-0-taker_fee_rate": "0.0006",
        "form-0-funding_rate": "0.0001",
        "form-0-token_follow_limit": limit,
        "form-0-is_active": "on",
        "_save": "Save",
    }


def test_the_token_follow_limit_is_edited_in_the_market_list(risk, btc):
    """R-CT-21: the platform's token follow limit per market, set by risk operators (empty: no limit)."""
    page = risk.get(MARKETS).content.decode()
    assert 'name="form-0-token_follow_limit"' in page
    assert risk.post(MARKETS, _market_row(btc, "250000")).status_code == 302
    btc.refresh_from_db()
    assert btc.token_follow_limit == D("250000")
    refused = risk.post(MARKETS, _market_row(btc, "-1"))
    assert refused.status_code == 200
    btc.refresh_from_db()
    assert btc.token_follow_limit == D("250000")
    assert risk.post(MARKETS, _market_row(btc, "")).status_code == 302
    btc.refresh_from_db()
    assert btc.token_follow_limit is None
    assert ledger_audit().ok
