"""Extension points of the futures venue, for the apps built on it.

The venue knows nothing of copying, vouchers or protected programs; they
register here at app start (``AppConfig.ready``) and the venue calls them at
fixed points:

- **order checks** — ``check(account=, market=, leverage=, opens=)`` runs before an
  order fills (``opens``: it may open or add, i.e. not reduce-only) and when a
  leverage is chosen (``opens=True``), and raises a ``config.errors.ServiceError``
  to refuse it, which changes nothing (a protected program caps leverage at 5x, R-CP-02);
- **fill watchers** — accounts whose fills someone follows: the watcher says
  whether it watches an account, may note on the order why its open is not
  followed, and hears of the fill inside its transaction (the copy engine
  queues the fan-out of a lead's fill);
- **guard listeners** — after a risk sweep, the slots of open positions marked
  ``guarded`` in the swept market (the Net Value Guardian, R-CT-06);
- **funds sources** — an account other than the trading account itself that
  pays fees and funding first (experience-voucher funds, R-XV-02); the venue
  draws from it up to its free balance, then from the trading account.

A registration is idempotent, so a module imported twice registers once.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from accounts.models import LedgerAccount
    from copytrading.futures.models import Market, Order


class OrderCheck(Protocol):
    def __call__(self, *, account: LedgerAccount, market: Market, leverage: int, opens: bool) -> None: ...


class FillWatcher(Protocol):
    def watches(self, account: LedgerAccount) -> Any | None:
        """A token (e.g. the lead trader) when this account's fills are followed, else None."""

    def note(self, token: Any, *, filled: Decimal, requested: Decimal, opens: bool) -> str:
        """Why this fill's open is not followed ("" when it is); recorded on the order."""

    def filled(self, token: Any, *, order: Order) -> None:
        """The order is recorded; runs inside the fill's transaction (queue work with on_commit)."""


GuardListener = Callable[..., None]  # (*, slots: list[int], key: str) -> None
# Trading-account ids -> {trading-account id: id of the account that pays its fees and funding first}.
FundsSource = Callable[[list[int]], dict[int, int]]

_order_checks: list[OrderCheck] = []
_fill_watchers: list[FillWatcher] = []
_guard_listeners: list[GuardListener] = []
_funds_sources: list[FundsSource] = []


def _add(registry: list, item: object) -> None:
    if item not in registry:
        registry.append(item)


def register_order_check(check: OrderCheck) -> None:
    _add(_order_checks, check)


def register_fill_watcher(watcher: FillWatcher) -> None:
    _add(_fill_watchers, watcher)


def register_guard_listener(listener: GuardListener) -> None:
    _add(_guard_listeners, listener)


def register_funds_source(source: FundsSource) -> None:
    _add(_funds_sources, source)


def unregister(item: object) -> None:
    """Remove a registration (tests register their own and take them back)."""
    for registry in (_order_checks, _fill_watchers, _guard_listeners, _funds_sources):
        if item in registry:
            registry.remove(item)


def order_check(*, account: LedgerAccount, market: Market, leverage: int, opens: bool) -> None:
    """Every registered check, in registration order; the first to refuse stops the order."""
    for check in _order_checks:
        check(account=account, market=market, leverage=leverage, opens=opens)


def fill_watchers(account: LedgerAccount) -> list[tuple[FillWatcher, Any]]:
    """The watchers of this account's fills, each with its token."""
    return [(w, token) for w in _fill_watchers if (token := w.watches(account)) is not None]


def guarded_slots_checked(*, slots: list[int], key: str) -> None:
    for listener in _guard_listeners:
        listener(slots=slots, key=key)


def funds_accounts(wallet_ids: list[int]) -> dict[int, int]:
    """For the trading accounts a source names, the account that pays their fees and funding first.

    Asked once per batch of books, so a source answers with one query; with no
    source registered it costs nothing.
    """
    found: dict[int, int] = {}
    for source in _funds_sources:
        for wallet_id, funds_id in source(wallet_ids).items():
            found.setdefault(wallet_id, funds_id)
    return found
