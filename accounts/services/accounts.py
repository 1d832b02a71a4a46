"""Opening ledger accounts for users and for the platform."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import IntegrityError, transaction

from accounts.models import PLATFORM_KINDS, AccountKind, LedgerAccount, User
from accounts.money import CURRENCY

USER_DEFAULT_KINDS = (AccountKind.SPOT, AccountKind.FUTURES)


def _get_or_create(**lookup) -> LedgerAccount:
    # get_or_create under a unique constraint: a concurrent creator wins, we read its row.
    account = LedgerAccount.objects.filter(**lookup).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return LedgerAccount.objects.create(**lookup)
    except IntegrityError:
        return LedgerAccount.objects.get(**lookup)


def account_open(*, owner: User, kind: str, ref: str = "", currency: str = CURRENCY) -> LedgerAccount:
    """Return the user's account of ``kind`` (and ``ref``), opening it on first use."""
    if kind in PLATFORM_KINDS:
        raise ValueError(f"{kind} is a platform account kind")
    return _get_or_create(owner=owner, kind=kind, ref=ref, currency=currency)


def accounts_open(*, kind: str, owners_and_refs: list[tuple[int, str]], currency: str = CURRENCY) -> None:
    """``account_open`` for many (owner id, ref) pairs at once: one INSERT, the existing ones left as they are.

    For bulk callers (the copy fan-out opens the isolated-margin accounts of
    thousands of first-time sub-accounts); they read and lock the rows after.
    """
    if kind in PLATFORM_KINDS:
        raise ValueError(f"{kind} is a platform account kind")
    LedgerAccount.objects.bulk_create(
        [LedgerAccount(owner_id=owner, kind=kind, ref=ref, currency=currency) for owner, ref in owners_and_refs],
        ignore_conflicts=True,  # opened meanwhile by someone else: (owner, kind, currency, ref) is unique
    )


def platform_account(*, kind: str, ref: str = "", currency: str = CURRENCY) -> LedgerAccount:
    """Return the platform's account of ``kind``, opening it on first use."""
    if kind not in PLATFORM_KINDS:
        raise ValueError(f"{kind} is not a platform account kind")
    return _get_or_create(owner=None, kind=kind, ref=ref, currency=currency)


def platform_accounts(*, kinds: Sequence[str], currency: str = CURRENCY) -> dict[str, int]:
    """``platform_account`` ids for several kinds in one query (kind → id), opening any missing one."""
    ids = dict(
        LedgerAccount.objects.filter(owner=None, kind__in=kinds, ref="", currency=currency).values_list("kind", "id")
    )
    for kind in kinds:
        if kind not in ids:  # first use on this platform
            ids[kind] = platform_account(kind=kind, currency=currency).pk
    return ids


def user_open_default_accounts(*, user: User) -> list[LedgerAccount]:
    """Open the spot and futures accounts every user has."""
    return [account_open(owner=user, kind=kind) for kind in USER_DEFAULT_KINDS]
