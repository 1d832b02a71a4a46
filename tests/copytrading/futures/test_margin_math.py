"""Margin arithmetic with worked numbers. (R-MG-02, R-MG-04)"""

from decimal import Decimal as D

from copytrading.futures import margin


def test_the_worked_example_of_r_mg_04():
    """R-MG-04: 10x isolated long 0.1 BTC at 60,000, fee 0.06 %, maintenance 0.5 %."""
    qty, entry = D("0.1"), D("60000")
    # R-MG-02: notional 6,000; margin = 6,000 / 10 = 600; fee = 6,000 × 0.0006 = 3.6
    assert margin.initial_margin(qty=qty, price=entry, leverage=10) == D("600")
    assert margin.fee(qty=qty, price=entry, rate=D("0.0006")) == D("3.6")
    # 600 + 0.1 (P − 60,000) = 0.005 × 0.1 × P  →  P = 5,400 / 0.0995 = 54,271.3567…  →  54,271.36
    liq = margin.isolated_liquidation_price(
        sign=1, qty=qty, entry=entry, margin=D("600"), mmr=D("0.005"), tick=D("0.01")
    )
    assert liq == D("54271.36")


def test_a_short_liquidates_above_its_entry():
    # 600 + 0.1 (60,000 − P) = 0.0005 P  →  P = 6,600 / 0.1005 = 65,671.641…  →  65,671.64 (rounded down)
    liq = margin.isolated_liquidation_price(
        sign=-1, qty=D("0.1"), entry=D("60000"), margin=D("600"), mmr=D("0.005"), tick=D("0.01")
    )
    assert liq == D("65671.64")


def test_a_fully_backed_long_has_no_liquidation_price():
    assert (
        margin.isolated_liquidation_price(
            sign=1, qty=D("1"), entry=D("100"), margin=D("100"), mmr=D("0.005"), tick=D("0.01")
        )
        is None
    )


def test_cross_liquidation_price_of_a_single_position_matches_the_isolated_formula_with_the_wallet_as_margin():
    cross = margin.cross_liquidation_price(
        legs=[margin.Leg(1, D("0.1"), D("60000"))], cushion=D("600"), mmr=D("0.005"), tick=D("0.01")
    )
    assert cross == D("54271.36")


def test_quantities_round_down_to_the_step_and_prices_to_the_tick():
    assert margin.round_step_down(D("0.123456"), D("0.001")) == D("0.123")
    assert margin.round_price(D("100.014"), D("0.01"), up=True) == D("100.02")
    assert margin.round_price(D("100.014"), D("0.01"), up=False) == D("100.01")


def test_pnl_is_floored_for_the_user():
    assert margin.pnl(sign=1, qty=D("0.1"), entry=D("60000"), price=D("61000")) == D("100")
    assert margin.pnl(sign=-1, qty=D("0.1"), entry=D("60000"), price=D("61000")) == D("-100")
    assert margin.pnl(sign=1, qty=D("0.00000001"), entry=D("1"), price=D("1.5")) == D("0")
