"""Losing and liquidated copy closes trigger coverage vouchers, with the rules' worked numbers.
(R-VC-03, R-VC-04, R-VC-05, R-VC-06, R-VC-09)"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from accounts.selectors import ledger_audit
from copytrading.futures.models import OutboxEvent, PositionClose
from copytrading.futures.services.liquidation import risk_sweep
from copytrading.futures.services.orders import order_place
from copytrading.futures.services.prices import mark_price_set
from tests.copytrading.copy_helpers import follow, make_lead
from tests.vouchers.voucher_helpers import close_at, deliver, open_copy
from vouchers.ledger import campaign_accounts
from vouchers.models import CloseDecision, Outcome, Voucher, VoucherState
from vouchers.selectors import campaign_budget_problems
from vouchers.services.claims import voucher_claim
from vouchers.services.triggers import closes_decide

pytestmark = pytest.mark.django_db


def settled(voucher):
    voucher.refresh_from_db()
    return voucher.state, voucher.reimbursement


def books_agree():
    return campaign_budget_problems() == [] and ledger_audit().ok


def test_a_first_loss_of_30_on_a_50_voucher_pays_30_and_releases_20(live_campaign, following, btc):
    """R-VC-04 worked example: 50 USDT voucher, first loss 30 → 30."""
    campaign = live_campaign(face_value=D("50"))
    voucher = voucher_claim(user=following.follower, campaign=campaign, idempotency_key="k")
    close = close_at(open_copy(following, btc), btc, "57000")  # 0.01 BTC down 3,000
    assert close.realised_pnl == D("-30")

    deliver()

    assert settled(voucher) == (VoucherState.TRIGGERED, D("30"))
    decision = CloseDecision.objects.get()
    assert (decision.close_id, decision.outcome, decision.loss, decision.amount) == (close.pk, "triggered", 30, 30)
    accounts = campaign_accounts(campaign)
    accounts.reserved.refresh_from_db()
    assert accounts.reserved.balance == D("30")  # the payout to come; the other 20 went back to available
    assert books_agree()


def test_a_first_loss_of_80_on_a_50_voucher_pays_50(live_campaign, following, btc):
    """R-VC-04 worked example: first loss 80 → 50 (the face value)."""
    voucher = voucher_claim(user=following.follower, campaign=live_campaign(face_value=D("50")), idempotency_key="k")
    close_at(open_copy(following, btc), btc, "52000")

    deliver()

    assert settled(voucher) == (VoucherState.TRIGGERED, D("50"))
    assert books_agree()


def test_a_liquidation_losing_80_of_margin_on_a_100_voucher_pays_80(live_campaign, following, btc):
    """R-VC-05 worked example: 100 USDT liquidation voucher, 80 lost → 80 (the margin lost, R-VC-06)."""
    campaign = live_campaign(kind="liquidation", face_value=D("100"))
    voucher = voucher_claim(user=following.follower, campaign=campaign, idempotency_key="k")
    position = open_copy(following, btc, qty="0.02", leverage=15, mode="isolated")  # margin 1,200 / 15 = 80
    tick = mark_price_set(market=btc, price=D("50000"))  # a gap through the bankruptcy price
    risk_sweep(market_id=btc.pk, tick_id=tick.pk)
    assert PositionClose.objects.get(position=position).margin_lost == D("80")

    deliver()

    assert settled(voucher) == (VoucherState.TRIGGERED, D("80"))
    assert CloseDecision.objects.get().liquidation is True
    assert books_agree()


def test_a_liquidation_uses_the_liquidation_voucher_when_both_kinds_are_held(live_campaign, following, btc):
    """R-VC-06: one close triggers at most one voucher, a liquidation voucher first."""
    first_loss = voucher_claim(user=following.follower, campaign=live_campaign(), idempotency_key="a")
    liquidation = voucher_claim(
        user=following.follower, campaign=live_campaign(kind="liquidation", face_value=D("100")), idempotency_key="b"
    )
    open_copy(following, btc, qty="0.02", leverage=15, mode="isolated")
    tick = mark_price_set(market=btc, price=D("50000"))
    risk_sweep(market_id=btc.pk, tick_id=tick.pk)

    deliver()

    assert settled(liquidation) == (VoucherState.TRIGGERED, D("80"))
    assert settled(first_loss) == (VoucherState.CLAIMED, None)
    assert books_agree()


def test_of_two_first_loss_vouchers_the_one_expiring_first_is_used(live_campaign, following, btc):
    """R-VC-06: of several vouchers of one kind, the one that expires first is used first."""
    later = voucher_claim(user=following.follower, campaign=live_campaign(validity_days=7), idempotency_key="a")
    sooner = voucher_claim(user=following.follower, campaign=live_campaign(validity_days=3), idempotency_key="b")
    close_at(open_copy(following, btc), btc, "57000")

    deliver()

    assert settled(sooner) == (VoucherState.TRIGGERED, D("30"))
    assert settled(later) == (VoucherState.CLAIMED, None)


def test_a_loss_closed_after_the_validity_period_triggers_nothing(live_campaign, following, btc):
    """R-VC-04: both the opening and the closing must be inside the validity period."""
    voucher = voucher_claim(user=following.follower, campaign=live_campaign(), idempotency_key="k")
    position = open_copy(following, btc)
    Voucher.objects.filter(pk=voucher.pk).update(valid_until=timezone.now())  # its validity ends now
    close_at(position, btc, "57000")

    deliver()

    assert settled(voucher) == (VoucherState.CLAIMED, None)
    assert CloseDecision.objects.get().outcome == Outcome.OUTSIDE
    assert books_agree()


def test_a_position_opened_before_the_claim_does_not_count(live_campaign, following, btc):
    """R-VC-06: a position counts as opened inside the validity period only if its first open fill is."""
    position = open_copy(following, btc)
    voucher = voucher_claim(user=following.follower, campaign=live_campaign(), idempotency_key="k")
    open_copy(following, btc)  # adding to the older position inside the window does not make it eligible
    close_at(position, btc, "57000")

    deliver()

    assert settled(voucher) == (VoucherState.CLAIMED, None)
    assert CloseDecision.objects.get().outcome == Outcome.OPENED_BEFORE


def test_a_diverse_exploration_loss_triggers_nothing(live_campaign, btc):
    """R-VC-03: Smart Ratio copy trading only."""
    diverse = follow(make_lead(), amount="1000", mode="diverse", diverse_margin="100")
    voucher = voucher_claim(user=diverse.follower, campaign=live_campaign(), idempotency_key="k")
    close_at(open_copy(diverse, btc), btc, "57000")

    deliver()

    assert settled(voucher) == (VoucherState.CLAIMED, None)
    assert CloseDecision.objects.get().outcome == Outcome.DIVERSE


def test_a_manual_loss_is_not_a_copy_and_is_not_even_considered(live_campaign, following, btc):
    """R-VC-03: not manual trading (slot 0 of the user's own futures account)."""
    from tests.factories import fund_futures, futures

    voucher = voucher_claim(user=following.follower, campaign=live_campaign(), idempotency_key="k")
    fund_futures(following.follower, "1000")
    manual = order_place(
        account=futures(following.follower), market=btc, side="buy", qty=D("0.01"), idempotency_key="m"
    ).position
    close_at(manual, btc, "57000")

    deliver()

    assert settled(voucher) == (VoucherState.CLAIMED, None) and not CloseDecision.objects.exists()


def test_first_is_decided_by_close_time_even_when_the_later_close_is_delivered_first(live_campaign, following, eth):
    """R-VC-06: "first" is (closed_at, close id), never the order in which events arrive."""
    voucher = voucher_claim(user=following.follower, campaign=live_campaign(), idempotency_key="k")
    first_close = close_at(open_copy(following, eth, qty="0.1"), eth, "2700")  # 0.1 ETH down 300: a loss of 30
    second_close = close_at(open_copy(following, eth, qty="0.1"), eth, "2600")  # reopened at 2,700: a loss of 10
    assert (first_close.realised_pnl, second_close.realised_pnl) == (D("-30"), D("-10"))
    later_event = OutboxEvent.objects.get(payload__close_id=second_close.pk)

    closes_decide(payloads=[later_event.payload])  # the later close's event arrives first

    assert settled(voucher) == (VoucherState.TRIGGERED, D("30"))
    assert voucher.trigger_close_id == first_close.pk
    assert dict(CloseDecision.objects.values_list("close_id", "outcome")) == {
        first_close.pk: Outcome.TRIGGERED,
        second_close.pk: Outcome.NO_VOUCHER,
    }


def test_a_close_event_delivered_twice_triggers_once(live_campaign, following, btc):
    campaign = live_campaign()
    voucher = voucher_claim(user=following.follower, campaign=campaign, idempotency_key="k")
    close_at(open_copy(following, btc), btc, "57000")
    payloads = [e.payload for e in OutboxEvent.objects.all()]

    closes_decide(payloads=payloads)
    closes_decide(payloads=payloads)
    deliver()

    assert settled(voucher) == (VoucherState.TRIGGERED, D("30"))
    assert CloseDecision.objects.count() == 1
    assert books_agree()


def test_an_untriggered_voucher_keeps_its_whole_face_value_reserved(live_campaign, following, btc):
    campaign = live_campaign()
    voucher_claim(user=following.follower, campaign=campaign, idempotency_key="k")
    close_at(open_copy(following, btc), btc, "61000")  # a profit: nothing to decide

    deliver()

    assert not CloseDecision.objects.exists()
    accounts = campaign_accounts(campaign)
    accounts.reserved.refresh_from_db()
    assert accounts.reserved.balance == D("50") and books_agree()


def test_the_validity_window_is_exactly_the_claim_plus_its_days(live_campaign, following):
    voucher = voucher_claim(user=following.follower, campaign=live_campaign(validity_days=3), idempotency_key="k")
    assert voucher.valid_until - voucher.claimed_at == timedelta(days=3)
