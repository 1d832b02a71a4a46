"""Row locks of the futures venue, in one global order.

0. in the copy fan-out: followings (by id);
1. the trading accounts' ledger rows, their isolated-margin accounts and any funds
   account that pays their fees first (``hooks.register_funds_source``) (user rows, by id);
2. positions, by id; then, in the copy fan-out, the market's token-follow-limit advisory lock;
3. platform ledger rows (house, fees, insurance), taken last by the ledger service.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q

from accounts.lock_objects import lock_accounts
from accounts.models import AccountKind, LedgerAccount
from accounts.services.accounts import account_open, accounts_open
from config.db import rows_to_instances
from copytrading.futures import hooks
from copytrading.futures.models import Position, PositionStatus

# What a book's accounts are read with: the rest of a ledger account is not needed to trade.
BOOK_COLUMNS = ("id", "owner_id", "kind", "ref", "currency", "balance", "held")


@dataclass
class Book:
    """A trading account and its isolated-margin account, both locked; and the funds that pay first, if any."""

    wallet: LedgerAccount
    margin: LedgerAccount
    funds: LedgerAccount | None = None

    def accounts(self) -> list[LedgerAccount]:
        """The locked rows, for ``entry_post(locked=…)``."""
        return [a for a in (self.wallet, self.margin, self.funds) if a is not None]


def margin_account_for(wallet: LedgerAccount) -> LedgerAccount:
    return account_open(owner=wallet.owner, kind=AccountKind.POSITION_MARGIN, ref=str(wallet.pk))


def lock_books(wallets: Iterable[LedgerAccount]) -> dict[int, Book]:
    """Lock trading accounts and their margin accounts (opened on first use), keyed by wallet id.

    One query finds the margin accounts of all the wallets; only missing ones are opened one by one.
    """
    wallets = list(wallets)
    margins = {
        int(a.ref): a
        for a in LedgerAccount.objects.filter(
            owner_id__in={w.owner_id for w in wallets},
            kind=AccountKind.POSITION_MARGIN,
            ref__in=[str(w.pk) for w in wallets],
        )
    }
    for w in wallets:
        if w.pk not in margins:
            margins[w.pk] = margin_account_for(w)
    funds = hooks.funds_accounts([w.pk for w in wallets])
    locked = lock_accounts([w.pk for w in wallets] + [m.pk for m in margins.values()] + list(funds.values()))
    return {
        w.pk: Book(
            wallet=locked[w.pk],
            margin=locked[margins[w.pk].pk],
            funds=locked[funds[w.pk]] if w.pk in funds else None,
        )
        for w in wallets
    }


def lock_open_positions(position_ids: Iterable[int]) -> list[Position]:
    return list(
        Position.objects.filter(pk__in=sorted(set(position_ids)), status=PositionStatus.OPEN)
        .select_related("market")
        .order_by("pk")
        .select_for_update(of=("self",))
    )


def refresh_balances(wallets: Iterable[LedgerAccount]) -> None:
    """Re-read the balances of (locked) accounts after the ledger posted to them, in one query."""
    wallets = list(wallets)
    fresh = dict(
        (pk, (balance, held))
        for pk, balance, held in LedgerAccount.objects.filter(pk__in=[w.pk for w in wallets]).values_list(
            "pk", "balance", "held"
        )
    )
    for w in wallets:
        w.balance, w.held = fresh[w.pk]


def lock_books_for(owners_by_wallet: dict[int, int]) -> dict[int, Book]:
    """``lock_books`` by ids (wallet id → owner id): wallets and margin accounts locked in one statement.

    Margin accounts that do not exist yet (the accounts' first trade) are opened
    in one statement and locked in a second; being new, their ids come after
    every row already locked, so the id order holds.
    """
    def locked(condition: Q) -> dict[int, LedgerAccount]:
        query = LedgerAccount.objects.filter(condition).order_by("pk").select_for_update().values_list(*BOOK_COLUMNS)
        return {a.pk: a for a in rows_to_instances(LedgerAccount, BOOK_COLUMNS, query)}

    def margins_of(wallets: dict[int, int]) -> Q:
        refs = {str(w) for w in wallets}
        return Q(owner_id__any=set(wallets.values()), kind=AccountKind.POSITION_MARGIN, ref__any=refs)

    funds = hooks.funds_accounts(list(owners_by_wallet))
    rows = locked(Q(pk__any=set(owners_by_wallet) | set(funds.values())) | margins_of(owners_by_wallet))
    margins = {int(a.ref): a for a in rows.values() if a.kind == AccountKind.POSITION_MARGIN and int(a.ref) in rows}
    missing = {w: owner for w, owner in owners_by_wallet.items() if w not in margins}
    if missing:
        accounts_open(kind=AccountKind.POSITION_MARGIN, owners_and_refs=[(o, str(w)) for w, o in missing.items()])
        margins.update({int(a.ref): a for a in locked(margins_of(missing)).values()})
    return {
        w: Book(wallet=rows[w], margin=margins[w], funds=rows[funds[w]] if w in funds else None)
        for w in owners_by_wallet
    }
