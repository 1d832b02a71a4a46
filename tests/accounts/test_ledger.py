"""The ledger service: balanced entries, idempotency keys, holds. (R-OP-02)"""

from decimal import Decimal

import pytest

from accounts.models import AccountKind, HoldStatus, JournalEntry, Posting
from accounts.selectors import ledger_audit
from accounts.services.accounts import platform_account
from accounts.services.ledger import Leg, entry_post, hold_capture, hold_place, hold_release, transfer_post
from config.errors import IdempotencyConflict, InsufficientFunds, InvalidAmount, InvalidInput
from tests.factories import futures, spot

pytestmark = pytest.mark.django_db


def test_a_balanced_entry_moves_money_and_updates_cached_balances(user, fund):
    # R-OP-02
    fund(user, "100")
    transfer_post(
        kind="transfer",
        idempotency_key="k1",
        source_id=spot(user).pk,
        destination_id=futures(user).pk,
        amount=Decimal("40.5"),
    )
    assert spot(user).balance == Decimal("59.5")
    assert futures(user).balance == Decimal("40.5")
    assert ledger_audit().ok


def test_an_unbalanced_entry_is_refused_before_anything_is_written(user):
    custody = platform_account(kind=AccountKind.EXTERNAL_CUSTODY)
    with pytest.raises(InvalidInput, match="sum to zero"):
        entry_post(
            kind="x", idempotency_key="bad", legs=[Leg(custody.pk, Decimal("-5")), Leg(spot(user).pk, Decimal("4"))]
        )
    assert not JournalEntry.objects.exists()
    assert spot(user).balance == 0


@pytest.mark.parametrize("amount", [1.5, float("nan"), "NaN", "Infinity", "0.000000001", "0", "-3", "1e40", "abc"])
def test_bad_amounts_are_refused_with_a_clear_error(user, amount):
    custody = platform_account(kind=AccountKind.EXTERNAL_CUSTODY)
    with pytest.raises(InvalidAmount) as info:
        transfer_post(kind="x", idempotency_key="k", source_id=custody.pk, destination_id=spot(user).pk, amount=amount)
    assert "amount" in info.value.fields
    assert not Posting.objects.exists()


def test_posting_the_same_key_again_returns_the_first_entry_and_changes_nothing(user, fund):
    fund(user, "100")
    args = dict(kind="transfer", source_id=spot(user).pk, destination_id=futures(user).pk, amount=Decimal("10"))
    first = transfer_post(idempotency_key="same", **args)
    second = transfer_post(idempotency_key="same", **args)
    assert first.pk == second.pk
    assert spot(user).balance == Decimal("90")


def test_the_same_key_with_different_content_is_an_error(user, fund):
    fund(user, "100")
    transfer_post(kind="t", idempotency_key="same", source_id=spot(user).pk, destination_id=futures(user).pk, amount=10)
    with pytest.raises(IdempotencyConflict):
        transfer_post(
            kind="t", idempotency_key="same", source_id=spot(user).pk, destination_id=futures(user).pk, amount=11
        )
    assert spot(user).balance == Decimal("90")


def test_a_user_account_cannot_go_below_zero(user, fund):
    fund(user, "10")
    with pytest.raises(InsufficientFunds):
        transfer_post(
            kind="t", idempotency_key="k", source_id=spot(user).pk, destination_id=futures(user).pk, amount=11
        )
    assert spot(user).balance == Decimal("10")
    assert futures(user).balance == 0


def test_held_money_is_not_available_and_cannot_be_spent(user, fund):
    fund(user, "100")
    hold_place(account_id=spot(user).pk, amount=Decimal("70"), idempotency_key="h")
    account = spot(user)
    assert (account.balance, account.held, account.available) == (Decimal("100"), Decimal("70"), Decimal("30"))
    with pytest.raises(InsufficientFunds):
        transfer_post(kind="t", idempotency_key="k", source_id=account.pk, destination_id=futures(user).pk, amount=31)
    with pytest.raises(InsufficientFunds):
        hold_place(account_id=account.pk, amount=Decimal("31"), idempotency_key="h2")


def test_a_hold_captured_in_part_releases_the_rest(user, fund):
    fund(user, "100")
    hold = hold_place(account_id=spot(user).pk, amount=Decimal("70"), idempotency_key="h")
    custody = platform_account(kind=AccountKind.EXTERNAL_CUSTODY)
    hold_capture(hold_id=hold.pk, destination_id=custody.pk, amount=Decimal("25"), kind="w", idempotency_key="cap")
    account = spot(user)
    assert (account.balance, account.held) == (Decimal("75"), Decimal("0"))
    hold.refresh_from_db()
    assert (hold.status, hold.captured) == (HoldStatus.CAPTURED, Decimal("25"))
    # Capturing again with the same key is harmless.
    hold_capture(hold_id=hold.pk, destination_id=custody.pk, amount=Decimal("25"), kind="w", idempotency_key="cap")
    assert spot(user).balance == Decimal("75")
    assert ledger_audit().ok


def test_a_released_hold_frees_its_money(user, fund):
    fund(user, "100")
    hold = hold_place(account_id=spot(user).pk, amount=Decimal("70"), idempotency_key="h")
    hold_release(hold_id=hold.pk)
    hold_release(hold_id=hold.pk)
    account = spot(user)
    assert (account.balance, account.held, account.available) == (Decimal("100"), 0, Decimal("100"))
    assert ledger_audit().ok


def test_an_entry_records_who_and_why(user, finance_operator):
    from accounts.services.flows import deposit_credit

    entry = deposit_credit(
        user=user, amount=Decimal("5"), operator=finance_operator, reason="wire 123", idempotency_key="d"
    )
    assert entry.actor == finance_operator
    assert entry.reason == "wire 123"


def test_a_capture_key_that_belongs_to_another_hold_is_refused_and_nothing_is_captured(user, fund):
    fund(user, "100")
    first = hold_place(account_id=spot(user).pk, amount=Decimal("10"), idempotency_key="h1")
    second = hold_place(account_id=spot(user).pk, amount=Decimal("10"), idempotency_key="h2")
    custody = platform_account(kind=AccountKind.EXTERNAL_CUSTODY)
    hold_capture(hold_id=first.pk, destination_id=custody.pk, kind="w", idempotency_key="cap")
    with pytest.raises(IdempotencyConflict):
        hold_capture(hold_id=second.pk, destination_id=custody.pk, kind="w", idempotency_key="cap")
    second.refresh_from_db()
    assert second.status == HoldStatus.ACTIVE
    assert (spot(user).balance, spot(user).held) == (Decimal("90"), Decimal("10"))
    assert ledger_audit().ok


def test_a_withdrawal_key_reused_for_a_different_amount_is_an_error(user, fund):
    from accounts.services.flows import withdrawal_request

    fund(user, "100")
    withdrawal_request(user=user, amount=Decimal("10"), address="addr", idempotency_key="w")
    with pytest.raises(IdempotencyConflict):
        withdrawal_request(user=user, amount=Decimal("11"), address="addr", idempotency_key="w")
    assert spot(user).held == Decimal("10")
