"""Orders and positions: fills at the mark, averaging, partial closes, IOC caps, modes. (R-MG-01 … R-MG-03, R-MG-06)"""

import uuid
from decimal import Decimal as D

import pytest

from accounts.models import AccountKind, JournalEntry
from accounts.selectors import ledger_audit
from accounts.services.flows import transfer_create
from config.errors import InsufficientFunds, InvalidInput, RuleViolation
from copytrading.futures.models import CloseReason, OrderStatus, Position, PositionStatus
from copytrading.futures.services.market_settings import market_setting_set
from copytrading.futures.services.orders import order_place
from copytrading.futures.services.positions import position_close, position_margin_adjust
from copytrading.futures.services.prices import mark_price_set
from tests.copytrading.conftest import margin_account
from tests.factories import fund_futures, futures

pytestmark = pytest.mark.django_db


def place(user, market, side="buy", **kwargs):
    return order_place(account=futures(user), market=market, side=side, idempotency_key=uuid.uuid4().hex, **kwargs)


def test_an_order_fills_at_the_mark_with_the_house_as_counterparty(user, btc, platform):
    """R-MG-02: notional = qty × price, margin = notional / leverage, fee = notional × rate."""
    fund_futures(user, "1000")
    market_setting_set(account=futures(user), market=btc, leverage=20, margin_mode="isolated")
    order = place(user, btc, qty=D("0.05"))
    assert (order.price, order.filled_qty, order.status) == (D("60000"), D("0.05"), OrderStatus.FILLED)
    position = order.position
    assert position.margin == D("150")  # 3,000 / 20
    assert order.fee == D("1.8")  # 3,000 × 0.0006
    assert platform(AccountKind.FEE_REVENUE) == D("1.8")


def test_an_order_sized_by_margin_uses_the_leverage_and_rounds_down_to_the_step(user, btc):
    fund_futures(user, "1000")
    market_setting_set(account=futures(user), market=btc, leverage=10)
    order = place(user, btc, margin=D("100"))  # 100 × 10 / 60,000 = 0.01666… → 0.016
    assert order.filled_qty == D("0.016")


def test_adding_to_a_position_averages_the_entry_price(user, btc):
    fund_futures(user, "5000")
    place(user, btc, qty=D("0.1"))
    mark_price_set(market=btc, price=D("62000"))
    order = place(user, btc, qty=D("0.1"))
    assert order.position.qty == D("0.2")
    assert order.position.entry_price == D("61000")


def test_a_partial_close_realises_the_pnl_of_the_closed_part(user, btc):
    """Close 40 % of a 0.1 long from 60,000 at 61,000: PnL 0.04 × 1,000 = 40, fee 0.04 × 61,000 × 0.0006 = 1.464."""
    wallet = fund_futures(user, "1000")
    market_setting_set(account=wallet, market=btc, leverage=10, margin_mode="isolated")
    position = place(user, btc, qty=D("0.1")).position
    mark_price_set(market=btc, price=D("61000"))
    order = position_close(position=position, fraction=D("0.4"), idempotency_key="half")
    close = position.closes.get()
    assert (close.qty, close.realised_pnl, close.fee, close.reason) == (D("0.04"), D("40"), D("1.464"), "manual")
    position.refresh_from_db()
    assert (position.qty, position.margin) == (D("0.06"), D("360"))
    # 1,000 − 600 margin − 3.6 fee + 240 margin back + 40 profit − 1.464 fee
    assert futures(user).balance == D("674.936")
    assert margin_account(wallet).balance == D("360")
    assert order.realised_pnl == D("40")
    assert ledger_audit().ok


def test_a_reduce_only_order_never_opens_the_other_side(user, btc):
    fund_futures(user, "1000")
    place(user, btc, qty=D("0.01"))
    order = place(user, btc, side="sell", qty=D("0.05"), reduce_only=True)
    assert order.filled_qty == D("0.01")
    assert not Position.objects.filter(status=PositionStatus.OPEN).exists()
    assert order.position.closes.get().reason == CloseReason.REDUCE_ONLY
    with pytest.raises(InvalidInput, match="no open position"):
        place(user, btc, side="sell", qty=D("0.01"), reduce_only=True)


def test_an_opposite_order_larger_than_the_position_flips_it(user, btc):
    fund_futures(user, "5000")
    place(user, btc, qty=D("0.01"))
    order = place(user, btc, side="sell", qty=D("0.03"))
    open_positions = Position.objects.filter(status=PositionStatus.OPEN)
    assert [(p.side, p.qty) for p in open_positions] == [("short", D("0.02"))]
    assert order.position.side == "short"
    assert ledger_audit().ok


def test_an_order_beyond_the_liquidity_cap_fills_the_cap_and_cancels_the_rest(user, btc):
    """R-MG-01: the market's maximum quantity per order, immediate-or-cancel."""
    btc.max_order_qty = D("0.05")
    btc.save()
    fund_futures(user, "10000")
    order = place(user, btc, qty=D("0.08"))
    assert (order.requested_qty, order.filled_qty, order.status) == (D("0.08"), D("0.05"), "partially_filled")
    assert not order.is_fully_filled


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"qty": D("0")}, "qty"),
        ({"qty": D("-1")}, "qty"),
        ({"qty": D("0.0000000001")}, "qty"),
        ({"qty": D("0.0001")}, "qty"),  # below the minimum 0.001
        ({"qty": "abc"}, "qty"),
        ({"qty": 0.1}, "qty"),
        ({"margin": D("1")}, "margin"),  # 10 / 60,000 rounds to 0 < minimum
        ({"qty": D("1"), "margin": D("1")}, "qty"),
    ],
)
def test_bad_quantities_are_refused_naming_the_field_and_change_nothing(user, btc, kwargs, field):
    fund_futures(user, "1000")
    entries = JournalEntry.objects.count()
    with pytest.raises(InvalidInput) as info:
        place(user, btc, **kwargs)
    assert field in info.value.fields
    assert JournalEntry.objects.count() == entries
    assert not Position.objects.exists()


def test_an_order_the_margin_cannot_cover_is_refused(user, btc):
    fund_futures(user, "100")
    with pytest.raises(InsufficientFunds):
        place(user, btc, qty=D("0.02"))  # margin 120 + fee 0.72 > 100
    assert futures(user).balance == D("100")


@pytest.mark.parametrize("leverage", [0, 126, -1])
def test_leverage_outside_one_to_the_market_maximum_is_refused(user, btc, leverage):
    """R-MG-03 / R-CT-05: leverage is 1 … the market maximum."""
    with pytest.raises(InvalidInput) as info:
        market_setting_set(account=futures(user), market=btc, leverage=leverage)
    assert "leverage" in info.value.fields


def test_the_margin_mode_cannot_change_with_an_open_position_but_pairs_may_differ(user, btc, eth):
    """R-MG-03: cross in one pair, isolated in another; no mode switch with an open position."""
    fund_futures(user, "5000")
    market_setting_set(account=futures(user), market=btc, margin_mode="cross")
    market_setting_set(account=futures(user), market=eth, margin_mode="isolated")
    assert place(user, btc, qty=D("0.01")).position.margin_mode == "cross"
    assert place(user, eth, qty=D("0.1")).position.margin_mode == "isolated"
    with pytest.raises(RuleViolation):
        market_setting_set(account=futures(user), market=btc, margin_mode="isolated")


def test_isolated_margin_can_be_added_and_removed_only_down_to_a_safe_level(user, btc):
    """R-MG-05: removal never below the initial margin at the mark (unrealised losses counted)."""
    fund_futures(user, "2000")
    market_setting_set(account=futures(user), market=btc, leverage=10, margin_mode="isolated")
    position = place(user, btc, qty=D("0.1")).position
    before = position.liquidation_price
    position = position_margin_adjust(position=position, amount=D("300"), idempotency_key="add")
    assert position.margin == D("900")
    assert position.liquidation_price < before
    with pytest.raises(RuleViolation):
        position_margin_adjust(position=position, amount=D("-300.01"), idempotency_key="too-much")
    position = position_margin_adjust(position=position, amount=D("-300"), idempotency_key="back")
    assert position.liquidation_price == before
    assert ledger_audit().ok


def test_margin_in_use_cannot_be_transferred_out_of_a_cross_futures_account(user, btc):
    """R-MG-06: margin in use is not available; what is free can still leave."""
    fund_futures(user, "1000")
    market_setting_set(account=futures(user), market=btc, leverage=10, margin_mode="cross")
    position = place(user, btc, qty=D("0.1")).position  # margin 600, fee 3.6 → free 396.4
    position.refresh_from_db()
    with pytest.raises(InsufficientFunds):
        transfer_create(
            user=user, source_kind="futures", destination_kind="spot", amount=D("396.41"), idempotency_key="x"
        )
    before = position.liquidation_price
    transfer_create(user=user, source_kind="futures", destination_kind="spot", amount=D("196.4"), idempotency_key="y")
    position.refresh_from_db()
    assert position.liquidation_price > before  # less cushion: the estimate moved up
    assert ledger_audit().ok
