"""Profit share with a high-water mark, the withdrawal freeze and the daily run. (R-PS-01 … R-PS-07)"""

from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest

from accounts.models import AccountKind, LedgerAccount, Posting
from accounts.selectors import ledger_audit
from config.clock import platform_today
from copytrading.futures.models import Position
from copytrading.futures.services.prices import mark_price_set
from copytrading.models import LeadTrader, ShareSettlement
from copytrading.services.followings import following_stop, following_update_settings, following_withdraw
from copytrading.services.profit_share import profit_share_daily_run
from copytrading.valuation import following_net_result, share_pending, withdrawal_plan
from tests.copytrading.copy_helpers import copy_of, follow, lead_order, make_lead, sub_balance
from tests.factories import MarketFactory, spot

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 22)


@pytest.fixture
def free_btc(db):
    """A market without fees, so every number below is a round one."""
    return MarketFactory(symbol="FREEUSDT", base_asset="FREE", taker_fee_rate=D("0"))


def trade(lead, market, entry: str, exit_: str, following=None):
    """The lead buys 0.1 at ``entry`` (10x) and closes at ``exit_``.

    A Diverse ``following`` is given the fixed margin that makes its copy exactly 0.01 at ``entry``.
    """
    LeadTrader.objects.filter(pk=lead.pk).update(last_open_at=None)
    lead.refresh_from_db()
    if following is not None:
        following_update_settings(following=following, changes={"diverse_margin": D(entry) / 1000})
    mark_price_set(market=market, price=D(entry))
    lead_order(lead, market, qty="0.1")
    mark_price_set(market=market, price=D(exit_))
    lead_order(lead, market, side="sell", qty="0.1", reduce_only=True)


def daily(day=DAY):
    return profit_share_daily_run(day=day)


def test_the_high_water_mark_at_a_10_percent_ratio(free_btc):
    """R-PS-01 and R-PS-02 with worked numbers (0.01 BTC copies, no fees)."""
    lead = make_lead(equity="10000", ratio="0.1")
    following = follow(lead, amount="1000", mode="diverse", diverse_margin="60")
    trade(lead, free_btc, "60000", "70000", following)  # +100
    assert (following_net_result(following), share_pending(following)) == (D("100"), D("10"))
    trade(lead, free_btc, "70000", "66000", following)  # −40 before payment: C 60, pending shrinks to 6
    assert share_pending(following) == D("6")
    assert daily() == 1  # paid 6 at 00:00; H moves to 60
    following.refresh_from_db()
    assert (following.high_water_mark, following.share_paid) == (D("60"), D("6"))
    assert spot(lead.user).balance == D("6")
    trade(lead, free_btc, "66000", "63000", following)  # −30 after payment: C 30, below H
    assert share_pending(following) == 0
    trade(lead, free_btc, "63000", "65000", following)  # +20: C 50, recovery still below H
    assert share_pending(following) == 0
    trade(lead, free_btc, "65000", "68000", following)  # +30: C 80, 20 above H
    assert share_pending(following) == D("2")
    following_stop(following=following, method="market")  # stopping pays exactly the pending share
    assert spot(lead.user).balance == D("8")
    following.refresh_from_db()
    assert (following.high_water_mark, following.share_paid) == (D("80"), D("8"))
    # The follower got everything else: 1,000 + 80 − 8.
    assert spot(following.follower).balance == D("1072")
    assert sub_balance(following) == 0
    assert ledger_audit().ok


def test_the_freeze_worked_example_of_r_ps_03(free_btc):
    """Equity 1,000 all available, pending 100: asking 800 freezes 100 and pays 800; asking 950 pays 900."""
    lead = make_lead(ratio="0.1")
    following = follow(lead, amount="1000")
    Position.objects.create(  # a closed copy that earned 1,000: C = 1,000, pending 100
        account=following.sub_account,
        market=free_btc,
        slot=following.pk,
        side="long",
        qty=0,
        entry_price=1,
        leverage=1,
        margin_mode="cross",
        margin=0,
        realised_pnl=D("1000"),
        status="closed",
    )
    plan = withdrawal_plan(following=following, amount=D("800"), equity=D("1000"), available=D("1000"))
    assert (plan.pending, plan.freeze, plan.payout) == (D("100"), D("100"), D("800"))
    plan = withdrawal_plan(following=following, amount=D("950"), equity=D("1000"), available=D("1000"))
    assert (plan.freeze, plan.payout) == (D("100"), D("900"))
    plan = withdrawal_plan(following=following, amount=D("500"), equity=D("1000"), available=D("1000"))
    assert plan.freeze == 0  # 30 % × 500 = 150 ≥ 100: nothing frozen (R-PS-05: only when it would endanger it)


def test_withdrawals_freeze_first_then_only_the_difference_and_preview_equals_execution(free_btc):
    """R-PS-03/04/07: 1,100 equity with 10 pending; the records show each freeze and its refund."""
    lead = make_lead(ratio="0.1")
    following = follow(lead, amount="1000")
    trade(lead, free_btc, "60000", "70000")  # C 100, pending 10, equity 1,100 all available
    preview = following_withdraw(following=following, amount=D("1080"), idempotency_key="w1", confirm=False)
    assert (preview.plan.freeze, preview.plan.payout, preview.entry) == (D("10"), D("1080"), None)
    assert sub_balance(following) == D("1100")  # a preview changes nothing
    done = following_withdraw(following=following, amount=D("1080"), idempotency_key="w1")
    assert (done.plan.freeze, done.plan.payout) == (preview.plan.freeze, preview.plan.payout)
    assert spot(following.follower).balance == D("1080")
    assert sub_balance(following) == D("10")
    frozen = LedgerAccount.objects.get(kind=AccountKind.FROZEN_SHARE, ref=str(following.pk))
    assert frozen.balance == D("10")
    second = following_withdraw(following=following, amount=D("10"), idempotency_key="w2")
    assert (second.plan.freeze, second.plan.payout) == (0, D("10"))  # already frozen covers it
    assert daily() == 1  # flat: pays the 10 from the frozen amount
    assert spot(lead.user).balance == D("10")
    kinds = list(
        Posting.objects.filter(account=following.sub_account).order_by("pk").values_list("entry__kind", flat=True)
    )
    assert "profit_share_freeze" in kinds
    assert ledger_audit().ok


def test_frozen_money_is_not_margin_and_raises_a_long_copys_liquidation_price(free_btc):
    """R-PS-05 / R-MG-06."""
    lead = make_lead(ratio="0.1")
    following = follow(lead, amount="1000")
    trade(lead, free_btc, "60000", "70000")  # pending 10
    LeadTrader.objects.filter(pk=lead.pk).update(last_open_at=None)
    lead_order(lead, free_btc, qty="0.1")  # an open cross copy of 0.011 BTC
    copy = copy_of(following, free_btc)
    before = copy.liquidation_price
    # Equity 1,100, of which the copy's margin is in use: asking 1,070 leaves 30, 30 % of it 9 < 10.
    outcome = following_withdraw(following=following, amount=D("1070"), idempotency_key="w")
    assert outcome.plan.freeze == D("10")
    copy.refresh_from_db()
    # Fully backed before (no liquidation price); with 1,070 out and 10 frozen, only ~20 of cushion is left.
    assert before is None and copy.liquidation_price is not None
    assert outcome.liquidation_prices[copy.pk] == copy.liquidation_price


def test_the_daily_run_pays_flat_accounts_once_and_leaves_open_ones(free_btc):
    """R-PS-06: keyed by (following, platform date); a following with an open copy is left as it is."""
    flat_lead, busy_lead = make_lead(ratio="0.1"), make_lead(ratio="0.1")
    flat, busy = follow(flat_lead), follow(busy_lead)
    trade(flat_lead, free_btc, "60000", "70000")
    trade(busy_lead, free_btc, "60000", "70000")
    LeadTrader.objects.filter(pk=busy_lead.pk).update(last_open_at=None)
    lead_order(busy_lead, free_btc, qty="0.1")
    assert copy_of(busy, free_btc) is not None
    pending_flat, pending_busy = share_pending(flat), share_pending(busy)
    assert pending_flat > 0 and pending_busy > 0
    assert daily() == 1
    assert ShareSettlement.objects.get(following=flat).paid == pending_flat
    assert not ShareSettlement.objects.filter(following=busy).exists()
    assert share_pending(busy) == pending_busy
    assert daily() == 0  # a second run that day changes nothing
    assert spot(flat_lead.user).balance == pending_flat
    assert spot(busy_lead.user).balance == 0
    assert ledger_audit().ok


def test_platform_days_begin_at_midnight_in_shanghai():
    assert platform_today(datetime(2026, 11, 21, 15, 59, tzinfo=UTC)) == date(2026, 11, 21)
    assert platform_today(datetime(2026, 11, 21, 16, 0, tzinfo=UTC)) == date(2026, 11, 22)


def test_the_api_previews_a_withdrawal_then_executes_it_and_shows_the_share(free_btc):
    """R-PS-03 in two steps: confirm=false changes nothing; confirm=true does what the preview said."""
    from tests.copytrading.copy_helpers import client_for

    lead = make_lead(ratio="0.1")
    following = follow(lead, amount="1000")
    trade(lead, free_btc, "60000", "70000")
    client = client_for(following.follower)
    url = f"/api/v1/followings/{following.pk}"
    detail = client.get(url).data
    assert (detail["net_result"], detail["share_pending"], detail["share_frozen"]) == (
        "100.00000000",
        "10.00000000",
        "0.00000000",
    )
    body = {"amount": "1080", "confirm": False}
    preview = client.post(f"{url}/withdrawals", body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert preview.status_code == 200, preview.data
    assert (preview.data["confirmed"], preview.data["frozen_now"], preview.data["amount"]) == (
        False,
        "10.00000000",
        "1080.00000000",
    )
    assert sub_balance(following) == D("1100")
    done = client.post(f"{url}/withdrawals", {"amount": "1080"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert done.status_code == 201, done.data
    assert (done.data["frozen_now"], done.data["amount"]) == (preview.data["frozen_now"], preview.data["amount"])
    assert done.data["following"]["share_frozen"] == "10.00000000"
    records = client.get(f"{url}/records").data["results"]
    assert any(r.get("kind") == "profit_share_freeze" or r.get("entry_kind") == "profit_share_freeze" for r in records)


def _earned(following, market, amount: str):
    """A closed copy of this following that realised ``amount`` (its history; the money side is not needed here)."""
    Position.objects.create(
        account=following.sub_account,
        market=market,
        slot=following.pk,
        side="long",
        qty=0,
        entry_price=1,
        leverage=1,
        margin_mode="cross",
        margin=0,
        realised_pnl=D(amount),
        status="closed",
    )


def test_repeated_withdrawals_freeze_only_the_difference(free_btc):
    """R-PS-03's worked example executed, then R-PS-04: the second withdrawal freezes only the increase."""
    lead = make_lead(ratio="0.1")
    following = follow(lead, amount="1000")
    _earned(following, free_btc, "1000")  # pending 100
    first = following_withdraw(following=following, amount=D("800"), idempotency_key="a")
    assert (first.plan.freeze, first.plan.payout) == (D("100"), D("800"))  # 30 % × 200 = 60 < 100
    _earned(following, free_btc, "500")  # pending 150 now; 100 already frozen
    second = following_withdraw(following=following, amount=D("50"), idempotency_key="b")
    assert (second.plan.frozen_before, second.plan.freeze, second.plan.payout) == (D("100"), D("50"), D("50"))
    frozen = LedgerAccount.objects.get(kind=AccountKind.FROZEN_SHARE, ref=str(following.pk))
    assert frozen.balance == D("150")
    assert spot(following.follower).balance == D("850")
    assert ledger_audit().ok


def test_a_lead_sees_its_income_per_follower_and_per_day(free_btc):
    """R-PS-02: the daily run's payments and the payment at stop following, as the lead sees them."""
    from tests.copytrading.copy_helpers import client_for

    lead = make_lead(ratio="0.1")
    daily_one, stopping = follow(lead, amount="1000"), follow(lead, amount="1000")
    trade(lead, free_btc, "60000", "70000")  # each copy 0.01: +100 → 10 pending for each
    daily(DAY)
    assert client_for(stopping.follower).get("/api/v1/lead-traders/me/income").status_code == 404
    income = client_for(lead.user).get("/api/v1/lead-traders/me/income").data
    assert income["total"] == "20.00000000"
    assert {r["following_id"]: r["amount"] for r in income["per_follower"]} == {
        daily_one.pk: "10.00000000",
        stopping.pk: "10.00000000",
    }
    assert income["per_day"] == [{"day": DAY.isoformat(), "amount": "20.00000000"}]
    trade(lead, free_btc, "70000", "80000")  # another +100 (sized on the new equities) for each
    stopping.refresh_from_db()  # H moved to 100 when the daily run paid
    paid_at_stop = share_pending(stopping)
    assert paid_at_stop == D("9")  # 0.009 copied (1,090 / 11,000 of 0.1) × 10,000 = +90 above H
    following_stop(following=stopping, method="market")  # paid at stop, not by a daily run
    income = client_for(lead.user).get("/api/v1/lead-traders/me/income").data
    per_follower = {r["following_id"]: D(r["amount"]) for r in income["per_follower"]}
    assert per_follower[stopping.pk] == D("10") + paid_at_stop
    assert D(income["total"]) == D("20") + paid_at_stop
