"""The ledger service: the only code that writes journal entries, postings and balances.

Guarantees, each also enforced by the database where it can be:
- every entry balances per currency (service check + deferred constraint trigger);
- every entry has a unique idempotency key: posting the same key again returns the
  first entry and changes nothing; the same key with other content is an error;
- cached balances change in the same transaction as the postings, under locks
  taken in account-id order; a user account never goes below zero, and a debit
  never takes money that is held.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import hooks
from accounts.lock_objects import lock_accounts, lock_hold
from accounts.models import Hold, HoldStatus, JournalEntry, LedgerAccount, Posting
from accounts.money import ZERO, parse_amount
from config.db import bulk_update_rows, copy_rows
from config.errors import IdempotencyConflict, InsufficientFunds, InvalidInput, InvalidState


@dataclass(frozen=True)
class Leg:
    """One side of an entry: a signed amount on an account (credit > 0, debit < 0)."""

    account_id: int
    amount: Decimal


def _fingerprint(kind: str, legs: Sequence[Leg]) -> str:
    canon = kind + "|" + ";".join(f"{leg.account_id}:{leg.amount}" for leg in sorted(legs, key=lambda x: x.account_id))
    return hashlib.sha256(canon.encode()).hexdigest()


def _validated_legs(legs: Sequence[Leg]) -> list[Leg]:
    if len(legs) < 2:
        raise InvalidInput("postings", "an entry needs at least two postings")
    merged: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for leg in legs:
        merged[leg.account_id] += parse_amount(leg.amount, field="amount", positive=False)
    out = [Leg(account_id=a, amount=amt) for a, amt in merged.items() if amt != 0]
    if len(out) < 2:
        raise InvalidInput("postings", "an entry must move money between at least two accounts")
    return out


def _existing_entry(key: str, fingerprint: str) -> JournalEntry | None:
    entry = JournalEntry.objects.filter(idempotency_key=key).first()
    if entry is not None and entry.fingerprint != fingerprint:
        raise IdempotencyConflict(f"idempotency key {key!r} was already used for a different entry")
    return entry


def entry_post(
    *,
    kind: str,
    idempotency_key: str,
    legs: Sequence[Leg],
    actor_id: int | None = None,
    reason: str = "",
    reference: str = "",
    release_held: dict[int, Decimal] | None = None,
    locked: dict[int, LedgerAccount] | None = None,
) -> JournalEntry:
    """Post one balanced journal entry and update the cached balances.

    ``release_held`` lowers accounts' held amounts in the same transaction (used
    when capturing a hold, so the captured money may be debited). ``locked``
    passes accounts the caller already holds locked in this transaction (bulk
    writers lock their users' rows first): they are not locked again, and their
    cached balances are updated in place.
    Raises ``InsufficientFunds`` when a user account would go below its held
    amount, ``IdempotencyConflict`` when the key names a different entry.
    """
    if not idempotency_key:
        raise InvalidInput("idempotency_key", "is required")
    legs = _validated_legs(legs)
    currencies: dict[str, Decimal] = defaultdict(lambda: ZERO)
    fingerprint = _fingerprint(kind, legs)
    release_held = release_held or {}

    with transaction.atomic():
        locked = locked or {}
        accounts = {leg.account_id: locked[leg.account_id] for leg in legs if leg.account_id in locked}
        accounts.update(lock_accounts([leg.account_id for leg in legs if leg.account_id not in locked]))
        if len(accounts) != len(legs):
            raise InvalidInput("account", "unknown ledger account")
        # Checked after the locks: a concurrent twin has committed by now.
        existing = _existing_entry(idempotency_key, fingerprint)
        if existing is not None:
            return existing
        for leg in legs:
            currencies[accounts[leg.account_id].currency] += leg.amount
        if any(total != 0 for total in currencies.values()):
            raise InvalidInput("postings", "postings must sum to zero in every currency")

        for leg in legs:
            account = accounts[leg.account_id]
            account.held -= release_held.get(account.pk, ZERO)
            account.balance += leg.amount
            if not account.is_platform and account.balance - account.held < 0:
                raise InsufficientFunds(
                    f"insufficient funds in {account.kind} account: available "
                    f"{account.available - leg.amount}, needed {-leg.amount}",
                    fields={"amount": ["exceeds the available balance"]},
                )
        try:
            with transaction.atomic():
                entry = JournalEntry.objects.create(
                    kind=kind,
                    idempotency_key=idempotency_key,
                    fingerprint=fingerprint,
                    actor_id=actor_id,
                    reason=reason,
                    reference=reference,
                )
        except IntegrityError:
            existing = _existing_entry(idempotency_key, fingerprint)
            if existing is None:
                raise
            return existing
        copy_rows(
            Posting,
            ("entry_id", "account_id", "amount", "currency"),
            ((entry.pk, leg.account_id, leg.amount, accounts[leg.account_id].currency) for leg in legs),
        )
        bulk_update_rows(LedgerAccount, list(accounts.values()), ["balance", "held"])
    return entry


def transfer_post(
    *,
    kind: str,
    idempotency_key: str,
    source_id: int,
    destination_id: int,
    amount: Decimal,
    actor_id: int | None = None,
    reason: str = "",
    reference: str = "",
) -> JournalEntry:
    """Move a positive ``amount`` from one account to another as one entry."""
    amount = parse_amount(amount)
    if source_id == destination_id:
        raise InvalidInput("destination", "must differ from the source account")
    return entry_post(
        kind=kind,
        idempotency_key=idempotency_key,
        legs=[Leg(source_id, -amount), Leg(destination_id, amount)],
        actor_id=actor_id,
        reason=reason,
        reference=reference,
    )


def hold_place(*, account_id: int, amount: Decimal, idempotency_key: str, reason: str = "") -> Hold:
    """Reserve ``amount`` of an account's available balance. Retrying the key returns the same hold."""
    amount = parse_amount(amount)
    with transaction.atomic():
        account = lock_accounts([account_id]).get(account_id)
        if account is None:
            raise InvalidInput("account", "unknown ledger account")
        existing = Hold.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            if existing.account_id != account_id or existing.amount != amount:
                raise IdempotencyConflict(f"idempotency key {idempotency_key!r} was already used for a different hold")
            return existing
        if not account.is_platform and account.available < amount:
            raise InsufficientFunds(
                f"insufficient funds: available {account.available}, requested {amount}",
                fields={"amount": ["exceeds the available balance"]},
            )
        hold = Hold.objects.create(account=account, amount=amount, idempotency_key=idempotency_key, reason=reason)
        account.held += amount
        account.save(update_fields=["held"])
        hooks.balance_changed(account)
    return hold


def hold_capture(
    *,
    hold_id: int,
    destination_id: int,
    amount: Decimal | None = None,
    kind: str,
    idempotency_key: str,
    actor_id: int | None = None,
    reason: str = "",
    reference: str = "",
) -> JournalEntry:
    """Capture all (default) or part of an active hold into ``destination``; the rest is released.

    A hold is captured once: capturing it again with the same key returns the entry.
    """
    with transaction.atomic():
        hold = lock_hold(hold_id)
        if hold.status == HoldStatus.CAPTURED and hold.capture_entry.idempotency_key == idempotency_key:
            return hold.capture_entry
        if hold.status != HoldStatus.ACTIVE:
            raise InvalidState(f"hold {hold.pk} is {hold.status}")
        if JournalEntry.objects.filter(idempotency_key=idempotency_key).exists():
            raise IdempotencyConflict(f"idempotency key {idempotency_key!r} already belongs to another entry")
        amount = hold.amount if amount is None else parse_amount(amount)
        if amount > hold.amount:
            raise InvalidInput("amount", f"cannot capture more than the hold ({hold.amount})")
        entry = entry_post(
            kind=kind,
            idempotency_key=idempotency_key,
            legs=[Leg(hold.account_id, -amount), Leg(destination_id, amount)],
            actor_id=actor_id,
            reason=reason,
            reference=reference,
            release_held={hold.account_id: hold.amount},
        )
        hold.captured = amount
        hold.status = HoldStatus.CAPTURED
        hold.capture_entry = entry
        hold.closed_at = timezone.now()
        hold.save(update_fields=["captured", "status", "capture_entry", "closed_at"])
    return entry


def hold_release(*, hold_id: int) -> Hold:
    """Release an active hold; releasing a released hold changes nothing."""
    with transaction.atomic():
        hold = lock_hold(hold_id)
        if hold.status == HoldStatus.RELEASED:
            return hold
        if hold.status != HoldStatus.ACTIVE:
            raise InvalidState(f"hold {hold.pk} is {hold.status}")
        account = lock_accounts([hold.account_id])[hold.account_id]
        account.held -= hold.amount
        account.save(update_fields=["held"])
        hooks.balance_changed(account)
        hold.status = HoldStatus.RELEASED
        hold.closed_at = timezone.now()
        hold.save(update_fields=["status", "closed_at"])
    return hold


def transfer_guarded(
    *,
    source: LedgerAccount,
    destination: LedgerAccount,
    amount: Decimal,
    kind: str,
    idempotency_key: str,
    actor_id: int | None = None,
    reason: str = "",
    reference: str = "",
    limit: Decimal | None = None,
) -> JournalEntry:
    """Move money out of an account no further than what may leave it, and tell the apps that watch balances.

    Locks both accounts, asks ``accounts.hooks`` how much may leave ``source``
    (e.g. the futures venue keeps margin in use), applies the caller's own
    ``limit`` too, posts the entry and reports both balance changes. A retry of
    the same key returns the first entry without checking again.
    """
    amount = parse_amount(amount)
    with transaction.atomic():
        locked = lock_accounts([source.pk, destination.pk])
        existing = JournalEntry.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
        room = hooks.withdrawable(locked[source.pk])
        if limit is not None:
            room = min(room, limit)
        if amount > room:
            raise InsufficientFunds(
                f"at most {max(room, ZERO)} USDT can leave this {source.kind} account now",
                fields={"amount": [f"at most {max(room, ZERO)}"]},
            )
        entry = transfer_post(
            kind=kind,
            idempotency_key=idempotency_key,
            source_id=source.pk,
            destination_id=destination.pk,
            amount=amount,
            actor_id=actor_id,
            reason=reason,
            reference=reference,
        )
        for account in (source, destination):
            account.refresh_from_db(fields=["balance", "held"])
            hooks.balance_changed(account)
    return entry
