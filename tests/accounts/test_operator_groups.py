"""Operator groups: each job can do what it needs and nothing else, in the admin and the API.

R-OP-01: operators work in the Django admin; every money action they take (a
deposit, a withdrawal decision) records who and why. R-OP-02: ledger rows are
never edited by hand, not even by a superuser.
"""

import re
import uuid
from decimal import Decimal

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import HoldStatus, JournalEntry, LedgerAccount, User, Withdrawal, WithdrawalStatus
from accounts.selectors import ledger_audit
from accounts.services.flows import withdrawal_reject, withdrawal_request
from tests.factories import OperatorFactory, spot

pytestmark = pytest.mark.django_db

DEPOSIT_PAGE = "/admin/accounts/ledgeraccount/deposit/"
WITHDRAWAL_CHANGELIST = "/admin/accounts/withdrawal/"
FINANCE, RISK, CAMPAIGN = "Finance", "Risk operators", "Campaign operators"


def admin_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_client(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def operator(group: str) -> User:
    return OperatorFactory(groups=[group])


@pytest.fixture
def withdrawal(user, fund) -> Withdrawal:
    """A pending withdrawal of 30 out of the user's 100 USDT."""
    fund(user, "100")
    return withdrawal_request(user=user, amount=Decimal("30"), address="TXaddr", idempotency_key=uuid.uuid4().hex)


def status_of(withdrawal: Withdrawal) -> str:
    withdrawal.refresh_from_db()
    return withdrawal.status


def admin_decide(client: Client, action: str, withdrawal: Withdrawal, reason: str):
    """Run the admin action the way a browser does: pick it, then confirm with a reason."""
    chosen = client.post(WITHDRAWAL_CHANGELIST, {"action": action, "_selected_action": [withdrawal.pk]})
    if chosen.status_code != 200 or "apply" not in chosen.content.decode():
        return chosen
    return client.post(
        WITHDRAWAL_CHANGELIST,
        {"action": action, "_selected_action": [withdrawal.pk], "apply": "1", "reason": reason},
        follow=True,
    )


def deposit_token(client: Client) -> str:
    page = client.get(DEPOSIT_PAGE)
    assert page.status_code == 200
    match = re.search(r'name="token" value="([^"]+)"', page.content.decode())
    assert match, "the deposit form carries a one-time token"
    return match.group(1)


def action_choices(client: Client) -> set[str]:
    response = client.get(WITHDRAWAL_CHANGELIST)
    assert response.status_code == 200
    form = response.context["action_form"]
    return set() if form is None else {name for name, _label in form.fields["action"].choices if name}


# --- what each group may open ----------------------------------------------

# Each admin page and the status each group gets on it: 200 = allowed, 403 = refused.
ADMIN_PAGES = {
    "/admin/accounts/user/": {FINANCE: 200, RISK: 200, CAMPAIGN: 200},
    "/admin/accounts/user/add/": {FINANCE: 403, RISK: 403, CAMPAIGN: 403},
    "/admin/auth/group/": {FINANCE: 403, RISK: 403, CAMPAIGN: 403},
    "/admin/accounts/ledgeraccount/": {FINANCE: 200, RISK: 200, CAMPAIGN: 403},
    "/admin/accounts/journalentry/": {FINANCE: 200, RISK: 403, CAMPAIGN: 403},
    "/admin/accounts/hold/": {FINANCE: 200, RISK: 403, CAMPAIGN: 403},
    "/admin/accounts/ledgerauditrun/": {FINANCE: 200, RISK: 403, CAMPAIGN: 403},
    WITHDRAWAL_CHANGELIST: {FINANCE: 200, RISK: 403, CAMPAIGN: 403},
    DEPOSIT_PAGE: {FINANCE: 200, RISK: 403, CAMPAIGN: 403},
    "/admin/django_celery_beat/periodictask/": {FINANCE: 403, RISK: 200, CAMPAIGN: 403},
    "/admin/django_celery_beat/periodictask/add/": {FINANCE: 403, RISK: 403, CAMPAIGN: 403},
}


@pytest.mark.parametrize("group", [FINANCE, RISK, CAMPAIGN])
@pytest.mark.parametrize("page", list(ADMIN_PAGES))
def test_each_group_opens_only_the_admin_pages_its_job_needs(group, page):
    response = admin_client(operator(group)).get(page)
    assert response.status_code == ADMIN_PAGES[page][group]


def test_an_operator_in_no_group_sees_nothing_in_the_admin():
    client = admin_client(OperatorFactory())
    assert client.get("/admin/").status_code == 200
    for page in ADMIN_PAGES:
        assert client.get(page).status_code == 403, page


def test_a_user_who_is_not_staff_is_sent_to_the_admin_login(user):
    response = admin_client(user).get(DEPOSIT_PAGE)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


# --- withdrawals: only Finance decides --------------------------------------


@pytest.mark.parametrize("group", [CAMPAIGN, RISK])
@pytest.mark.parametrize("action", ["approve", "reject"])
def test_other_groups_cannot_decide_a_withdrawal_in_the_admin_or_the_api(user, withdrawal, group, action):
    """R-OP-01: reviewing payouts is Finance's job."""
    staff = operator(group)
    response = admin_decide(admin_client(staff), action, withdrawal, "not my job")
    assert response.status_code == 403
    response = api_client(staff).post(
        f"/api/v1/ops/withdrawals/{withdrawal.pk}/{action}",
        {"reason": "not my job"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=f"{group}-{action}",
    )
    assert response.status_code == 403
    assert response.data["code"] == "permission_denied"
    assert status_of(withdrawal) == WithdrawalStatus.PENDING
    assert spot(user).held == Decimal("30")


def test_an_operator_who_may_view_withdrawals_but_not_review_them_is_not_offered_the_actions(user, withdrawal):
    viewer = OperatorFactory()
    viewer.user_permissions.add(*_perms("view_withdrawal"))
    client = admin_client(viewer)
    assert action_choices(client) == set()
    # Posting the action anyway changes nothing.
    client.post(
        WITHDRAWAL_CHANGELIST,
        {"action": "approve", "_selected_action": [withdrawal.pk], "apply": "1", "reason": "sneaky"},
    )
    assert status_of(withdrawal) == WithdrawalStatus.PENDING
    assert spot(user).balance == Decimal("100")


def test_finance_is_offered_approve_and_reject_but_never_delete(finance_operator):
    assert action_choices(admin_client(finance_operator)) == {"approve", "reject"}


def test_finance_approves_a_withdrawal_through_the_admin_action(user, withdrawal, finance_operator):
    """R-OP-01: the approval in the admin records the operator and the reason."""
    client = admin_client(finance_operator)
    chosen = client.post(WITHDRAWAL_CHANGELIST, {"action": "approve", "_selected_action": [withdrawal.pk]})
    assert chosen.status_code == 200
    assert "Withdrawals to be approved" in chosen.content.decode()
    assert status_of(withdrawal) == WithdrawalStatus.PENDING  # nothing happens before the confirmation

    done = admin_decide(client, "approve", withdrawal, "kyc checked, ticket 77")
    assert done.status_code == 200
    assert "1 withdrawal(s) approved." in done.content.decode()
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.APPROVED
    assert (withdrawal.decided_by, withdrawal.decision_reason) == (finance_operator, "kyc checked, ticket 77")
    assert (withdrawal.entry.actor, withdrawal.entry.reason) == (finance_operator, "kyc checked, ticket 77")
    account = spot(user)
    assert (account.balance, account.held) == (Decimal("70"), Decimal("0"))
    assert ledger_audit().ok


def test_finance_rejects_a_withdrawal_through_the_admin_action(user, withdrawal, finance_operator):
    done = admin_decide(admin_client(finance_operator), "reject", withdrawal, "address flagged")
    assert done.status_code == 200
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.REJECTED
    assert (withdrawal.decided_by, withdrawal.decision_reason) == (finance_operator, "address flagged")
    assert withdrawal.hold.status == HoldStatus.RELEASED
    assert spot(user).available == Decimal("100")
    assert ledger_audit().ok


def test_the_admin_action_needs_a_reason(user, withdrawal, finance_operator):
    client = admin_client(finance_operator)
    response = client.post(
        WITHDRAWAL_CHANGELIST,
        {"action": "approve", "_selected_action": [withdrawal.pk], "apply": "1", "reason": ""},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    assert status_of(withdrawal) == WithdrawalStatus.PENDING
    assert spot(user).held == Decimal("30")


def test_approving_a_rejected_withdrawal_in_the_admin_reports_it_and_changes_nothing(
    user, withdrawal, finance_operator
):
    withdrawal_reject(withdrawal_id=withdrawal.pk, operator=finance_operator, reason="no")
    done = admin_decide(admin_client(finance_operator), "approve", withdrawal, "oops")
    assert done.status_code == 200
    assert f"Withdrawal #{withdrawal.pk}:" in done.content.decode()
    assert "already rejected" in done.content.decode()
    assert status_of(withdrawal) == WithdrawalStatus.REJECTED
    assert spot(user).balance == Decimal("100")


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_finance_decides_withdrawals_through_the_api(user, withdrawal, finance_operator, action):
    response = api_client(finance_operator).post(
        f"/api/v1/ops/withdrawals/{withdrawal.pk}/{action}",
        {"reason": "reviewed"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=f"review-{action}",
    )
    assert response.status_code == 200, response.data
    withdrawal.refresh_from_db()
    assert withdrawal.status == {"approve": WithdrawalStatus.APPROVED, "reject": WithdrawalStatus.REJECTED}[action]
    assert withdrawal.decided_by == finance_operator
    assert spot(user).balance == {"approve": Decimal("70"), "reject": Decimal("100")}[action]
    assert spot(user).held == 0
    assert ledger_audit().ok


# --- deposits: only Finance credits -----------------------------------------


@pytest.mark.parametrize("group", [CAMPAIGN, RISK])
def test_other_groups_cannot_credit_a_deposit_in_the_admin_or_the_api(user, group):
    staff = operator(group)
    client = admin_client(staff)
    assert client.get(DEPOSIT_PAGE).status_code == 403
    body = {"email": user.email, "amount": "1000", "reason": "free money", "token": uuid.uuid4().hex}
    assert client.post(DEPOSIT_PAGE, body).status_code == 403
    response = api_client(staff).post(
        "/api/v1/ops/deposits",
        {"user_id": user.pk, "amount": "1000", "reason": "free money"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )
    assert response.status_code == 403
    assert spot(user).balance == 0
    assert not JournalEntry.objects.exists()


def test_finance_credits_a_deposit_through_the_admin_form(user, finance_operator):
    """R-OP-01, R-OP-02: the deposit is a balanced entry naming the operator and the reason."""
    client = admin_client(finance_operator)
    body = {"email": user.email.upper(), "amount": "125.5", "reason": "wire 2024-001", "token": deposit_token(client)}
    response = client.post(DEPOSIT_PAGE, body)
    assert response.status_code == 302
    assert response["Location"] == "/admin/accounts/ledgeraccount/"
    assert spot(user).balance == Decimal("125.5")
    entry = JournalEntry.objects.get(kind="deposit")
    assert (entry.actor, entry.reason) == (finance_operator, "wire 2024-001")
    assert ledger_audit().ok


def test_finance_credits_a_deposit_through_the_api(user, finance_operator):
    response = api_client(finance_operator).post(
        "/api/v1/ops/deposits",
        {"user_id": user.pk, "amount": "40", "reason": "wire 2024-002"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )
    assert response.status_code == 201, response.data
    assert spot(user).balance == Decimal("40")
    entry = JournalEntry.objects.get(pk=response.data["id"])
    assert (entry.actor, entry.reason) == (finance_operator, "wire 2024-002")


def test_a_double_submitted_deposit_form_credits_once(user, finance_operator):
    client = admin_client(finance_operator)
    body = {"email": user.email, "amount": "50", "reason": "wire 9", "token": deposit_token(client)}
    assert client.post(DEPOSIT_PAGE, body).status_code == 302
    assert client.post(DEPOSIT_PAGE, body).status_code == 302
    assert spot(user).balance == Decimal("50")
    assert JournalEntry.objects.filter(kind="deposit").count() == 1
    # A fresh form (new token) is a new deposit.
    assert client.post(DEPOSIT_PAGE, {**body, "token": deposit_token(client)}).status_code == 302
    assert spot(user).balance == Decimal("100")


def test_reusing_a_deposit_token_for_a_different_amount_is_shown_as_an_error(user, finance_operator):
    client = admin_client(finance_operator)
    body = {"email": user.email, "amount": "50", "reason": "wire 9", "token": deposit_token(client)}
    assert client.post(DEPOSIT_PAGE, body).status_code == 302
    response = client.post(DEPOSIT_PAGE, {**body, "amount": "60"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert spot(user).balance == Decimal("50")


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("abc", "is not a number"),
        ("1.123456789", "more than 8 decimal places"),
        ("-5", "greater than zero"),
        ("0", "greater than zero"),
        ("NaN", "finite"),
        ("1e40", "exceeds"),
        ("", "required"),
    ],
)
def test_a_bad_amount_in_the_deposit_form_is_shown_and_changes_nothing(user, finance_operator, amount, message):
    client = admin_client(finance_operator)
    body = {"email": user.email, "amount": amount, "reason": "wire", "token": deposit_token(client)}
    entries, balances = JournalEntry.objects.count(), list(LedgerAccount.objects.values_list("pk", "balance"))
    response = client.post(DEPOSIT_PAGE, body)
    assert response.status_code == 200
    errors = response.context["form"].errors["amount"]
    assert any(message in e for e in errors), errors
    assert message in response.content.decode()
    assert JournalEntry.objects.count() == entries
    assert list(LedgerAccount.objects.values_list("pk", "balance")) == balances


@pytest.mark.parametrize(
    ("field", "body"),
    [
        ("email", {"email": "nobody@example.com"}),
        ("reason", {"reason": ""}),
    ],
)
def test_the_deposit_form_needs_a_known_user_and_a_reason(user, finance_operator, field, body):
    client = admin_client(finance_operator)
    full = {"email": user.email, "amount": "10", "reason": "wire", "token": deposit_token(client), **body}
    response = client.post(DEPOSIT_PAGE, full)
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert not JournalEntry.objects.exists()


# --- the ledger is read-only, even for a superuser --------------------------


def _perms(*codenames: str):
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(content_type__app_label="accounts", codename__in=codenames)


@pytest.fixture
def superuser_client(db) -> Client:
    return admin_client(User.objects.create_superuser(email=f"root-{uuid.uuid4().hex[:6]}@example.com", password="x"))


@pytest.mark.parametrize("model", ["journalentry", "ledgeraccount", "hold", "withdrawal", "ledgerauditrun"])
def test_no_one_adds_ledger_rows_in_the_admin_not_even_a_superuser(superuser_client, model):
    """R-OP-02: balances are never edited directly."""
    assert superuser_client.get(f"/admin/accounts/{model}/").status_code == 200
    assert superuser_client.get(f"/admin/accounts/{model}/add/").status_code == 403
    assert superuser_client.post(f"/admin/accounts/{model}/add/", {}).status_code == 403


def test_journal_entries_and_accounts_cannot_be_changed_or_deleted_in_the_admin(superuser_client, user, fund):
    """R-OP-02: a superuser can look at the ledger but not touch it."""
    fund(user, "100")
    entry = JournalEntry.objects.get(kind="deposit")
    account = spot(user)
    for obj_url in (f"/admin/accounts/journalentry/{entry.pk}", f"/admin/accounts/ledgeraccount/{account.pk}"):
        assert superuser_client.get(f"{obj_url}/change/").status_code == 200  # read-only view
        assert superuser_client.post(f"{obj_url}/change/", {"reason": "edited", "balance": "1"}).status_code == 403
        assert superuser_client.get(f"{obj_url}/delete/").status_code == 403
        assert superuser_client.post(f"{obj_url}/delete/", {"post": "yes"}).status_code == 403
    for changelist, pk in (("journalentry", entry.pk), ("ledgeraccount", account.pk)):
        response = superuser_client.post(
            f"/admin/accounts/{changelist}/", {"action": "delete_selected", "_selected_action": [pk], "post": "yes"}
        )
        assert response.status_code in (200, 302)
    entry.refresh_from_db()
    assert entry.reason == "test funding"
    assert spot(user).balance == Decimal("100")
    assert JournalEntry.objects.filter(pk=entry.pk).exists()
    assert ledger_audit().ok
