"""The venue's extension points (``copytrading.futures.hooks``): what apps built on it may plug in.

Each test registers its own listener and takes it back, so the copy engine's
registrations (made at app start) are the only ones the rest of the suite sees.
"""

import uuid
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from accounts.models import AccountKind, JournalEntry
from accounts.selectors import ledger_audit
from accounts.services.accounts import account_open
from config.errors import RuleViolation
from copytrading.futures import hooks
from copytrading.futures.models import Order, Position
from copytrading.futures.services.bulk import slot_guard_set
from copytrading.futures.services.funding import funding_run
from copytrading.futures.services.liquidation import risk_sweep
from copytrading.futures.services.market_settings import market_setting_set
from copytrading.futures.services.orders import order_place
from copytrading.futures.services.positions import position_close
from copytrading.futures.services.prices import mark_price_set
from tests.factories import fund_futures, fund_spot, futures

pytestmark = pytest.mark.django_db


@pytest.fixture
def registered():
    """``registered(fn)`` registers a hook for this test only."""
    added = []

    def register(register_fn, item):
        register_fn(item)
        added.append(item)
        return item

    yield register
    for item in added:
        hooks.unregister(item)


def place(user, market, side="buy", **kwargs):
    return order_place(account=futures(user), market=market, side=side, idempotency_key=uuid.uuid4().hex, **kwargs)


# --- order checks ----------------------------------------------------------------------------------


def cap_at_5x(*, account, market, leverage, opens):
    if opens and leverage > 5:
        raise RuleViolation("a protected account trades at 5x at most", fields={"leverage": ["at most 5"]})


def test_an_order_check_refuses_an_open_above_its_leverage_cap_and_nothing_moves(user, btc, registered):
    """The seam a capital-protected program will use to cap leverage at 5x (built with the programs)."""
    fund_futures(user, "1000")
    market_setting_set(account=futures(user), market=btc, leverage=10, margin_mode="isolated")
    registered(hooks.register_order_check, cap_at_5x)
    entries = JournalEntry.objects.count()

    with pytest.raises(RuleViolation) as refused:
        place(user, btc, qty=D("0.01"))

    assert refused.value.fields == {"leverage": ["at most 5"]}
    assert (Order.objects.count(), Position.objects.count(), JournalEntry.objects.count()) == (0, 0, entries)
    assert futures(user).balance == D("1000")


def test_an_order_check_also_refuses_choosing_that_leverage_but_lets_a_reduce_only_order_through(
    user, btc, registered
):
    fund_futures(user, "1000")
    market_setting_set(account=futures(user), market=btc, leverage=10, margin_mode="isolated")
    opened = place(user, btc, qty=D("0.01"))
    registered(hooks.register_order_check, cap_at_5x)

    with pytest.raises(RuleViolation):
        market_setting_set(account=futures(user), market=btc, leverage=6)
    closed = place(user, btc, side="sell", qty=D("0.01"), reduce_only=True)  # reducing adds no exposure

    assert closed.position_id == opened.position_id and closed.position.status == "closed"
    assert market_setting_set(account=futures(user), market=btc, leverage=5).leverage == 5


# --- fill watchers ---------------------------------------------------------------------------------


class Watcher:
    def __init__(self, account_id):
        self.account_id, self.heard = account_id, []

    def watches(self, account):
        return "token" if account.pk == self.account_id else None

    def note(self, token, *, filled, requested, opens):
        return "watched_open" if opens else ""

    def filled(self, token, *, order):
        self.heard.append((token, order.pk))


def test_a_fill_watcher_records_the_equity_before_and_its_note_and_hears_the_fill(user, other_user, btc, registered):
    fund_futures(user, "1000")
    fund_futures(other_user, "1000")
    watcher = registered(hooks.register_fill_watcher, Watcher(futures(user).pk))

    watched = place(user, btc, qty=D("0.01"))
    unwatched = place(other_user, btc, qty=D("0.01"))
    closing = place(user, btc, side="sell", qty=D("0.01"))

    assert (watched.lead_equity, watched.copy_blocked) == (D("1000"), "watched_open")
    assert (unwatched.lead_equity, unwatched.copy_blocked) == (None, "")
    assert closing.copy_blocked == ""  # a close opens nothing
    assert watcher.heard == [("token", watched.pk), ("token", closing.pk)]


# --- guard listeners -------------------------------------------------------------------------------


def test_a_sweep_hands_the_guarded_slots_of_its_market_to_the_guard_listeners(user, btc, eth, registered):
    fund_futures(user, "10000")
    guarded = place(user, btc, qty=D("0.01"), slot=7).position
    place(user, eth, qty=D("0.1"), slot=8)  # guarded too, but in another market
    place(user, btc, qty=D("0.01"), slot=9)  # in the market, not guarded
    slot_guard_set(slot=7, guarded=True)
    slot_guard_set(slot=8, guarded=True)
    heard = []
    registered(hooks.register_guard_listener, lambda *, slots, key: heard.append((slots, key)))

    tick = mark_price_set(market=btc, price=D("60100"))
    sweep = risk_sweep(market_id=btc.pk, tick_id=tick.pk)

    assert heard == [([guarded.slot], f"sweep:{sweep.pk}")]


# --- funds sources ---------------------------------------------------------------------------------


@pytest.fixture
def voucher_funds(user, registered):
    """A stand-in for experience-voucher funds: an account of the user's that pays its futures fees first."""
    funds = account_open(owner=user, kind=AccountKind.SPOT)
    wallet = futures(user)
    registered(hooks.register_funds_source, lambda ids: {wallet.pk: funds.pk} if wallet.pk in ids else {})
    return funds


def balance(account):
    account.refresh_from_db()
    return account.balance


def test_fees_are_drawn_from_the_funds_source_first_and_the_wallet_pays_the_margin(user, btc, voucher_funds):
    """Fee 0.36 of an open of 0.01 BTC at 60,000 (rate 0.0006): 0.25 from the funds, 0.11 from the wallet."""
    fund_futures(user, "1000")
    fund_spot(user, "0.25")
    market_setting_set(account=futures(user), market=btc, leverage=10, margin_mode="isolated")

    order = place(user, btc, qty=D("0.01"))

    assert order.fee == D("0.36")
    assert balance(voucher_funds) == 0
    assert futures(user).balance == D("1000") - D("60") - D("0.11")  # margin 60 and the rest of the fee
    assert order.position.fees_paid == D("0.36")
    assert ledger_audit().ok


def test_an_open_the_wallet_alone_could_not_pay_goes_through_when_the_funds_pay_its_fee(user, btc, voucher_funds):
    fund_futures(user, "60")  # exactly the margin of 0.01 BTC at 10x: not its fee as well
    fund_spot(user, "1")
    market_setting_set(account=futures(user), market=btc, leverage=10, margin_mode="isolated")

    order = place(user, btc, qty=D("0.01"))

    assert (futures(user).balance, balance(voucher_funds)) == (D("0"), D("0.64"))
    assert order.position.margin == D("60")


def test_a_close_fee_and_a_funding_payment_come_from_the_funds_source_first(user, btc, voucher_funds):
    fund_futures(user, "1000")
    fund_spot(user, "10")
    market_setting_set(account=futures(user), market=btc, leverage=10, margin_mode="cross")
    position = place(user, btc, qty=D("0.1")).position  # fee 3.6 from the funds: 6.4 left

    funding_run(market=btc, funding_time=datetime(2026, 11, 21, 8, tzinfo=UTC))  # the long pays 0.6
    assert balance(voucher_funds) == D("5.8")
    position_close(position=position, idempotency_key="close")  # fee 3.6 again

    assert balance(voucher_funds) == D("2.2")
    assert futures(user).balance == D("1000")  # the wallet paid nothing: no PnL at an unchanged mark
    position.refresh_from_db()
    assert (position.fees_paid, position.closes.get().funding) == (D("7.2"), D("0.6"))  # funding moves to the close
    assert ledger_audit().ok
