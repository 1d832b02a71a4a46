"""The ledger under real concurrency: threads, each on its own PostgreSQL connection.

Row locks taken in account-id order must serialise competing writers so that
money is never spent twice, opposite transfers never deadlock, and an
idempotency key credits a deposit once however many times it races. (R-OP-02)
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import AccountKind, Hold, HoldStatus, JournalEntry, Withdrawal
from accounts.selectors import ledger_audit
from accounts.services.accounts import platform_account
from accounts.services.flows import deposit_credit, withdrawal_request
from accounts.services.ledger import transfer_post
from config.errors import InsufficientFunds
from tests.factories import OperatorFactory, UserFactory, fund_spot, spot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

JOIN_TIMEOUT = 120  # seconds; a thread still alive after this is stuck (a deadlock or a lost lock)


def run_together(workers: list[Callable[[], object]]) -> tuple[list[object], list[BaseException]]:
    """Run each callable in its own thread, all released at once; return (results, exceptions).

    Each thread opens its database connection before the start line, so the race
    is on the row locks and not on connecting, and closes it at the end.
    """
    barrier = threading.Barrier(len(workers), timeout=60)
    results: list[object] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(work: Callable[[], object]) -> None:
        try:
            connection.ensure_connection()
            barrier.wait()
            result = work()
        except BaseException as exc:
            with lock:
                errors.append(exc)
        else:
            with lock:
                results.append(result)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(work,), daemon=True) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"threads still running after {JOIN_TIMEOUT}s (deadlock?): {stuck}"
    return results, errors


def test_fifty_simultaneous_withdrawals_of_the_whole_balance_succeed_exactly_once():
    user = UserFactory()
    amount = Decimal("123.45678901")
    fund_spot(user, amount)

    def request(i: int) -> Callable[[], Withdrawal]:
        return lambda: withdrawal_request(user=user, amount=amount, address="TXYZ-address", idempotency_key=f"w{i}")

    results, errors = run_together([request(i) for i in range(50)])

    assert len(results) == 1, errors
    assert len(errors) == 49
    assert all(isinstance(exc, InsufficientFunds) for exc in errors), {type(exc).__name__ for exc in errors}
    account = spot(user)
    assert (account.balance, account.held, account.available) == (amount, amount, Decimal("0"))
    assert Withdrawal.objects.filter(user=user).count() == 1
    assert Hold.objects.filter(account=account, status=HoldStatus.ACTIVE).count() == 1
    report = ledger_audit()
    assert report.ok, report.as_dict()


def test_opposite_transfers_between_two_accounts_in_parallel_neither_deadlock_nor_lose_money():
    a, b = UserFactory(), UserFactory()
    start = Decimal("1000")
    a_spot, b_spot = fund_spot(a, start), fund_spot(b, start)
    a_to_b, b_to_a = Decimal("1.23456789"), Decimal("0.98765432")
    threads_per_direction, transfers_per_thread = 10, 10

    def transfers(source: int, destination: int, amount: Decimal) -> Callable[[], int]:
        def work() -> int:
            for _ in range(transfers_per_thread):
                transfer_post(
                    kind="p2p",
                    idempotency_key=f"p2p:{uuid.uuid4().hex}",
                    source_id=source,
                    destination_id=destination,
                    amount=amount,
                )
            return transfers_per_thread

        return work

    workers = [transfers(a_spot.pk, b_spot.pk, a_to_b) for _ in range(threads_per_direction)]
    workers += [transfers(b_spot.pk, a_spot.pk, b_to_a) for _ in range(threads_per_direction)]
    results, errors = run_together(workers)

    assert errors == [], [f"{type(exc).__name__}: {exc}" for exc in errors]
    assert sum(results) == 2 * threads_per_direction * transfers_per_thread
    n = threads_per_direction * transfers_per_thread
    expected_a = start - n * a_to_b + n * b_to_a
    expected_b = start + n * a_to_b - n * b_to_a
    assert spot(a).balance == expected_a
    assert spot(b).balance == expected_b
    assert spot(a).balance + spot(b).balance == 2 * start
    assert JournalEntry.objects.filter(kind="p2p").count() == 2 * n
    report = ledger_audit()
    assert report.ok, report.as_dict()


def test_a_deposit_raced_with_its_own_idempotency_key_is_credited_once():
    user, operator = UserFactory(), OperatorFactory()
    rounds, amount = 10, Decimal("50.5")

    for round_ in range(rounds):
        key = f"wire-{round_}-{uuid.uuid4().hex}"

        def deposit(key: str = key) -> int:
            entry = deposit_credit(user=user, amount=amount, operator=operator, reason="wire", idempotency_key=key)
            return entry.pk

        results, errors = run_together([deposit, deposit])

        assert errors == [], [f"{type(exc).__name__}: {exc}" for exc in errors]
        assert len(results) == 2
        assert results[0] == results[1], "both callers must get the same entry"
        assert JournalEntry.objects.filter(idempotency_key=f"deposit:{key}").count() == 1

    assert spot(user).balance == rounds * amount
    assert JournalEntry.objects.filter(kind="deposit").count() == rounds
    assert platform_account(kind=AccountKind.EXTERNAL_CUSTODY).balance == -rounds * amount
    report = ledger_audit()
    assert report.ok, report.as_dict()


def test_a_withdrawal_request_raced_with_its_own_key_holds_once_and_answers_both_callers():
    user = UserFactory()
    fund_spot(user, "100")
    for round_no in range(5):
        key = f"twin-{round_no}"
        results, errors = run_together(
            [lambda key=key: withdrawal_request(user=user, amount=Decimal("10"), address="addr", idempotency_key=key)]
            * 2
        )
        assert errors == []
        assert len({w.pk for w in results}) == 1
    assert Withdrawal.objects.filter(user=user).count() == 5
    assert spot(user).held == Decimal("50")
    assert ledger_audit().ok
