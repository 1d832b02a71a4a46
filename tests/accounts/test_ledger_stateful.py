"""The ledger under random sequences of money operations. (R-OP-02)

A hypothesis state machine drives deposits, transfers between a user's own spot
and futures accounts, transfers between users, holds (placed, captured in part
or in full, released) and withdrawals (requested, approved, rejected) for a few
users, next to a model of the expected balances in plain ``Decimal``s.

The model predicts every outcome: an operation it says must fail has to raise
that business error and change nothing at all; one it says must succeed has to
move exactly the modelled amounts. After every step the invariant forces
PostgreSQL's deferred "entry balances" trigger to run now (``SET CONSTRAINTS ALL
IMMEDIATE``) instead of at a commit that never comes inside the test
transaction, runs ``ledger_audit()`` and compares every account, hold and
withdrawal with the model.

Each example runs in its own savepoint, rolled back in ``teardown``.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from accounts.models import (
    AccountKind,
    Hold,
    HoldStatus,
    JournalEntry,
    LedgerAccount,
    Posting,
    Withdrawal,
    WithdrawalStatus,
)
from accounts.money import MAX_AMOUNT, QUANTUM
from accounts.selectors import ledger_audit
from accounts.services.accounts import platform_account
from accounts.services.flows import (
    deposit_credit,
    transfer_create,
    withdrawal_approve,
    withdrawal_reject,
    withdrawal_request,
)
from accounts.services.ledger import hold_capture, hold_place, hold_release, transfer_post
from config.errors import IdempotencyConflict, InsufficientFunds, InvalidInput, InvalidState
from tests.factories import OperatorFactory, UserFactory
from tests.progress import Progress, counted

N_USERS = 3
ZERO = Decimal("0")
USERS = st.integers(min_value=0, max_value=N_USERS - 1)
USER_PAIRS = st.tuples(USERS, USERS).filter(lambda pair: pair[0] != pair[1])
USER_KINDS = st.sampled_from([AccountKind.SPOT, AccountKind.FUTURES])
AMOUNTS = st.one_of(
    st.decimals(min_value=QUANTUM, max_value=Decimal("300"), places=8),
    st.sampled_from([Decimal("1"), Decimal("10"), Decimal("25.5"), Decimal("100")]),
)
# How a rule picks its amount: the drawn one, a percentage of what is available,
# exactly what is available, or one unit (0.00000001) more than that.
AMOUNT_MODES = st.one_of(st.sampled_from(["drawn", "all", "all_plus_one"]), st.integers(min_value=1, max_value=99))

STATEFUL_SETTINGS = settings(
    max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "200")),
    stateful_step_count=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@dataclass
class ModelHold:
    account: int
    amount: Decimal
    status: str = HoldStatus.ACTIVE
    captured: Decimal = ZERO
    capture_key: str | None = None
    capture_entry: int | None = None
    capture_destination: int | None = None
    for_withdrawal: bool = False


@dataclass
class ModelWithdrawal:
    user: int
    amount: Decimal
    key: str
    hold: int
    status: str = WithdrawalStatus.PENDING


@dataclass(frozen=True)
class ModelDeposit:
    user: int
    amount: Decimal
    key: str
    entry: int


@dataclass
class Model:
    balance: dict[int, Decimal] = field(default_factory=dict)
    held: dict[int, Decimal] = field(default_factory=dict)
    holds: dict[int, ModelHold] = field(default_factory=dict)
    withdrawals: dict[int, ModelWithdrawal] = field(default_factory=dict)
    entries: int = 0

    def available(self, account: int) -> Decimal:
        return self.balance[account] - self.held[account]

    def move(self, source: int, destination: int, amount: Decimal) -> None:
        self.balance[source] -= amount
        self.balance[destination] += amount
        self.entries += 1


def _snapshot() -> tuple:
    """Everything an operation could touch, to prove a refused one touched nothing."""
    return (
        list(LedgerAccount.objects.order_by("pk").values_list("pk", "balance", "held")),
        JournalEntry.objects.count(),
        Posting.objects.count(),
        list(Hold.objects.order_by("pk").values_list("pk", "status", "captured")),
        list(Withdrawal.objects.order_by("pk").values_list("pk", "status", "entry_id")),
    )


def _refused(error: type[Exception], operation, *args, **kwargs) -> None:
    before = _snapshot()
    with pytest.raises(error):
        operation(*args, **kwargs)
    assert _snapshot() == before, f"a refused {operation.__name__} changed the ledger"


def _run_deferred_constraints() -> None:
    """Fire the deferred constraint triggers queued so far, then defer again."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


class LedgerMachine(RuleBasedStateMachine):
    deposits = Bundle("deposits")
    holds = Bundle("holds")
    withdrawals = Bundle("withdrawals")

    def __init__(self) -> None:
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        try:
            self._setup()
        except BaseException:
            self.teardown()
            raise

    def _setup(self) -> None:
        self._keys = itertools.count()
        self.operator = OperatorFactory()
        self.users = [UserFactory() for _ in range(N_USERS)]
        self.custody = platform_account(kind=AccountKind.EXTERNAL_CUSTODY).pk
        self.fees = platform_account(kind=AccountKind.FEE_REVENUE).pk
        self.accounts: dict[tuple[int, str], int] = {
            (i, a.kind): a.pk for i, user in enumerate(self.users) for a in LedgerAccount.objects.filter(owner=user)
        }
        assert len(self.accounts) == 2 * N_USERS
        self.model = Model()
        # Every account there is (the operator's too) starts at zero; none may appear later.
        for pk in LedgerAccount.objects.values_list("pk", flat=True):
            self.model.balance[pk] = ZERO
            self.model.held[pk] = ZERO

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # helpers ---------------------------------------------------------------

    def key(self, prefix: str) -> str:
        return f"{prefix}-{next(self._keys)}"

    def spot(self, user: int) -> int:
        return self.accounts[(user, AccountKind.SPOT)]

    def pick(self, account: int, amount: Decimal, mode: str | int) -> Decimal:
        available = self.model.available(account)
        if mode == "all" and available > 0:
            return available
        if mode == "all_plus_one":
            return available + QUANTUM
        if isinstance(mode, int):
            return (available * mode / 100).quantize(QUANTUM, rounding=ROUND_DOWN) or amount
        return amount

    def usually_open(self, drawn: int, data, records: dict, open_status: str) -> int:
        """Mostly swap the drawn hold or withdrawal for one still open, so decisions often succeed.

        A withdrawal's own hold is only ever moved by approving or rejecting the withdrawal.
        """
        candidates = sorted(
            pk
            for pk, record in records.items()
            if record.status == open_status and not getattr(record, "for_withdrawal", False)
        )
        if candidates and data.draw(st.integers(0, 3), label="prefer an open one") > 0:
            return data.draw(st.sampled_from(candidates), label="open one")
        return drawn

    # deposits ----------------------------------------------------------------

    @initialize(
        target=deposits,
        amounts=st.lists(
            st.decimals(min_value=Decimal("1"), max_value=Decimal("1000"), places=8), min_size=N_USERS, max_size=N_USERS
        ),
        to_futures=st.lists(st.integers(min_value=0, max_value=100), min_size=N_USERS, max_size=N_USERS),
    )
    def fund_everyone(self, amounts, to_futures):
        # Start with money on both accounts of every user, so most operations can succeed.
        made = []
        for user, (amount, share) in enumerate(zip(amounts, to_futures, strict=True)):
            made.append(self.deposit(user, amount))
            moved = (amount * share / 100).quantize(QUANTUM, rounding=ROUND_DOWN)
            if moved > 0:
                self.transfer_own(user, True, moved, "drawn")
        return multiple(*made)

    @rule(target=deposits, user=USERS, amount=AMOUNTS)
    def deposit(self, user, amount):
        key = self.key("dep")
        entry = deposit_credit(
            user=self.users[user], amount=amount, operator=self.operator, reason="wire", idempotency_key=key
        )
        self.model.move(self.custody, self.spot(user), amount)
        return ModelDeposit(user=user, amount=amount, key=key, entry=entry.pk)

    @rule(deposit=deposits, same_amount=st.booleans())
    def deposit_replayed(self, deposit, same_amount):
        kwargs = dict(user=self.users[deposit.user], operator=self.operator, reason="wire", idempotency_key=deposit.key)
        if same_amount:
            before = _snapshot()
            assert deposit_credit(amount=deposit.amount, **kwargs).pk == deposit.entry
            assert _snapshot() == before
        else:
            other = deposit.amount + QUANTUM if deposit.amount < MAX_AMOUNT else deposit.amount - QUANTUM
            _refused(IdempotencyConflict, deposit_credit, amount=other, **kwargs)

    # transfers ---------------------------------------------------------------

    @rule(user=USERS, to_futures=st.booleans(), amount=AMOUNTS, mode=AMOUNT_MODES)
    def transfer_own(self, user, to_futures, amount, mode):
        kinds = [AccountKind.SPOT, AccountKind.FUTURES]
        source_kind, destination_kind = kinds if to_futures else kinds[::-1]
        source, destination = self.accounts[(user, source_kind)], self.accounts[(user, destination_kind)]
        amount = self.pick(source, amount, mode)
        kwargs = dict(
            user=self.users[user],
            source_kind=source_kind,
            destination_kind=destination_kind,
            amount=amount,
            idempotency_key=self.key("tr"),
        )
        if amount > self.model.available(source):
            _refused(InsufficientFunds, transfer_create, **kwargs)
        else:
            transfer_create(**kwargs)
            self.model.move(source, destination, amount)

    @rule(pair=USER_PAIRS, kind=USER_KINDS, amount=AMOUNTS, mode=AMOUNT_MODES)
    def transfer_between_users(self, pair, kind, amount, mode):
        source, destination = self.accounts[(pair[0], kind)], self.accounts[(pair[1], kind)]
        amount = self.pick(source, amount, mode)
        kwargs = dict(
            kind="p2p", idempotency_key=self.key("p2p"), source_id=source, destination_id=destination, amount=amount
        )
        if amount > self.model.available(source):
            _refused(InsufficientFunds, transfer_post, **kwargs)
        else:
            transfer_post(**kwargs)
            self.model.move(source, destination, amount)

    # holds -------------------------------------------------------------------

    @rule(target=holds, user=USERS, kind=USER_KINDS, amount=AMOUNTS, mode=AMOUNT_MODES)
    def hold_placed(self, user, kind, amount, mode):
        account = self.accounts[(user, kind)]
        amount = self.pick(account, amount, mode)
        kwargs = dict(account_id=account, amount=amount, idempotency_key=self.key("hold"), reason="margin")
        if amount > self.model.available(account):
            _refused(InsufficientFunds, hold_place, **kwargs)
            return multiple()
        hold = hold_place(**kwargs)
        self.model.held[account] += amount
        self.model.holds[hold.pk] = ModelHold(account=account, amount=amount)
        return hold.pk

    @rule(
        hold=holds,
        data=st.data(),
        share=st.one_of(st.sampled_from(["default", "full", "over", "retry"]), st.integers(1, 99)),
        to=st.one_of(st.just("fees"), st.tuples(USERS, USER_KINDS)),
    )
    def hold_captured(self, hold, data, share, to):
        hold = self.usually_open(hold, data, self.model.holds, HoldStatus.ACTIVE)
        m = self.model.holds[hold]
        destination = self.fees if to == "fees" else self.accounts[to]
        if destination == m.account:
            destination = self.fees
        if share == "retry" and m.status == HoldStatus.CAPTURED:
            # The same capture again (same key, same content) returns its entry and changes nothing.
            before = _snapshot()
            entry = hold_capture(
                hold_id=hold,
                destination_id=m.capture_destination,
                amount=m.captured,
                kind="capture",
                idempotency_key=m.capture_key,
            )
            assert entry.pk == m.capture_entry
            assert _snapshot() == before
            return
        if share in ("default", "retry"):
            amount = None
        elif share == "full":
            amount = m.amount
        elif share == "over":
            amount = m.amount + QUANTUM
        else:
            amount = (m.amount * share / 100).quantize(QUANTUM, rounding=ROUND_DOWN) or m.amount
        key = self.key("cap")
        kwargs = dict(hold_id=hold, destination_id=destination, amount=amount, kind="capture", idempotency_key=key)
        if m.status != HoldStatus.ACTIVE:
            _refused(InvalidState, hold_capture, **kwargs)
            return
        if amount is not None and amount > m.amount:
            _refused(InvalidInput, hold_capture, **kwargs)
            return
        entry = hold_capture(**kwargs)
        captured = m.amount if amount is None else amount
        self.model.held[m.account] -= m.amount
        self.model.move(m.account, destination, captured)
        m.status, m.captured = HoldStatus.CAPTURED, captured
        m.capture_key, m.capture_entry, m.capture_destination = key, entry.pk, destination

    @rule(hold=holds, data=st.data())
    def hold_released(self, hold, data):
        hold = self.usually_open(hold, data, self.model.holds, HoldStatus.ACTIVE)
        m = self.model.holds[hold]
        if m.status == HoldStatus.CAPTURED:
            _refused(InvalidState, hold_release, hold_id=hold)
            return
        hold_release(hold_id=hold)
        if m.status == HoldStatus.ACTIVE:
            self.model.held[m.account] -= m.amount
            m.status = HoldStatus.RELEASED

    # withdrawals ---------------------------------------------------------------

    @rule(target=withdrawals, user=USERS, amount=AMOUNTS, mode=AMOUNT_MODES)
    def withdrawal_requested(self, user, amount, mode):
        account = self.spot(user)
        amount = self.pick(account, amount, mode)
        key = self.key("wd")
        kwargs = dict(user=self.users[user], amount=amount, address="TXYZ-address", idempotency_key=key)
        if amount > self.model.available(account):
            _refused(InsufficientFunds, withdrawal_request, **kwargs)
            return multiple()
        withdrawal = withdrawal_request(**kwargs)
        self.model.held[account] += amount
        self.model.holds[withdrawal.hold_id] = ModelHold(account=account, amount=amount, for_withdrawal=True)
        self.model.withdrawals[withdrawal.pk] = ModelWithdrawal(user, amount, key, withdrawal.hold_id)
        return withdrawal.pk

    @rule(withdrawal=withdrawals)
    def withdrawal_request_retried(self, withdrawal):
        m = self.model.withdrawals[withdrawal]
        before = _snapshot()
        again = withdrawal_request(
            user=self.users[m.user], amount=m.amount, address="TXYZ-address", idempotency_key=m.key
        )
        assert again.pk == withdrawal
        assert _snapshot() == before

    @rule(withdrawal=withdrawals, data=st.data())
    def withdrawal_approved(self, withdrawal, data):
        withdrawal = self.usually_open(withdrawal, data, self.model.withdrawals, WithdrawalStatus.PENDING)
        m = self.model.withdrawals[withdrawal]
        if m.status == WithdrawalStatus.REJECTED:
            _refused(InvalidState, withdrawal_approve, withdrawal_id=withdrawal, operator=self.operator, reason="ok")
            return
        approved = withdrawal_approve(withdrawal_id=withdrawal, operator=self.operator, reason="ok")
        assert approved.status == WithdrawalStatus.APPROVED
        if m.status == WithdrawalStatus.PENDING:
            account = self.spot(m.user)
            self.model.held[account] -= m.amount
            self.model.move(account, self.custody, m.amount)
            m.status = WithdrawalStatus.APPROVED
            hold = self.model.holds[m.hold]
            hold.status, hold.captured = HoldStatus.CAPTURED, m.amount

    @rule(withdrawal=withdrawals, data=st.data())
    def withdrawal_rejected(self, withdrawal, data):
        withdrawal = self.usually_open(withdrawal, data, self.model.withdrawals, WithdrawalStatus.PENDING)
        m = self.model.withdrawals[withdrawal]
        if m.status == WithdrawalStatus.APPROVED:
            _refused(InvalidState, withdrawal_reject, withdrawal_id=withdrawal, operator=self.operator, reason="no")
            return
        rejected = withdrawal_reject(withdrawal_id=withdrawal, operator=self.operator, reason="no")
        assert rejected.status == WithdrawalStatus.REJECTED
        if m.status == WithdrawalStatus.PENDING:
            self.model.held[self.spot(m.user)] -= m.amount
            m.status = WithdrawalStatus.REJECTED
            self.model.holds[m.hold].status = HoldStatus.RELEASED

    # the invariant -------------------------------------------------------------

    @invariant()
    def ledger_matches_the_model_and_the_database_agrees(self):
        _run_deferred_constraints()
        report = ledger_audit()
        assert report.ok, report.as_dict()
        assert report.entries == self.model.entries

        accounts = LedgerAccount.objects.values_list("pk", "owner_id", "balance", "held")
        assert {pk: (balance, held) for pk, _, balance, held in accounts} == {
            pk: (self.model.balance[pk], self.model.held[pk]) for pk in self.model.balance
        }
        for _, owner, balance, held in accounts:
            assert owner is None or ZERO <= held <= balance
        # Money is only moved, never made: all balances together sum to zero.
        assert sum(balance for _, _, balance, _ in accounts) == ZERO

        holds = {
            pk: (status, captured) for pk, status, captured in Hold.objects.values_list("pk", "status", "captured")
        }
        assert holds == {pk: (h.status, h.captured) for pk, h in self.model.holds.items()}
        withdrawals = dict(Withdrawal.objects.values_list("pk", "status"))
        assert withdrawals == {pk: w.status for pk, w in self.model.withdrawals.items()}


@pytest.mark.long
@pytest.mark.django_db
def test_random_money_operations_keep_the_ledger_exact():
    # R-OP-02
    progress = Progress("ledger state machine", STATEFUL_SETTINGS.max_examples)
    run_state_machine_as_test(counted(LedgerMachine, progress), settings=STATEFUL_SETTINGS)


@pytest.mark.django_db
def test_the_invariant_really_runs_the_deferred_balance_trigger(user):
    # Guard for the machine above: SET CONSTRAINTS ALL IMMEDIATE inside the test
    # transaction does fire the commit-time check on an unbalanced entry.
    spot = LedgerAccount.objects.get(owner=user, kind=AccountKind.SPOT)
    with pytest.raises(DatabaseError, match="does not balance"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO accounts_journalentry (kind, idempotency_key, fingerprint, reference, reason, created_at)"
                " VALUES ('x', 'probe', '', '', '', now()) RETURNING id"
            )
            (entry_id,) = cursor.fetchone()
            cursor.execute(
                "INSERT INTO accounts_posting (entry_id, account_id, amount, currency) VALUES (%s, %s, 5, 'USDT'),"
                " (%s, %s, -4, 'USDT')",
                [entry_id, spot.pk, entry_id, spot.pk],
            )
        _run_deferred_constraints()
    assert not JournalEntry.objects.exists()
