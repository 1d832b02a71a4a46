"""Money through the API: accounts, transfers, withdrawals, idempotency keys and the
operators' deposit and withdrawal review. (R-OP-01, R-OP-02)"""

import uuid
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.models import Hold, HoldStatus, IdempotencyRecord, JournalEntry, Withdrawal, WithdrawalStatus
from accounts.selectors import ledger_audit
from tests.factories import OperatorFactory, futures, spot

pytestmark = pytest.mark.django_db

ACCOUNTS = "/api/v1/accounts"
TRANSFERS = "/api/v1/transfers"
WITHDRAWALS = "/api/v1/withdrawals"
DEPOSITS = "/api/v1/ops/deposits"
ERROR_KEYS = {"code", "detail", "fields"}
BAD_AMOUNTS = ["-5", "0", "abc", "NaN", "Infinity", "1e40", "0.000000001", 1.5, True, None, ""]


def approve_url(withdrawal_id: int) -> str:
    return f"/api/v1/ops/withdrawals/{withdrawal_id}/approve"


def reject_url(withdrawal_id: int) -> str:
    return f"/api/v1/ops/withdrawals/{withdrawal_id}/reject"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def key() -> str:
    return uuid.uuid4().hex


def post(client: APIClient, path: str, body: dict, idempotency_key: str | None = None):
    headers = {} if idempotency_key is None else {"HTTP_IDEMPOTENCY_KEY": idempotency_key}
    return client.post(path, body, format="json", **headers)


def ledger_counts() -> tuple[int, int]:
    return JournalEntry.objects.count(), Hold.objects.count()


def spot_to_futures(amount) -> dict:
    return {"source": "spot", "destination": "futures", "amount": amount}


@pytest.fixture
def requested_withdrawal(user, fund, auth_client) -> Withdrawal:
    """The user has 100 USDT on spot and asks to withdraw 30."""
    fund(user, "100")
    response = post(auth_client, WITHDRAWALS, {"amount": "30", "address": "TXaddr1"}, key())
    assert response.status_code == 201, response.data
    return Withdrawal.objects.get(pk=response.data["id"])


@pytest.fixture
def finance_client(finance_operator) -> APIClient:
    return client_for(finance_operator)


# --- accounts ---------------------------------------------------------------


def test_accounts_lists_only_the_callers_accounts_with_decimal_strings(user, other_user, fund, auth_client):
    fund(user, "100.5")
    fund(other_user, "7")
    response = auth_client.get(ACCOUNTS)
    assert response.status_code == 200
    assert {row["id"] for row in response.data} == {spot(user).pk, futures(user).pk}
    by_kind = {row["kind"]: row for row in response.data}
    assert by_kind["spot"]["balance"] == "100.50000000"
    assert by_kind["spot"]["held"] == "0.00000000"
    assert by_kind["spot"]["available"] == "100.50000000"
    assert by_kind["futures"]["balance"] == "0.00000000"
    assert all(row["currency"] == "USDT" for row in response.data)
    for row in response.data:
        for field in ("balance", "held", "available"):
            assert isinstance(row[field], str)


# --- transfers --------------------------------------------------------------


def test_a_transfer_moves_money_from_spot_to_futures(user, fund, auth_client):
    """R-OP-02: the transfer is one balanced journal entry; cached balances follow it."""
    fund(user, "100")
    response = post(auth_client, TRANSFERS, spot_to_futures("40.25"), key())
    assert response.status_code == 201, response.data
    assert response.data["kind"] == "transfer"
    assert spot(user).balance == Decimal("59.75")
    assert futures(user).balance == Decimal("40.25")
    entry = JournalEntry.objects.get(pk=response.data["id"])
    assert entry.actor == user
    assert sorted(p.amount for p in entry.postings.all()) == [Decimal("-40.25"), Decimal("40.25")]
    assert ledger_audit().ok


def test_a_json_integer_amount_is_accepted(user, fund, auth_client):
    fund(user, "100")
    response = post(auth_client, TRANSFERS, spot_to_futures(10), key())
    assert response.status_code == 201, response.data
    assert futures(user).balance == Decimal("10")


def test_a_transfer_back_from_futures_to_spot(user, fund, auth_client):
    fund(user, "100")
    post(auth_client, TRANSFERS, spot_to_futures("40"), key())
    response = post(auth_client, TRANSFERS, {"source": "futures", "destination": "spot", "amount": "15"}, key())
    assert response.status_code == 201, response.data
    assert (spot(user).balance, futures(user).balance) == (Decimal("75"), Decimal("25"))


def test_a_transfer_without_an_idempotency_key_is_refused(user, fund, auth_client):
    fund(user, "100")
    before = ledger_counts()
    response = post(auth_client, TRANSFERS, spot_to_futures("10"))
    assert response.status_code == 400
    assert set(response.data) == ERROR_KEYS
    assert "Idempotency-Key" in response.data["fields"]
    assert ledger_counts() == before
    assert spot(user).balance == Decimal("100")


def test_a_blank_or_overlong_idempotency_key_is_refused(user, fund, auth_client):
    fund(user, "100")
    for bad in ["   ", "k" * 201]:
        response = post(auth_client, TRANSFERS, spot_to_futures("10"), bad)
        assert response.status_code == 400
        assert "Idempotency-Key" in response.data["fields"]
    assert spot(user).balance == Decimal("100")


@pytest.mark.parametrize(
    "body",
    [
        {"source": "spot", "destination": "spot", "amount": "1"},
        {"source": "spot", "destination": "follow", "amount": "1"},
        {"source": "external_custody", "destination": "spot", "amount": "1"},
    ],
    ids=["same-account", "not-transferable", "platform-account"],
)
def test_a_transfer_between_the_wrong_accounts_is_refused(user, fund, auth_client, body):
    fund(user, "100")
    before = ledger_counts()
    response = post(auth_client, TRANSFERS, body, key())
    assert response.status_code == 400
    assert set(response.data["fields"]) & {"source", "destination"}
    assert ledger_counts() == before


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_a_bad_transfer_amount_is_refused_and_nothing_moves(user, fund, auth_client, amount):
    fund(user, "100")
    before = ledger_counts()
    response = post(auth_client, TRANSFERS, spot_to_futures(amount), key())
    assert response.status_code == 400, response.data
    assert set(response.data) == ERROR_KEYS
    assert "amount" in response.data["fields"]
    assert ledger_counts() == before
    assert (spot(user).balance, futures(user).balance) == (Decimal("100"), Decimal("0"))


def test_a_refused_body_does_not_use_up_the_idempotency_key(user, fund, auth_client):
    fund(user, "100")
    k = key()
    assert post(auth_client, TRANSFERS, spot_to_futures("abc"), k).status_code == 400
    response = post(auth_client, TRANSFERS, spot_to_futures("10"), k)
    assert response.status_code == 201, response.data
    assert futures(user).balance == Decimal("10")


def test_replaying_a_transfer_returns_the_first_response_and_moves_money_once(user, fund, auth_client):
    fund(user, "100")
    k = key()
    first = post(auth_client, TRANSFERS, spot_to_futures("10"), k)
    assert first.status_code == 201
    assert "Idempotent-Replay" not in first
    entries = JournalEntry.objects.count()

    replay = post(auth_client, TRANSFERS, spot_to_futures("10"), k)
    assert replay.status_code == first.status_code
    assert replay.json() == first.json()
    assert replay["Idempotent-Replay"] == "true"
    assert JournalEntry.objects.count() == entries
    assert JournalEntry.objects.filter(kind="transfer").count() == 1
    assert spot(user).balance == Decimal("90")
    assert futures(user).balance == Decimal("10")


def test_the_same_key_with_a_different_body_is_a_conflict(user, fund, auth_client):
    fund(user, "100")
    k = key()
    assert post(auth_client, TRANSFERS, spot_to_futures("10"), k).status_code == 201
    response = post(auth_client, TRANSFERS, spot_to_futures("11"), k)
    assert response.status_code == 409
    assert set(response.data) == ERROR_KEYS
    assert response.data["code"] == "idempotency_conflict"
    assert "Idempotency-Key" in response.data["fields"]
    assert spot(user).balance == Decimal("90")


def test_idempotency_keys_belong_to_one_user(user, other_user, fund, auth_client):
    fund(user, "100")
    fund(other_user, "100")
    k = key()
    assert post(auth_client, TRANSFERS, spot_to_futures("10"), k).status_code == 201
    other = post(client_for(other_user), TRANSFERS, spot_to_futures("10"), k)
    assert other.status_code == 201
    assert "Idempotent-Replay" not in other
    assert futures(user).balance == Decimal("10")
    assert futures(other_user).balance == Decimal("10")


def test_insufficient_funds_is_422_and_a_replay_returns_the_same_422(user, fund, auth_client):
    fund(user, "5")
    k = key()
    before = ledger_counts()
    first = post(auth_client, TRANSFERS, spot_to_futures("10"), k)
    assert first.status_code == 422
    assert set(first.data) == ERROR_KEYS
    assert first.data["code"] == "insufficient_funds"

    replay = post(auth_client, TRANSFERS, spot_to_futures("10"), k)
    assert replay.status_code == 422
    assert replay.json() == first.json()
    assert replay["Idempotent-Replay"] == "true"
    assert ledger_counts() == before
    assert (spot(user).balance, futures(user).balance) == (Decimal("5"), Decimal("0"))
    assert ledger_audit().ok


def test_a_refused_key_stays_refused_after_the_money_arrives(user, fund, auth_client):
    """The outcome of a key is final: the client must use a new key to try again."""
    fund(user, "5")
    k = key()
    assert post(auth_client, TRANSFERS, spot_to_futures("10"), k).status_code == 422
    fund(user, "100")
    assert post(auth_client, TRANSFERS, spot_to_futures("10"), k).status_code == 422
    assert futures(user).balance == 0
    assert post(auth_client, TRANSFERS, spot_to_futures("10"), key()).status_code == 201
    assert futures(user).balance == Decimal("10")


# --- withdrawals ------------------------------------------------------------


def test_a_withdrawal_request_holds_the_money(user, requested_withdrawal, auth_client):
    account = spot(user)
    assert (account.balance, account.held, account.available) == (Decimal("100"), Decimal("30"), Decimal("70"))
    assert requested_withdrawal.status == WithdrawalStatus.PENDING
    assert requested_withdrawal.hold.status == HoldStatus.ACTIVE

    row = {r["kind"]: r for r in auth_client.get(ACCOUNTS).data}["spot"]
    assert (row["balance"], row["held"], row["available"]) == ("100.00000000", "30.00000000", "70.00000000")
    # Held money cannot be moved.
    response = post(auth_client, TRANSFERS, spot_to_futures("70.00000001"), key())
    assert response.status_code == 422
    assert response.data["code"] == "insufficient_funds"
    assert ledger_audit().ok


def test_a_withdrawal_request_without_an_idempotency_key_is_refused(user, fund, auth_client):
    fund(user, "100")
    response = post(auth_client, WITHDRAWALS, {"amount": "10", "address": "TXaddr"})
    assert response.status_code == 400
    assert "Idempotency-Key" in response.data["fields"]
    assert not Withdrawal.objects.exists()
    assert spot(user).held == 0


def test_a_withdrawal_needs_an_address(user, fund, auth_client):
    fund(user, "100")
    response = post(auth_client, WITHDRAWALS, {"amount": "10", "address": ""}, key())
    assert response.status_code == 400
    assert "address" in response.data["fields"]
    assert not Hold.objects.exists()


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_a_bad_withdrawal_amount_is_refused_and_nothing_is_held(user, fund, auth_client, amount):
    fund(user, "100")
    before = ledger_counts()
    response = post(auth_client, WITHDRAWALS, {"amount": amount, "address": "TXaddr"}, key())
    assert response.status_code == 400, response.data
    assert set(response.data) == ERROR_KEYS
    assert "amount" in response.data["fields"]
    assert ledger_counts() == before
    assert not Withdrawal.objects.exists()
    assert spot(user).held == 0


def test_withdrawing_more_than_available_is_422_and_replays_the_same(user, fund, auth_client):
    fund(user, "10")
    k = key()
    body = {"amount": "10.00000001", "address": "TXaddr"}
    first = post(auth_client, WITHDRAWALS, body, k)
    assert first.status_code == 422
    assert first.data["code"] == "insufficient_funds"
    replay = post(auth_client, WITHDRAWALS, body, k)
    assert (replay.status_code, replay.json()) == (422, first.json())
    assert replay["Idempotent-Replay"] == "true"
    assert not Withdrawal.objects.exists()
    assert spot(user).held == 0


def test_replaying_a_withdrawal_request_holds_once(user, fund, auth_client):
    fund(user, "100")
    k = key()
    body = {"amount": "30", "address": "TXaddr"}
    first = post(auth_client, WITHDRAWALS, body, k)
    replay = post(auth_client, WITHDRAWALS, body, k)
    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay["Idempotent-Replay"] == "true"
    assert Withdrawal.objects.count() == 1
    assert Hold.objects.count() == 1
    assert spot(user).held == Decimal("30")

    conflict = post(auth_client, WITHDRAWALS, {"amount": "31", "address": "TXaddr"}, k)
    assert conflict.status_code == 409
    assert conflict.data["code"] == "idempotency_conflict"
    assert spot(user).held == Decimal("30")


def test_the_withdrawal_list_shows_only_the_callers_own(user, other_user, fund, requested_withdrawal, auth_client):
    fund(other_user, "50")
    other_client = client_for(other_user)
    assert post(other_client, WITHDRAWALS, {"amount": "5", "address": "TXother"}, key()).status_code == 201

    response = auth_client.get(WITHDRAWALS)
    assert response.status_code == 200
    assert set(response.data) >= {"results", "next", "previous"}
    assert [row["id"] for row in response.data["results"]] == [requested_withdrawal.pk]
    row = response.data["results"][0]
    assert (row["amount"], row["status"], row["address"]) == ("30.00000000", "pending", "TXaddr1")

    theirs = other_client.get(WITHDRAWALS).data["results"]
    assert requested_withdrawal.pk not in [r["id"] for r in theirs]
    assert len(theirs) == 1


def test_the_withdrawal_list_is_cursor_paginated_newest_first(user, fund, auth_client):
    fund(user, "100")
    ids = [post(auth_client, WITHDRAWALS, {"amount": "1", "address": f"a{i}"}, key()).data["id"] for i in range(3)]
    page = auth_client.get(WITHDRAWALS, {"page_size": 2}).data
    assert [r["id"] for r in page["results"]] == ids[::-1][:2]
    assert page["previous"] is None
    assert "cursor=" in page["next"]
    rest = auth_client.get(page["next"]).data
    assert [r["id"] for r in rest["results"]] == ids[:1]
    assert rest["next"] is None


# --- operators: permissions -------------------------------------------------


@pytest.mark.parametrize(
    "path_for",
    [lambda w: approve_url(w.pk), lambda w: reject_url(w.pk), lambda w: DEPOSITS],
    ids=["approve", "reject", "deposit"],
)
def test_a_normal_user_cannot_use_the_operator_endpoints(user, other_user, requested_withdrawal, path_for):
    """R-OP-01: another user (not an operator) cannot decide A's withdrawal or credit money."""
    for intruder in (user, other_user):
        body = {"reason": "mine now", "user_id": intruder.pk, "amount": "1000"}
        response = post(client_for(intruder), path_for(requested_withdrawal), body, key())
        assert response.status_code == 403
        assert set(response.data) == ERROR_KEYS
        assert response.data["code"] == "permission_denied"
    requested_withdrawal.refresh_from_db()
    assert requested_withdrawal.status == WithdrawalStatus.PENDING
    assert spot(user).balance == Decimal("100")
    assert spot(other_user).balance == 0


def test_staff_without_the_finance_permissions_cannot_use_the_operator_endpoints(requested_withdrawal, user):
    staff = OperatorFactory()  # is_staff, but in no group
    client = client_for(staff)
    assert (
        post(
            client, approve_url(requested_withdrawal.pk), {"reason": "x"}, idempotency_key=uuid.uuid4().hex
        ).status_code
        == 403
    )
    assert post(client, DEPOSITS, {"user_id": user.pk, "amount": "1", "reason": "x"}, key()).status_code == 403
    requested_withdrawal.refresh_from_db()
    assert requested_withdrawal.status == WithdrawalStatus.PENDING


@pytest.mark.parametrize("url", [approve_url, reject_url])
def test_deciding_a_withdrawal_that_does_not_exist_is_404(finance_client, url):
    response = post(finance_client, url(999_999), {"reason": "r"}, key())
    assert response.status_code == 404
    assert set(response.data) == ERROR_KEYS
    assert response.data["code"] == "not_found"


# --- operators: deposits ----------------------------------------------------


def test_an_operator_deposit_credits_spot_and_records_who_and_why(user, finance_operator, finance_client):
    """R-OP-01 and R-OP-02: the deposit is a balanced entry carrying the operator and the reason."""
    body = {"user_id": user.pk, "amount": "250.12345678", "reason": "wire ref 42"}
    response = post(finance_client, DEPOSITS, body, key())
    assert response.status_code == 201, response.data
    assert response.data["kind"] == "deposit"
    assert response.data["reason"] == "wire ref 42"
    assert spot(user).balance == Decimal("250.12345678")
    entry = JournalEntry.objects.get(pk=response.data["id"])
    assert entry.actor == finance_operator
    assert entry.reason == "wire ref 42"
    assert sum(p.amount for p in entry.postings.all()) == 0
    assert ledger_audit().ok


def test_a_replayed_operator_deposit_credits_once(user, finance_client):
    body = {"user_id": user.pk, "amount": "10", "reason": "wire"}
    k = key()
    first = post(finance_client, DEPOSITS, body, k)
    replay = post(finance_client, DEPOSITS, body, k)
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.json() == first.json()
    assert replay["Idempotent-Replay"] == "true"
    assert spot(user).balance == Decimal("10")
    conflict = post(finance_client, DEPOSITS, {**body, "amount": "11"}, k)
    assert conflict.status_code == 409
    assert spot(user).balance == Decimal("10")


@pytest.mark.parametrize("reason", [None, "", "   "], ids=["missing", "empty", "blank"])
def test_an_operator_deposit_without_a_reason_is_refused(user, finance_client, reason):
    body = {"user_id": user.pk, "amount": "10"}
    if reason is not None:
        body["reason"] = reason
    before = ledger_counts()
    response = post(finance_client, DEPOSITS, body, key())
    assert response.status_code == 400
    assert "reason" in response.data["fields"]
    assert ledger_counts() == before
    assert spot(user).balance == 0


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_an_operator_deposit_with_a_bad_amount_is_refused(user, finance_client, amount):
    before = ledger_counts()
    response = post(finance_client, DEPOSITS, {"user_id": user.pk, "amount": amount, "reason": "wire"}, key())
    assert response.status_code == 400
    assert "amount" in response.data["fields"]
    assert ledger_counts() == before


def test_an_operator_deposit_to_an_unknown_user_is_404(finance_client):
    before = ledger_counts()
    response = post(finance_client, DEPOSITS, {"user_id": 999_999, "amount": "1", "reason": "wire"}, key())
    assert response.status_code == 404
    assert ledger_counts() == before
    assert not IdempotencyRecord.objects.exists()


def test_an_operator_deposit_needs_an_idempotency_key(user, finance_client):
    response = post(finance_client, DEPOSITS, {"user_id": user.pk, "amount": "1", "reason": "wire"})
    assert response.status_code == 400
    assert "Idempotency-Key" in response.data["fields"]
    assert spot(user).balance == 0


# --- operators: withdrawal review -------------------------------------------


def test_approving_a_withdrawal_pays_it_out_of_the_held_money(
    user, requested_withdrawal, finance_operator, finance_client
):
    """R-OP-01: the approval records the operator and the reason; R-OP-02: it is a balanced entry."""
    response = post(
        finance_client, approve_url(requested_withdrawal.pk), {"reason": "kyc ok"}, idempotency_key=uuid.uuid4().hex
    )
    assert response.status_code == 200, response.data
    assert response.data["status"] == "approved"
    assert response.data["decision_reason"] == "kyc ok"

    account = spot(user)
    assert (account.balance, account.held, account.available) == (Decimal("70"), Decimal("0"), Decimal("70"))
    requested_withdrawal.refresh_from_db()
    assert requested_withdrawal.status == WithdrawalStatus.APPROVED
    assert requested_withdrawal.decided_by == finance_operator
    assert requested_withdrawal.hold.status == HoldStatus.CAPTURED
    entry = requested_withdrawal.entry
    assert (entry.kind, entry.actor, entry.reason) == ("withdrawal", finance_operator, "kyc ok")
    assert ledger_audit().ok

    # Approving again is harmless: nothing moves twice.
    again = post(
        finance_client, approve_url(requested_withdrawal.pk), {"reason": "kyc ok"}, idempotency_key=uuid.uuid4().hex
    )
    assert again.status_code == 200
    assert spot(user).balance == Decimal("70")
    assert JournalEntry.objects.filter(kind="withdrawal").count() == 1
    assert ledger_audit().ok


def test_rejecting_a_withdrawal_makes_the_money_available_again(
    user, requested_withdrawal, finance_operator, finance_client
):
    response = post(
        finance_client,
        reject_url(requested_withdrawal.pk),
        {"reason": "address on a blocklist"},
        idempotency_key=uuid.uuid4().hex,
    )
    assert response.status_code == 200, response.data
    assert response.data["status"] == "rejected"
    account = spot(user)
    assert (account.balance, account.held, account.available) == (Decimal("100"), Decimal("0"), Decimal("100"))
    requested_withdrawal.refresh_from_db()
    assert requested_withdrawal.decided_by == finance_operator
    assert requested_withdrawal.decision_reason == "address on a blocklist"
    assert requested_withdrawal.hold.status == HoldStatus.RELEASED
    assert not JournalEntry.objects.filter(kind="withdrawal").exists()
    assert ledger_audit().ok


def test_approving_a_rejected_withdrawal_is_409(user, requested_withdrawal, finance_client):
    assert (
        post(
            finance_client, reject_url(requested_withdrawal.pk), {"reason": "no"}, idempotency_key=uuid.uuid4().hex
        ).status_code
        == 200
    )
    response = post(
        finance_client,
        approve_url(requested_withdrawal.pk),
        {"reason": "changed my mind"},
        idempotency_key=uuid.uuid4().hex,
    )
    assert response.status_code == 409
    assert set(response.data) == ERROR_KEYS
    assert response.data["code"] == "invalid_state"
    requested_withdrawal.refresh_from_db()
    assert requested_withdrawal.status == WithdrawalStatus.REJECTED
    assert spot(user).balance == Decimal("100")
    assert ledger_audit().ok


def test_rejecting_an_approved_withdrawal_is_409(user, requested_withdrawal, finance_client):
    assert (
        post(
            finance_client, approve_url(requested_withdrawal.pk), {"reason": "ok"}, idempotency_key=uuid.uuid4().hex
        ).status_code
        == 200
    )
    response = post(
        finance_client, reject_url(requested_withdrawal.pk), {"reason": "too late"}, idempotency_key=uuid.uuid4().hex
    )
    assert response.status_code == 409
    assert response.data["code"] == "invalid_state"
    assert spot(user).balance == Decimal("70")


@pytest.mark.parametrize("url", [approve_url, reject_url])
@pytest.mark.parametrize("reason", [None, "", "   "], ids=["missing", "empty", "blank"])
def test_a_decision_without_a_reason_is_refused(user, requested_withdrawal, finance_client, url, reason):
    body = {} if reason is None else {"reason": reason}
    response = post(finance_client, url(requested_withdrawal.pk), body, key())
    assert response.status_code == 400
    assert "reason" in response.data["fields"]
    requested_withdrawal.refresh_from_db()
    assert requested_withdrawal.status == WithdrawalStatus.PENDING
    assert spot(user).held == Decimal("30")
