"""The operators' campaign desk in the Django admin. (R-OP-01, R-VC-01, R-VC-09)

R-OP-01: campaign operators create, edit, publish, pause and end campaigns in the
admin, and Finance funds them; every change goes through the vouchers services and
is recorded with who and why. R-VC-09: the desk shows each campaign's liability
live — budget, funded, available, reserved by live claims, paid out — and its
claims, triggers and payouts day by day.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest
from django import forms
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.html import escape

from accounts.models import JournalEntry, LedgerAccount, User
from tests.factories import OperatorFactory, UserFactory
from vouchers.ledger import campaign_accounts, marketing_account
from vouchers.models import Campaign, CampaignChange, CampaignFunding, CampaignStatus, Voucher, VoucherState
from vouchers.reports import campaign_daily
from vouchers.services.claims import voucher_claim

pytestmark = pytest.mark.django_db

CAMPAIGNS = "/admin/vouchers/campaign/"
ADD = "/admin/vouchers/campaign/add/"
VOUCHERS = "/admin/vouchers/voucher/"
CHANGES = "/admin/vouchers/campaignchange/"


def change_page(campaign: Campaign) -> str:
    return f"{CAMPAIGNS}{campaign.pk}/change/"


def move_page(campaign: Campaign, move: str) -> str:
    return f"{CAMPAIGNS}{campaign.pk}/{move}/"


def fund_page(campaign: Campaign) -> str:
    return f"{CAMPAIGNS}{campaign.pk}/fund/"


def admin_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def operator_client(campaign_operator) -> Client:
    return admin_client(campaign_operator)


@pytest.fixture
def finance_client(finance_operator) -> Client:
    return admin_client(finance_operator)


def claim(campaign: Campaign, user: User | None = None, now: datetime | None = None) -> Voucher:
    return voucher_claim(user=user or UserFactory(), campaign=campaign, idempotency_key=uuid.uuid4().hex, now=now)


def split(moment: datetime) -> tuple[str, str]:
    """A time as the admin's split date/time widget sends it."""
    local = timezone.localtime(moment)
    return local.strftime("%Y-%m-%d"), local.strftime("%H:%M:%S")


def add_form(**values) -> dict:
    """A filled add form, as a browser posts it."""
    now = timezone.now().replace(microsecond=0)
    times = {
        "promotion_starts_at": values.pop("promotion_starts_at", now),
        "promotion_ends_at": values.pop("promotion_ends_at", now + timedelta(days=10)),
        "claim_deadline": values.pop("claim_deadline", now + timedelta(days=12)),
    }
    data = {
        "name": "Spring cover",
        "kind": "first_loss",
        "audience": "everyone",
        "face_value": "50",
        "closing_threshold": "",
        "budget": "1000",
        "per_user_limit": "1",
        "validity_days": "7",
        "payout_claim_days": "7",
        "payout_usage_days": "14",
        "reason": "spring promotion, ticket MKT-12",
    }
    for name, moment in times.items():
        data[f"{name}_0"], data[f"{name}_1"] = split(moment)
    data.update(values)
    return data


def resubmit(page, **changes) -> dict:
    """What a browser posts back from a change page: its form as shown, with ``changes`` typed in."""
    form = page.context["adminform"].form
    data: dict[str, str] = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field, forms.SplitDateTimeField):
            data[f"{name}_0"], data[f"{name}_1"] = split(value)
        else:
            data[name] = "" if value is None else str(value)
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        data.update({management.add_prefix(name): str(management[name].value()) for name in management.fields})
        for inline_form in formset.forms:
            data.update({field.html_name: str(field.value() or "") for field in inline_form.hidden_fields()})
    data.update(changes)
    return data


# --- who may open the desk ----------------------------------------------------------


def test_a_staff_user_without_the_group_is_refused_everywhere(live_campaign):
    """R-OP-01: the desk belongs to campaign operators and Finance."""
    campaign = live_campaign()
    client = admin_client(OperatorFactory())
    for url in [
        CAMPAIGNS,
        ADD,
        change_page(campaign),
        move_page(campaign, "pause"),
        fund_page(campaign),
        VOUCHERS,
        CHANGES,
    ]:
        assert client.get(url).status_code == 403, url
    assert client.post(move_page(campaign, "pause"), {"reason": "x"}).status_code == 403
    assert client.post(fund_page(campaign), {"amount": "1", "reason": "x", "key": "k"}).status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.LIVE


def test_finance_sees_the_desk_read_only_with_a_fund_button(live_campaign, finance_client):
    campaign = live_campaign(funded="0")
    assert finance_client.get(CAMPAIGNS).status_code == 200
    page = finance_client.get(change_page(campaign))
    assert page.status_code == 200
    assert page.context["fund_url"] == fund_page(campaign)
    assert page.context["moves"] == []
    assert not page.context["adminform"].form.fields  # view only
    assert finance_client.get(ADD).status_code == 403
    assert finance_client.post(move_page(campaign, "end"), {"reason": "x"}).status_code == 403


# --- the list: live liability, read once per page ---------------------------------------


def test_the_campaign_list_shows_each_campaigns_liability(live_campaign, operator_client):
    """R-VC-09: funded, available, reserved, paid out and live claims, next to budget and timing."""
    campaign = live_campaign(funded="300")
    claim(campaign)
    response = operator_client.get(CAMPAIGNS)
    assert response.status_code == 200
    [row] = response.context["cl"].result_list
    books = row.liability
    assert (books.funded, books.available, books.reserved, books.paid_out, books.live_claims) == (
        D("300"),
        D("250"),
        D("50"),
        D("0"),
        1,
    )
    html = response.content.decode()
    for cell in ["Welcome cover", "First-loss coverage", "Live", "300.00", "250.00", "50.00", "1,000.00"]:
        assert cell in html, cell
    for header in ["funded", "available", "reserved", "paid out", "live claims", "promotion window"]:
        assert header in html.lower(), header


def test_the_list_filters_by_kind_and_status(live_campaign, operator_client):
    live = live_campaign(name="Live cover")
    draft = live_campaign(name="Draft cover", kind="liquidation", publish=False)
    by_status = operator_client.get(f"{CAMPAIGNS}?status__exact=draft").context["cl"].result_list
    assert [c.pk for c in by_status] == [draft.pk]
    by_kind = operator_client.get(f"{CAMPAIGNS}?kind__exact=first_loss").context["cl"].result_list
    assert [c.pk for c in by_kind] == [live.pk]


def test_the_list_reads_the_liabilities_in_the_same_queries_for_1_or_10_campaigns(live_campaign, operator_client):
    """R-VC-09: the liability columns are read for the whole page at once, never per row."""

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert operator_client.get(CAMPAIGNS).status_code == 200
        return len(captured)

    claim(live_campaign(name="Campaign 0"))
    operator_client.get(CAMPAIGNS)  # warm the session
    one = queries()
    for n in range(1, 10):
        claim(live_campaign(name=f"Campaign {n}"))
    ten = queries()
    assert Campaign.objects.count() == 10
    assert ten == one


# --- the add and change forms ------------------------------------------------------------


def test_a_campaign_operator_creates_a_campaign_through_the_add_form(campaign_operator, operator_client):
    """R-OP-01: the add form goes through campaign_create, which records the operator and the reason."""
    response = operator_client.post(ADD, add_form())
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    campaign = Campaign.objects.get()
    assert (campaign.name, campaign.status, campaign.face_value, campaign.budget) == (
        "Spring cover",
        CampaignStatus.DRAFT,
        D("50"),
        D("1000"),
    )
    assert campaign.created_by == campaign_operator
    change = CampaignChange.objects.get(campaign=campaign)
    assert (change.action, change.actor, change.reason) == (
        "created",
        campaign_operator,
        "spring promotion, ticket MKT-12",
    )
    assert change.changes["face_value"] == "50.00000000"


@pytest.mark.parametrize("reason", ["", "   "])
def test_the_add_form_needs_a_reason_and_creates_nothing_without_one(operator_client, reason):
    response = operator_client.post(ADD, add_form(reason=reason))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["reason"]
    assert not Campaign.objects.exists()
    assert not CampaignChange.objects.exists()


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"face_value": "500", "budget": "100"}, "budget", "must cover at least one voucher's face value"),
        ({"closing_threshold": "10"}, "closing_threshold", "only loss-coverage campaigns"),
        (
            {"promotion_ends_at": timezone.now() - timedelta(days=30)},
            "promotion_ends_at",
            "must be after the promotion starts",
        ),
    ],
)
def test_a_campaign_the_service_refuses_is_shown_on_the_form_and_nothing_is_created(
    operator_client, values, field, message
):
    """A refusal of campaign_create is an error on the field it names, never a 500."""
    response = operator_client.post(ADD, add_form(**values))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors[field]
    assert any(message in e for e in errors), errors
    assert escape(message) in response.content.decode()
    assert not Campaign.objects.exists()
    assert not CampaignChange.objects.exists()


def test_what_a_claimed_voucher_is_worth_is_read_only_on_a_live_campaign(live_campaign, operator_client):
    campaign = live_campaign()
    page = operator_client.get(change_page(campaign))
    assert page.status_code == 200
    editable = set(page.context["adminform"].form.fields)
    assert editable == {"name", "promotion_ends_at", "claim_deadline", "budget", "per_user_limit", "audience", "reason"}
    readonly = set(page.context["adminform"].readonly_fields)
    assert {"face_value", "kind", "validity_days", "promotion_starts_at"} <= readonly
    # The draft's page lets everything be edited.
    draft = live_campaign(publish=False)
    draft_fields = set(operator_client.get(change_page(draft)).context["adminform"].form.fields)
    assert {"face_value", "kind", "validity_days", "promotion_starts_at", "reason"} <= draft_fields


def test_a_campaign_operator_edits_a_live_campaign_with_a_reason(live_campaign, campaign_operator, operator_client):
    """R-OP-01: campaign_update records the change with who and why; a posted face value is ignored."""
    campaign = live_campaign()
    page = operator_client.get(change_page(campaign))
    data = resubmit(page, per_user_limit="2", face_value="80", reason="more reach")
    response = operator_client.post(change_page(campaign), data)
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    campaign.refresh_from_db()
    assert (campaign.per_user_limit, campaign.face_value) == (2, D("50"))
    change = campaign.changes.get(action="updated")
    assert (change.actor, change.reason, change.changes) == (campaign_operator, "more reach", {"per_user_limit": 2})


def test_an_edit_without_a_reason_changes_nothing(live_campaign, operator_client):
    campaign = live_campaign()
    page = operator_client.get(change_page(campaign))
    response = operator_client.post(change_page(campaign), resubmit(page, per_user_limit="3", reason=""))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["reason"]
    campaign.refresh_from_db()
    assert campaign.per_user_limit == 1
    assert not campaign.changes.filter(action="updated").exists()


def test_saving_a_campaign_unchanged_records_nothing(live_campaign, operator_client):
    campaign = live_campaign()
    page = operator_client.get(change_page(campaign))
    response = operator_client.post(change_page(campaign), resubmit(page, reason="just looking"), follow=True)
    assert response.status_code == 200
    assert "Nothing changed: nothing was recorded." in response.content.decode()
    assert not campaign.changes.filter(action="updated").exists()


def test_an_edit_the_service_refuses_is_shown_on_the_field_and_changes_nothing(live_campaign, operator_client):
    """R-VC-09: the budget cannot go below what Finance funded; the form says so, nothing is written."""
    campaign = live_campaign()  # budget 1000, all funded
    page = operator_client.get(change_page(campaign))
    data = resubmit(page, budget="500", name="Renamed cover", reason="cut")
    response = operator_client.post(change_page(campaign), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["budget"] == ["at least 1000.00000000"]
    assert response.context["liability_rows"]  # the desk is still shown around the form
    campaign.refresh_from_db()
    assert (campaign.budget, campaign.name) == (D("1000"), "Welcome cover")
    assert not campaign.changes.filter(action="updated").exists()


def test_an_ended_campaign_is_read_only(live_campaign, operator_client):
    campaign = live_campaign()
    operator_client.post(move_page(campaign, "end"), {"reason": "season over"})
    page = operator_client.get(change_page(campaign))
    assert page.status_code == 200
    assert not page.context["adminform"].form.fields
    assert page.context["moves"] == []
    response = operator_client.post(change_page(campaign), {"name": "Back again", "reason": "x"})
    assert response.status_code == 403
    campaign.refresh_from_db()
    assert (campaign.name, campaign.status) == ("Welcome cover", CampaignStatus.ENDED)


def test_nobody_deletes_a_campaign(live_campaign):
    campaign = live_campaign()
    superuser = User.objects.create_superuser(email="root@example.com", password="x")
    client = admin_client(superuser)
    assert client.get(f"{CAMPAIGNS}{campaign.pk}/delete/").status_code == 403
    assert Campaign.objects.filter(pk=campaign.pk).exists()


# --- publish, pause, end ---------------------------------------------------------------


def test_a_campaign_operator_publishes_pauses_and_ends_a_campaign_with_reasons(
    live_campaign, campaign_operator, operator_client
):
    """R-OP-01: each move goes through its service and is recorded with the operator and the reason."""
    campaign = live_campaign(publish=False)
    page = operator_client.get(change_page(campaign))
    assert [m["label"] for m in page.context["moves"]] == ["Publish", "End"]
    assert move_page(campaign, "publish") in page.content.decode()

    for move, reason, status in [
        ("publish", "launch day", CampaignStatus.LIVE),
        ("pause", "abuse under review", CampaignStatus.PAUSED),
        ("publish", "review done", CampaignStatus.LIVE),
        ("end", "season over", CampaignStatus.ENDED),
    ]:
        form = operator_client.get(move_page(campaign, move))
        assert form.status_code == 200
        assert "reason" in form.context["form"].fields
        response = operator_client.post(move_page(campaign, move), {"reason": reason})
        assert response.status_code == 302
        assert response["Location"] == change_page(campaign)
        campaign.refresh_from_db()
        assert campaign.status == status

    history = list(
        campaign.changes.exclude(action__in=["created", "funded"])
        .order_by("id")
        .values_list("action", "actor", "reason")
    )
    assert history == [
        ("published", campaign_operator.pk, "launch day"),
        ("paused", campaign_operator.pk, "abuse under review"),
        ("published", campaign_operator.pk, "review done"),
        ("ended", campaign_operator.pk, "season over"),
    ]


def test_a_move_needs_a_reason(live_campaign, operator_client):
    campaign = live_campaign()
    response = operator_client.post(move_page(campaign, "pause"), {"reason": " "})
    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.LIVE
    assert not campaign.changes.filter(action="paused").exists()


def test_a_move_the_campaign_cannot_make_is_shown_on_the_form(live_campaign, operator_client):
    campaign = live_campaign()
    operator_client.post(move_page(campaign, "end"), {"reason": "over"})
    response = operator_client.post(move_page(campaign, "publish"), {"reason": "again"})
    assert response.status_code == 200
    assert "cannot be published" in str(response.context["form"].non_field_errors())
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.ENDED


# --- funding: Finance only ----------------------------------------------------------------


def fund_key(client: Client, campaign: Campaign) -> str:
    page = client.get(fund_page(campaign))
    assert page.status_code == 200
    return page.context["form"]["key"].value()


def books(campaign: Campaign) -> tuple[D, D]:
    """(the campaign's available balance, the marketing account's balance)."""
    return campaign_accounts(campaign).available.balance, marketing_account().balance


def test_a_campaign_operator_cannot_fund(live_campaign, operator_client):
    """R-VC-09: Finance funds campaigns; their operators do not."""
    campaign = live_campaign(funded="0")
    assert operator_client.get(change_page(campaign)).context["fund_url"] is None
    assert "/fund/" not in operator_client.get(change_page(campaign)).content.decode()
    assert operator_client.get(fund_page(campaign)).status_code == 403
    response = operator_client.post(fund_page(campaign), {"amount": "300", "reason": "x", "key": "k1"})
    assert response.status_code == 403
    assert not CampaignFunding.objects.exists()


def test_finance_funds_300_through_the_fund_page(live_campaign, finance_operator, finance_client):
    """R-VC-09, R-OP-01: the money moves from marketing to the campaign, recorded with who and why."""
    campaign = live_campaign(funded="0")
    data = {"amount": "300", "reason": "Q2 marketing budget", "key": fund_key(finance_client, campaign)}
    response = finance_client.post(fund_page(campaign), data)
    assert response.status_code == 302
    assert response["Location"] == change_page(campaign)

    funding = CampaignFunding.objects.get(campaign=campaign)
    assert (funding.amount, funding.actor, funding.reason) == (D("300"), finance_operator, "Q2 marketing budget")
    assert (funding.entry.actor, funding.entry.reason) == (finance_operator, "Q2 marketing budget")
    assert books(campaign) == (D("300"), D("-300"))
    change = campaign.changes.get(action="funded")
    assert (change.actor, change.reason) == (finance_operator, "Q2 marketing budget")

    # The same form submitted again funds once.
    assert finance_client.post(fund_page(campaign), data).status_code == 302
    assert CampaignFunding.objects.filter(campaign=campaign).count() == 1
    assert books(campaign) == (D("300"), D("-300"))

    page = finance_client.get(change_page(campaign))
    rows = {row["label"]: row["value"] for row in page.context["liability_rows"]}
    assert (rows["Funded"], rows["Available"], rows["Books"]) == ("300.00", "300.00", "agree")


def test_funding_over_the_budget_is_a_form_error_and_moves_nothing(live_campaign, finance_client):
    campaign = live_campaign(funded="300")  # budget 1000
    before, entries = books(campaign), JournalEntry.objects.count()
    data = {"amount": "800", "reason": "top up", "key": fund_key(finance_client, campaign)}
    response = finance_client.post(fund_page(campaign), data)
    assert response.status_code == 200
    assert response.context["form"].errors["amount"] == ["at most 700.00000000"]
    assert "at most 700" in response.content.decode()
    assert books(campaign) == before
    assert JournalEntry.objects.count() == entries
    assert CampaignFunding.objects.filter(campaign=campaign).count() == 1


@pytest.mark.parametrize(
    ("amount", "message"),
    [("abc", "is not a number"), ("0", "greater than zero"), ("1.123456789", "8 decimal places"), ("", "required")],
)
def test_a_bad_amount_is_shown_on_the_fund_form(live_campaign, finance_client, amount, message):
    campaign = live_campaign(funded="0")
    data = {"amount": amount, "reason": "top up", "key": fund_key(finance_client, campaign)}
    response = finance_client.post(fund_page(campaign), data)
    assert response.status_code == 200
    assert any(message in e for e in response.context["form"].errors["amount"])
    assert not CampaignFunding.objects.exists()
    assert not LedgerAccount.objects.filter(ref__startswith=f"campaign:{campaign.pk}", balance__gt=0).exists()


def test_funding_needs_a_reason(live_campaign, finance_client):
    campaign = live_campaign(funded="0")
    data = {"amount": "100", "reason": "", "key": fund_key(finance_client, campaign)}
    response = finance_client.post(fund_page(campaign), data)
    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    assert not CampaignFunding.objects.exists()


def test_a_fund_form_reused_for_another_amount_is_refused(live_campaign, finance_client):
    campaign = live_campaign(funded="0")
    data = {"amount": "100", "reason": "top up", "key": fund_key(finance_client, campaign)}
    assert finance_client.post(fund_page(campaign), data).status_code == 302
    response = finance_client.post(fund_page(campaign), {**data, "amount": "200"})
    assert response.status_code == 200
    assert "already used" in str(response.context["form"].non_field_errors())
    assert books(campaign)[0] == D("100")


# --- the change page: liability, last days, history ------------------------------------


def test_the_change_page_shows_the_liability_the_last_days_and_the_history(
    live_campaign, campaign_operator, operator_client
):
    """R-VC-09: budget, funded, available, reserved by live claims, paid out, and claims per day;
    R-OP-01: the history of who changed what and why."""
    campaign = live_campaign(funded="300")
    claim(campaign)
    page = operator_client.get(change_page(campaign))
    assert page.status_code == 200

    rows = {row["label"]: row for row in page.context["liability_rows"]}
    assert {k: rows[k]["value"] for k in ["Budget", "Funded", "Available", "Reserved", "Paid out", "Books"]} == {
        "Budget": "1,000.00",
        "Funded": "300.00",
        "Available": "250.00",
        "Reserved": "50.00",
        "Paid out": "0.00",
        "Books": "agree",
    }
    assert "1 live claim(s)" in rows["Reserved"]["note"]

    daily = page.context["daily"]
    assert len(daily) == 30
    assert daily[0]["claims"] == 1
    assert daily[0]["claimed_value"] == "50.00"
    assert sum(row["claims"] for row in daily) == 1
    assert all(row["payouts"] == 0 and row["paid_out"] == "0.00" for row in daily)

    html = page.content.decode()
    assert 'id="campaign-liability"' in html
    assert 'id="campaign-daily"' in html
    assert "Liability now (R-VC-09)" in html
    # The history and the fundings, read-only.
    inlines = {inline.formset.prefix: inline for inline in page.context["inline_admin_formsets"]}
    assert set(inlines) == {"changes", "fundings"}
    assert [f.instance.action for f in inlines["changes"].formset.forms] == ["published", "funded", "created"]
    assert "launch" in html
    assert "Q4 budget" in html


def test_the_per_day_report_groups_by_platform_day_in_one_query_per_series(live_campaign):
    """R-VC-09: claims by claim time and triggers by their time, per platform day (UTC+8), newest first."""
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # 20:00 in UTC+8: platform day 2026-03-10
    campaign = live_campaign(
        promotion_starts_at=now - timedelta(days=40),
        promotion_ends_at=now + timedelta(days=10),
        claim_deadline=now + timedelta(days=10),
        per_user_limit=5,
    )
    claim(campaign, now=now)
    claim(campaign, now=datetime(2026, 3, 8, 17, 30, tzinfo=UTC))  # 01:30 on 2026-03-09 in UTC+8
    claim(campaign, now=datetime(2026, 3, 8, 15, 30, tzinfo=UTC))  # 23:30 on 2026-03-08 in UTC+8
    triggered = claim(campaign, now=datetime(2026, 3, 8, 15, 45, tzinfo=UTC))
    claim(campaign, now=now - timedelta(days=35))  # before the window
    # A trigger as the trigger service leaves it (state, time, reimbursement); the report only reads it.
    Voucher.objects.filter(pk=triggered.pk).update(
        state=VoucherState.TRIGGERED, ended_at=datetime(2026, 3, 9, 2, 0, tzinfo=UTC), reimbursement=D("30")
    )

    with CaptureQueriesContext(connection) as captured:
        rows = campaign_daily(campaign=campaign, now=now)
    assert len(captured) == 3  # one grouped query per series: claims, triggers, payouts

    assert len(rows) == 30
    assert rows[0]["day"] == date(2026, 3, 10)
    assert rows[-1]["day"] == date(2026, 2, 9)
    by_day = {row["day"]: row for row in rows}
    assert (by_day[date(2026, 3, 10)]["claims"], by_day[date(2026, 3, 10)]["claimed_value"]) == (1, D("50"))
    assert (by_day[date(2026, 3, 9)]["claims"], by_day[date(2026, 3, 9)]["claimed_value"]) == (1, D("50"))
    assert (by_day[date(2026, 3, 8)]["claims"], by_day[date(2026, 3, 8)]["claimed_value"]) == (2, D("100"))
    assert (by_day[date(2026, 3, 9)]["triggers"], by_day[date(2026, 3, 9)]["triggered_value"]) == (1, D("30"))
    assert sum(row["claims"] for row in rows) == 4
    assert sum(row["triggers"] for row in rows) == 1
    assert all((row["payouts"], row["paid_out"]) == (0, D("0")) for row in rows)
    assert len(campaign_daily(campaign=campaign, days=7, now=now)) == 7


@pytest.mark.parametrize("days", [0, -1, 367, 1.5, True])
def test_the_per_day_report_refuses_a_bad_number_of_days(live_campaign, days):
    with pytest.raises(ValueError, match="days"):
        campaign_daily(campaign=live_campaign(), days=days)


# --- records: read-only for everybody --------------------------------------------------------


def test_vouchers_are_listed_filtered_and_searched(live_campaign, operator_client):
    campaign = live_campaign()
    alice = UserFactory(email="alice@example.com")
    voucher = claim(campaign, user=alice)
    claim(campaign)
    response = operator_client.get(f"{VOUCHERS}?q=alice@example")
    assert response.status_code == 200
    assert [v.pk for v in response.context["cl"].result_list] == [voucher.pk]
    html = response.content.decode()
    for cell in ["alice@example.com", "Welcome cover", "First-loss coverage", "Claimed"]:
        assert cell in html, cell
    assert operator_client.get(f"{VOUCHERS}?state__exact=claimed&kind__exact=first_loss").status_code == 200
    assert len(operator_client.get(f"{VOUCHERS}?state__exact=expired").context["cl"].result_list) == 0


@pytest.mark.parametrize("who", ["operator", "superuser"])
def test_nobody_adds_changes_or_deletes_vouchers_or_campaign_changes(live_campaign, campaign_operator, who):
    """R-OP-01: the history and the vouchers are records, not settings."""
    campaign = live_campaign()
    voucher = claim(campaign)
    change = campaign.changes.first()
    user = (
        campaign_operator if who == "operator" else User.objects.create_superuser(email="r@example.com", password="x")
    )
    client = admin_client(user)
    for base, obj in [(VOUCHERS, voucher), (CHANGES, change)]:
        assert client.get(base).status_code == 200
        assert client.get(f"{base}{obj.pk}/change/").status_code == 200  # view only
        assert client.get(f"{base}add/").status_code == 403
        assert client.post(f"{base}{obj.pk}/change/", {"reason": "edited"}).status_code == 403
        assert client.post(f"{base}{obj.pk}/delete/", {"post": "yes"}).status_code == 403
    change.refresh_from_db()
    voucher.refresh_from_db()
    assert (change.action, change.reason) == ("published", "go")
    assert voucher.state == VoucherState.CLAIMED
