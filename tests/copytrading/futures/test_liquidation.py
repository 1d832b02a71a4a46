"""Liquidation exactly as R-MG-04 says, through orders and the risk sweep."""

import uuid
from decimal import Decimal as D

import pytest

from accounts.models import AccountKind
from accounts.selectors import ledger_audit
from copytrading.futures.models import CloseReason, OutboxEvent, Position, PositionStatus
from copytrading.futures.services.liquidation import risk_sweep
from copytrading.futures.services.market_settings import market_setting_set
from copytrading.futures.services.orders import order_place
from copytrading.futures.services.prices import mark_price_set
from tests.copytrading.conftest import margin_account
from tests.factories import fund_futures, futures

pytestmark = pytest.mark.django_db


def tick(market, price):
    mark = mark_price_set(market=market, price=D(price))
    return risk_sweep(market_id=market.pk, tick_id=mark.pk)


def open_btc(user, market, *, side="buy", qty="0.1", leverage=10, mode="isolated"):
    market_setting_set(account=futures(user), market=market, leverage=leverage, margin_mode=mode)
    return order_place(account=futures(user), market=market, side=side, qty=D(qty), idempotency_key=uuid.uuid4().hex)


def test_the_worked_example_opens_with_margin_600_fee_3_6_and_liquidation_price_54271_36(user, btc, platform):
    """R-MG-04 / R-MG-02: 10x isolated long 0.1 BTC at 60,000, taker 0.06 %, maintenance 0.5 %."""
    wallet = fund_futures(user, "1000")
    order = open_btc(user, btc)
    position = Position.objects.get(pk=order.position_id)
    assert position.margin == D("600")  # 0.1 × 60,000 / 10
    assert order.fee == D("3.6")  # 6,000 × 0.0006
    assert position.liquidation_price == D("54271.36")  # 5,400 / 0.0995 = 54,271.3567… rounded up a tick
    assert futures(user).balance == D("1000") - D("600") - D("3.6")
    assert margin_account(wallet).balance == D("600")
    assert platform(AccountKind.FEE_REVENUE) == D("3.6")
    assert ledger_audit().ok


def test_a_price_falling_through_the_liquidation_price_liquidates_and_the_user_loses_exactly_the_margin(
    user, btc, platform
):
    """R-MG-04: at 54,271.36 the position survives; one tick lower it is liquidated."""
    fund_futures(user, "1000")
    position = Position.objects.get(pk=open_btc(user, btc).position_id)

    tick(btc, "54271.36")  # 600 − 572.864 = 27.136 ≥ maintenance 27.13568: safe
    position.refresh_from_db()
    assert position.status == PositionStatus.OPEN

    sweep = tick(btc, "54271.35")  # 600 − 572.865 = 27.135 < 27.1356750 → liquidated
    position.refresh_from_db()
    assert sweep.liquidated == 1
    assert position.status == PositionStatus.CLOSED
    close = position.closes.get()
    assert close.reason == CloseReason.LIQUIDATION
    # Loss 572.865 to the house; the remaining 27.135 (below the maintenance margin) to the insurance fund.
    assert close.realised_pnl == D("-572.865")
    assert close.liquidation_fee == D("27.135")
    assert close.margin_lost == D("600")
    assert futures(user).balance == D("1000") - D("600") - D("3.6")  # lost the margin plus the open fee
    assert platform(AccountKind.INSURANCE_FUND) == D("27.135")
    assert OutboxEvent.objects.get().payload["reason"] == "liquidation"
    assert ledger_audit().ok


def test_a_short_is_liquidated_when_the_price_rises_through_its_liquidation_price(user, btc):
    fund_futures(user, "1000")
    position = Position.objects.get(pk=open_btc(user, btc, side="sell").position_id)
    assert position.liquidation_price == D("65671.64")
    tick(btc, "65671.64")
    position.refresh_from_db()
    assert position.status == PositionStatus.OPEN
    tick(btc, "65671.70")
    position.refresh_from_db()
    assert position.status == PositionStatus.CLOSED
    assert futures(user).balance == D("1000") - D("600") - D("3.6")
    assert ledger_audit().ok


def test_a_gap_beyond_the_bankruptcy_price_is_borne_by_the_insurance_fund(user, btc, platform):
    """R-MG-04: no user balance goes below zero; the insurance fund bears the shortfall."""
    fund_futures(user, "1000")
    position = Position.objects.get(pk=open_btc(user, btc).position_id)
    tick(btc, "50000")  # loss 1,000 > margin 600
    position.refresh_from_db()
    assert position.status == PositionStatus.CLOSED
    assert futures(user).balance == D("396.4")
    assert margin_account(futures(user)).balance == 0
    assert platform(AccountKind.INSURANCE_FUND) == D("-400")
    assert platform(AccountKind.HOUSE) == D("1000")
    assert ledger_audit().ok


def test_a_cross_account_with_two_positions_is_liquidated_together(user, btc, eth):
    """R-MG-04: equity (balance + uPnL of all cross positions at current marks) below their maintenance margins."""
    fund_futures(user, "1000")
    open_btc(user, btc, qty="0.1", leverage=20, mode="cross")  # margin 300, fee 3.6
    market_setting_set(account=futures(user), market=eth, leverage=20, margin_mode="cross")
    order_place(account=futures(user), market=eth, side="buy", qty=D("1"), idempotency_key="eth")  # 150, fee 1.8
    positions = list(Position.objects.filter(account=futures(user)))
    assert all(p.cross_multi for p in positions)  # two markets: swept exactly, not by the stored estimate

    # ETH falls: equity = 994.6 + 0.1 (P_btc − 60,000) + 1 (2,200 − 3,000) = 194.6 + 0.1 ΔP…
    tick(eth, "2200")  # equity 194.6 ≥ maintenance 30 + 11 = 41: safe
    assert Position.objects.filter(status=PositionStatus.OPEN).count() == 2
    tick(btc, "58500")  # equity 194.6 − 150 = 44.6 ≥ 29.25 + 11 = 40.25: safe
    assert Position.objects.filter(status=PositionStatus.OPEN).count() == 2
    tick(btc, "58400")  # equity 34.6 < 29.2 + 11 = 40.2 → both liquidated, in both markets
    assert Position.objects.filter(status=PositionStatus.OPEN).count() == 0
    assert {c.reason for p in positions for c in p.closes.all()} == {CloseReason.LIQUIDATION}
    assert futures(user).balance == 0  # equity 34.6 < maintenance 40.2: all of it is the liquidation fee
    assert ledger_audit().ok


def test_auto_add_margin_saves_an_isolated_position_from_liquidation(user, btc):
    """R-MG-05: the sweep tops the position up from the available balance instead of liquidating."""
    from copytrading.futures.services.positions import position_tpsl_set

    fund_futures(user, "2000")
    position = Position.objects.get(pk=open_btc(user, btc).position_id)
    position_tpsl_set(position=position, take_profit_price=None, stop_loss_price=None, auto_add_margin=True)
    tick(btc, "54000")  # margin 600 + uPnL −600 = 0 < maintenance 27 → top up to 5,400 / 10 = 540
    position.refresh_from_db()
    assert position.status == PositionStatus.OPEN
    assert position.margin == D("1140")  # 600 + (540 − 0)
    assert position.liquidation_price < D("54000")
    assert futures(user).balance == D("2000") - D("603.6") - D("540")
    assert ledger_audit().ok


def test_a_sweep_for_a_tick_runs_once(user, btc):
    fund_futures(user, "1000")
    open_btc(user, btc)
    mark = mark_price_set(market=btc, price=D("50000"))
    assert risk_sweep(market_id=btc.pk, tick_id=mark.pk).liquidated == 1
    assert risk_sweep(market_id=btc.pk, tick_id=mark.pk) is None


def test_take_profit_and_stop_loss_close_at_the_mark_when_the_sweep_sees_them_crossed(user, btc):
    """R-MG-08: each new price runs the TP/SL checks of its market."""
    from copytrading.futures.services.positions import position_tpsl_set

    fund_futures(user, "5000")
    long_position = Position.objects.get(pk=open_btc(user, btc, qty="0.01").position_id)
    position_tpsl_set(position=long_position, take_profit_price=D("61000"), stop_loss_price=D("59000"))
    tick(btc, "60999.99")
    long_position.refresh_from_db()
    assert long_position.status == PositionStatus.OPEN
    sweep = tick(btc, "61000")
    long_position.refresh_from_db()
    assert (sweep.triggered, long_position.status) == (1, PositionStatus.CLOSED)
    close = long_position.closes.get()
    assert (close.reason, close.realised_pnl, close.price) == (CloseReason.TAKE_PROFIT, D("10"), D("61000"))
    assert close.fee == D("0.366")  # taker fee on a TP close: 610 × 0.0006

    short_position = Position.objects.get(pk=open_btc(user, btc, side="sell", qty="0.01").position_id)
    position_tpsl_set(position=short_position, take_profit_price=None, stop_loss_price=D("62000"))
    tick(btc, "62000.5")
    short_position.refresh_from_db()
    assert short_position.closes.get().reason == CloseReason.STOP_LOSS
    assert ledger_audit().ok


def test_held_money_is_not_margin_and_moves_the_cross_liquidation_price(user, btc):
    """R-MG-06: frozen or held amounts are not available margin; holding raises a long's liquidation price."""
    from accounts.services.ledger import hold_place, hold_release

    fund_futures(user, "1000")
    position = Position.objects.get(pk=open_btc(user, btc, mode="cross").position_id)
    position.refresh_from_db()
    # 996.4 + 0.1 (P − 60,000) = 0.0005 P  →  P = 5,003.6 / 0.0995 = 50,287.437…  → 50,287.44
    assert position.liquidation_price == D("50287.44")
    hold = hold_place(account_id=futures(user).pk, amount=D("300"), idempotency_key="frozen")
    position.refresh_from_db()
    # cushion 696.4: P = 5,303.6 / 0.0995 = 53,302.51…  → 53,302.52
    assert position.liquidation_price == D("53302.52")
    tick(btc, "53302.50")
    position.refresh_from_db()
    assert position.status == PositionStatus.CLOSED  # liquidated although 300 more sat in the balance
    assert futures(user).balance >= D("300")  # the held money itself was never touched
    hold_release(hold_id=hold.pk)
    assert ledger_audit().ok
