"""PostgreSQL itself guards the journal, whatever code (or person) writes to it. (R-OP-02)

Raw SQL bypasses every service check; the database must still refuse an entry
that does not balance (at COMMIT, by the deferred constraint trigger), postings
added to an entry after its transaction, any UPDATE or DELETE of journal rows,
and a user balance below zero. Each refused write leaves the ledger unchanged.
These tests commit for real, hence ``transaction=True``.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from accounts.models import AccountKind, JournalEntry, LedgerAccount, Posting
from accounts.selectors import ledger_audit
from accounts.services.accounts import platform_account
from accounts.services.ledger import transfer_post
from tests.factories import futures, spot

pytestmark = pytest.mark.django_db(transaction=True)


def ledger_state() -> tuple:
    return (
        list(JournalEntry.objects.order_by("pk").values_list("pk", "kind", "idempotency_key")),
        list(Posting.objects.order_by("pk").values_list("pk", "entry_id", "account_id", "amount", "currency")),
        list(LedgerAccount.objects.order_by("pk").values_list("pk", "balance", "held")),
    )


def assert_unchanged(before: tuple) -> None:
    assert ledger_state() == before
    report = ledger_audit()
    assert report.ok, report.as_dict()


def insert_entry(cursor, key: str) -> int:
    cursor.execute(
        "INSERT INTO accounts_journalentry (kind, idempotency_key, fingerprint, reference, reason, created_at)"
        " VALUES ('raw', %s, '', '', 'raw sql', now()) RETURNING id",
        [key],
    )
    return cursor.fetchone()[0]


def insert_postings(cursor, entry_id: int, postings: list[tuple[int, str, str]]) -> None:
    """Insert ``(account_id, amount, currency)`` postings in one statement."""
    values = ", ".join(["(%s, %s, %s, %s)"] * len(postings))
    params = [p for account, amount, currency in postings for p in (entry_id, account, Decimal(amount), currency)]
    cursor.execute(f"INSERT INTO accounts_posting (entry_id, account_id, amount, currency) VALUES {values}", params)


@pytest.fixture
def ledger(user, fund):
    """A user with money and a committed transfer entry; returns the user's two accounts and that entry."""
    fund(user, "100")
    entry = transfer_post(
        kind="transfer",
        idempotency_key="committed",
        source_id=spot(user).pk,
        destination_id=futures(user).pk,
        amount=Decimal("30"),
    )
    return spot(user), futures(user), entry


@pytest.mark.parametrize(
    "legs",
    [
        pytest.param([("spot", "5", "USDT"), ("futures", "-4", "USDT")], id="sum-not-zero"),
        pytest.param([("spot", "5", "USDT"), ("futures", "-5", "BTC")], id="zero-overall-but-not-per-currency"),
        pytest.param(
            [("spot", "5", "USDT"), ("futures", "-2", "USDT"), ("futures", "-2.99999999", "USDT")], id="off-by-1e-8"
        ),
    ],
)
def test_an_unbalanced_entry_is_refused_at_commit(ledger, legs):
    spot_account, futures_account, _ = ledger
    accounts = {"spot": spot_account.pk, "futures": futures_account.pk}
    before = ledger_state()
    written = False

    with pytest.raises(DatabaseError, match="does not balance"), transaction.atomic():
        with connection.cursor() as cursor:
            entry_id = insert_entry(cursor, "unbalanced")
            insert_postings(cursor, entry_id, [(accounts[name], amount, cur) for name, amount, cur in legs])
        written = True  # every statement was accepted: the refusal comes at COMMIT

    assert written
    assert_unchanged(before)


@pytest.mark.parametrize("n_postings", [0, 1])
def test_an_entry_with_fewer_than_two_postings_is_refused_at_commit(ledger, n_postings):
    spot_account, _, _ = ledger
    before = ledger_state()

    with (
        pytest.raises(DatabaseError, match=rf"has {n_postings} posting\(s\)"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        entry_id = insert_entry(cursor, "lonely")
        if n_postings:
            insert_postings(cursor, entry_id, [(spot_account.pk, "5", "USDT")])

    assert_unchanged(before)


def test_postings_cannot_be_added_to_an_entry_committed_earlier(ledger):
    spot_account, futures_account, entry = ledger
    before = ledger_state()

    # Even a balanced pair: the entry was closed when its own transaction committed.
    with (
        pytest.raises(DatabaseError, match="transaction that created it"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        insert_postings(cursor, entry.pk, [(spot_account.pk, "5", "USDT"), (futures_account.pk, "-5", "USDT")])

    with pytest.raises(DatabaseError, match="transaction that created it"), connection.cursor() as cursor:
        # The same in autocommit mode, one statement on its own.
        insert_postings(cursor, entry.pk, [(spot_account.pk, "5", "USDT"), (futures_account.pk, "-5", "USDT")])

    assert_unchanged(before)


@pytest.mark.parametrize(
    ("statement", "table"),
    [
        ("UPDATE accounts_posting SET amount = amount * 2 WHERE entry_id = %s", "accounts_posting"),
        ("DELETE FROM accounts_posting WHERE entry_id = %s", "accounts_posting"),
        ("UPDATE accounts_journalentry SET reason = 'edited' WHERE id = %s", "accounts_journalentry"),
        ("DELETE FROM accounts_journalentry WHERE id = %s", "accounts_journalentry"),
    ],
    ids=["update-posting", "delete-posting", "update-entry", "delete-entry"],
)
def test_journal_rows_are_append_only(ledger, statement, table):
    _, _, entry = ledger
    before = ledger_state()

    with pytest.raises(DatabaseError, match=f"{table} is append-only"), connection.cursor() as cursor:
        cursor.execute(statement, [entry.pk])

    assert_unchanged(before)


@pytest.mark.parametrize(
    ("assignment", "constraint"),
    [
        # held <= balance is checked too, and PostgreSQL may name either constraint first.
        ("balance = -1", "ledger_account_(user_balance_not_negative|held_within_balance)"),
        ("balance = -0.00000001, held = 0", "ledger_account_(user_balance_not_negative|held_within_balance)"),
        ("held = balance + 0.00000001", "ledger_account_held_within_balance"),
        ("held = -1", "ledger_account_held_not_negative"),
    ],
)
def test_a_user_account_cannot_be_set_negative_or_over_held_by_raw_update(ledger, assignment, constraint):
    spot_account, _, _ = ledger
    before = ledger_state()

    with pytest.raises(DatabaseError, match=constraint), connection.cursor() as cursor:
        cursor.execute(f"UPDATE accounts_ledgeraccount SET {assignment} WHERE id = %s", [spot_account.pk])

    assert_unchanged(before)
    # The rule is about users' money: the platform's custody account is negative by design.
    assert platform_account(kind=AccountKind.EXTERNAL_CUSTODY).balance == Decimal("-100")


def test_a_balanced_raw_entry_is_accepted(ledger):
    # The guards refuse what is wrong, not raw SQL as such: a balanced entry commits.
    spot_account, futures_account, _ = ledger
    with transaction.atomic(), connection.cursor() as cursor:
        entry_id = insert_entry(cursor, "balanced-raw")
        insert_postings(cursor, entry_id, [(spot_account.pk, "-5", "USDT"), (futures_account.pk, "5", "USDT")])
    assert JournalEntry.objects.filter(pk=entry_id).exists()
    assert Posting.objects.filter(entry_id=entry_id).count() == 2
