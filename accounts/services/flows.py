"""The first money flows: deposits, withdrawals and transfers between a user's own accounts.

Each records who did it and why on its journal entry, and takes an idempotency
key so that a retried request changes nothing.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.lock_objects import lock_accounts, lock_withdrawal
from accounts.models import AccountKind, JournalEntry, User, Withdrawal, WithdrawalStatus
from accounts.money import parse_amount
from accounts.services.accounts import account_open, platform_account
from accounts.services.ledger import hold_capture, hold_place, hold_release, transfer_guarded, transfer_post
from config.errors import IdempotencyConflict, InvalidInput, InvalidState

TRANSFERABLE_KINDS = (AccountKind.SPOT, AccountKind.FUTURES)


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("reason", "operators must give a reason")
    return reason


def deposit_credit(*, user: User, amount: Decimal, operator: User, reason: str, idempotency_key: str) -> JournalEntry:
    """Credit a deposit to the user's spot account from the platform's external custody."""
    amount = parse_amount(amount)
    reason = _require_reason(reason)
    spot = account_open(owner=user, kind=AccountKind.SPOT)
    custody = platform_account(kind=AccountKind.EXTERNAL_CUSTODY)
    return transfer_post(
        kind="deposit",
        idempotency_key=f"deposit:{idempotency_key}",
        source_id=custody.pk,
        destination_id=spot.pk,
        amount=amount,
        actor_id=operator.pk,
        reason=reason,
        reference=f"user:{user.pk}",
    )


def withdrawal_request(*, user: User, amount: Decimal, address: str, idempotency_key: str) -> Withdrawal:
    """Hold ``amount`` on the user's spot account pending finance review."""
    amount = parse_amount(amount)
    address = (address or "").strip()
    if not address:
        raise InvalidInput("address", "a destination address is required")
    key = f"withdrawal:{user.pk}:{idempotency_key}"
    spot = account_open(owner=user, kind=AccountKind.SPOT)
    with transaction.atomic():
        # Under the account lock a racing twin has committed or not started: no duplicate insert.
        lock_accounts([spot.pk])
        existing = Withdrawal.objects.filter(idempotency_key=key).first()
        if existing is not None:
            if (existing.amount, existing.address) != (amount, address):
                raise IdempotencyConflict(f"idempotency key {idempotency_key!r} was used for another withdrawal")
            return existing
        hold = hold_place(account_id=spot.pk, amount=amount, idempotency_key=key, reason="withdrawal")
        return Withdrawal.objects.create(
            user=user, account=spot, amount=amount, address=address, hold=hold, idempotency_key=key
        )


def withdrawal_approve(*, withdrawal_id: int, operator: User, reason: str) -> Withdrawal:
    """Finance approves: the held amount leaves for external custody. Approving twice is harmless."""
    reason = _require_reason(reason)
    with transaction.atomic():
        withdrawal = lock_withdrawal(withdrawal_id)
        if withdrawal.status == WithdrawalStatus.APPROVED:
            return withdrawal
        if withdrawal.status != WithdrawalStatus.PENDING:
            raise InvalidState(f"withdrawal {withdrawal.pk} is already {withdrawal.status}")
        custody = platform_account(kind=AccountKind.EXTERNAL_CUSTODY)
        withdrawal.entry = hold_capture(
            hold_id=withdrawal.hold_id,
            destination_id=custody.pk,
            kind="withdrawal",
            idempotency_key=f"withdrawal-capture:{withdrawal.pk}",
            actor_id=operator.pk,
            reason=reason,
            reference=f"withdrawal:{withdrawal.pk}",
        )
        _decide(withdrawal, WithdrawalStatus.APPROVED, operator, reason)
    return withdrawal


def withdrawal_reject(*, withdrawal_id: int, operator: User, reason: str) -> Withdrawal:
    """Finance rejects: the hold is released and the money is available again."""
    reason = _require_reason(reason)
    with transaction.atomic():
        withdrawal = lock_withdrawal(withdrawal_id)
        if withdrawal.status == WithdrawalStatus.REJECTED:
            return withdrawal
        if withdrawal.status != WithdrawalStatus.PENDING:
            raise InvalidState(f"withdrawal {withdrawal.pk} is already {withdrawal.status}")
        hold_release(hold_id=withdrawal.hold_id)
        _decide(withdrawal, WithdrawalStatus.REJECTED, operator, reason)
    return withdrawal


def _decide(withdrawal: Withdrawal, status: str, operator: User, reason: str) -> None:
    withdrawal.status = status
    withdrawal.decided_by = operator
    withdrawal.decided_at = timezone.now()
    withdrawal.decision_reason = reason
    withdrawal.save(update_fields=["status", "decided_by", "decided_at", "decision_reason", "entry"])


def transfer_create(
    *, user: User, source_kind: str, destination_kind: str, amount: Decimal, idempotency_key: str
) -> JournalEntry:
    """Move money between the user's own spot and futures accounts."""
    amount = parse_amount(amount)
    for field, kind in (("source", source_kind), ("destination", destination_kind)):
        if kind not in TRANSFERABLE_KINDS:
            raise InvalidInput(field, f"must be one of {', '.join(TRANSFERABLE_KINDS)}")
    if source_kind == destination_kind:
        raise InvalidInput("destination", "must differ from the source")
    source = account_open(owner=user, kind=source_kind)
    destination = account_open(owner=user, kind=destination_kind)
    return transfer_guarded(
        source=source,
        destination=destination,
        amount=amount,
        kind="transfer",
        idempotency_key=f"transfer:{user.pk}:{idempotency_key}",
        actor_id=user.pk,
        reason=f"{source_kind} to {destination_kind}",
        reference=f"user:{user.pk}",
    )
