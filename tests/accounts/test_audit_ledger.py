"""`manage.py audit_ledger` proves the ledger and fails loudly on any violation. (R-OP-02)"""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.models import JournalEntry, LedgerAuditRun
from accounts.services.audit import ledger_audit_record
from tests.factories import spot

pytestmark = pytest.mark.django_db


def run_audit() -> str:
    out = StringIO()
    call_command("audit_ledger", stdout=out)
    return out.getvalue()


def test_the_audit_is_clean_after_the_demo_data_is_loaded_twice():
    call_command("seed_demo", stdout=StringIO())
    entries = JournalEntry.objects.count()
    call_command("seed_demo", stdout=StringIO())
    out = run_audit()
    assert "ledger audit clean" in out
    assert f"entries {entries}," in out  # the second load credited nothing again


def test_a_cached_balance_that_disagrees_with_its_postings_fails_the_audit(user, fund):
    fund(user, "100")
    # Simulate a bug that edits a balance directly, bypassing the ledger service.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_ledgeraccount SET balance = balance + 1 WHERE id = %s", [spot(user).pk])
    with pytest.raises(CommandError, match="ledger audit failed"):
        run_audit()


def test_a_held_amount_without_its_hold_fails_the_audit(user, fund):
    fund(user, "100")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_ledgeraccount SET held = 5 WHERE id = %s", [spot(user).pk])
    with pytest.raises(CommandError):
        run_audit()


def test_money_created_out_of_nothing_fails_the_audit(user, fund):
    fund(user, "100")
    # A platform account's cache drifting means the system no longer sums to zero.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_ledgeraccount SET balance = 0 WHERE owner_id IS NULL")
    with pytest.raises(CommandError):
        run_audit()


def test_the_scheduled_audit_stores_its_report(user, fund):
    fund(user, Decimal("12.5"))
    run = ledger_audit_record()
    assert run.ok
    assert LedgerAuditRun.objects.get().report["system_totals"] == {"USDT": "0.00000000"}
