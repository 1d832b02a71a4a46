"""Loss-coverage vouchers on manual futures trading, with the rules' worked numbers: grants reserve the total
amount, losing closes on the main futures account use the earliest-obtained voucher, the 00:05 UTC run of the
next day credits spot, abusers' compensation is withheld, unused amounts expire. (R-LC-01 … R-LC-06, R-VC-09)

After each scenario the ledger audit passes and the campaign's books add up: funded = available + reserved +
paid out, and reserved = Σ remaining of active vouchers + Σ pending compensations.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F
from django.utils import timezone

from accounts.jobs import job_find
from accounts.models import JobRun
from copytrading.futures.models import OutboxEvent
from copytrading.futures.services.orders import order_place
from tests.factories import spot
from tests.vouchers.loss_coverage_helpers import (
    balances,
    books_agree,
    deliver,
    grant,
    in_parallel,
    manual,
    state,
)
from tests.vouchers.voucher_helpers import close_at, open_copy
from vouchers.models import AbuseBan, Compensation, LossCoverageVoucher
from vouchers.models.loss_coverage import CompensationState, LossCoverageState
from vouchers.selectors import campaign_liabilities
from vouchers.services.abuse import account_disable_for_abuse
from vouchers.services.loss_coverage import (
    compensations_credit_due,
    compensations_withhold,
    loss_coverage_apply,
    loss_coverage_expire_due,
    utc_day_start,
)
from vouchers.tasks import loss_compensation_credit, vouchers_expire

pytestmark = pytest.mark.django_db


def test_a_manual_loss_of_half_a_usdt_is_not_covered(lc_campaign, trader, campaign_operator, btc):
    """R-LC-02: only a loss greater than 1 USDT uses the voucher."""
    campaign = lc_campaign()
    voucher = grant(campaign, trader, campaign_operator)
    close = close_at(manual(trader, btc), btc, "59950")  # 0.01 BTC down 50
    assert close.realised_pnl == D("-0.5")

    deliver()

    assert state(voucher) == (LossCoverageState.ACTIVE, D("20")) and not Compensation.objects.exists()
    assert books_agree(campaign)


def test_a_loss_of_30_on_a_20_voucher_is_credited_20_at_the_next_0005_utc_run_and_not_before(
    lc_campaign, trader, campaign_operator, btc
):
    """R-LC-02, R-LC-04, R-LC-05 worked example: a 20 USDT voucher, a manual loss of 30 → 20, pending
    until the 00:05 UTC run of the following day credits it to spot, once."""
    campaign = lc_campaign(face_value="20")
    voucher = grant(campaign, trader, campaign_operator)
    close = close_at(manual(trader, btc), btc, "57000")  # 0.01 BTC down 3,000
    assert (close.realised_pnl, close.fee > 0) == (D("-30"), True)  # fees are charged as usual, not covered

    assert deliver() == 1

    compensation = Compensation.objects.get()
    assert (compensation.close_id, compensation.loss, compensation.amount) == (close.pk, D("30"), D("20"))
    assert compensation.state == CompensationState.PENDING
    assert state(voucher) == (LossCoverageState.USED_UP, D("0"))  # fully used: it leaves the voucher center
    assert balances(campaign) == (D("980"), D("20"))  # still reserved, now for the compensation
    assert books_agree(campaign)

    day = utc_day_start(close.created_at)
    assert compensations_credit_due(now=close.created_at) == (0, 0)
    assert compensations_credit_due(now=day + timedelta(days=1, seconds=-1)) == (0, 0)  # later the same UTC day
    assert spot(trader).balance == 0

    next_run = day + timedelta(days=1, minutes=5)
    assert loss_compensation_credit(at=next_run.isoformat()) == {"credited": 1, "withheld": 0}
    assert loss_compensation_credit(at=next_run.isoformat()) == {"credited": 0, "withheld": 0}  # a rerun
    assert compensations_credit_due(now=next_run + timedelta(days=1)) == (0, 0)

    compensation.refresh_from_db()
    assert (compensation.state, compensation.credited_at) == (CompensationState.CREDITED, next_run)
    assert compensation.entry.kind == "loss_compensation"
    assert spot(trader).balance == D("20")
    assert balances(campaign) == (D("980"), D("0"))
    books = campaign_liabilities([campaign])[campaign.pk]
    assert (books.funded, books.available, books.reserved, books.paid_out) == (D("1000"), D("980"), 0, D("20"))
    assert books_agree(campaign)


def test_the_credit_job_fires_at_0005_utc_moves_money_and_a_missed_run_is_run_by_finance(
    lc_campaign, trader, campaign_operator, finance_operator, btc
):
    """R-LC-05: the 00:05 UTC job; as a money-moving job, a manual run needs Finance and a reason."""
    job = job_find(name="loss-compensation-credit")
    assert (job.task, job.minute, job.hour, job.tz, job.queue) == (
        "vouchers.loss_compensation_credit",
        "5",
        "0",
        "UTC",
        "settlement",
    )
    assert job.moves_money and job.has_period
    campaign = lc_campaign()
    grant(campaign, trader, campaign_operator)
    close_at(manual(trader, btc), btc, "57000")
    deliver()
    Compensation.objects.update(closed_at=F("closed_at") - timedelta(days=2))  # a close of two days ago

    with pytest.raises(CommandError):
        call_command("run_job", "loss-compensation-credit", "--by", campaign_operator.email, "--reason", "late")
    call_command("run_job", "loss-compensation-credit", "--by", finance_operator.email, "--reason", "missed run")

    assert JobRun.objects.get(job="loss-compensation-credit").result == {"credited": 1, "withheld": 0}
    assert spot(trader).balance == D("20")
    assert books_agree(campaign)


def test_the_remaining_amount_is_live_and_a_fully_used_voucher_is_used_up(lc_campaign, trader, campaign_operator, btc):
    """R-LC-01, R-LC-04: a 50 voucher, losses of 30 then 30 → 30 (20 remaining), then 20 (used up)."""
    campaign = lc_campaign(face_value="50")
    voucher = grant(campaign, trader, campaign_operator)

    close_at(manual(trader, btc), btc, "57000")
    deliver()
    assert state(voucher) == (LossCoverageState.ACTIVE, D("20"))
    assert books_agree(campaign)

    close_at(manual(trader, btc), btc, "54000")  # opened at 57,000: down 3,000 again
    deliver()
    assert state(voucher) == (LossCoverageState.USED_UP, D("0")) and voucher.ended_at is not None
    assert sorted(Compensation.objects.values_list("amount", flat=True)) == [D("20"), D("30")]
    assert balances(campaign) == (D("950"), D("50"))
    assert books_agree(campaign)


def test_the_earliest_obtained_voucher_is_used_first_and_one_close_uses_one_voucher(
    lc_campaign, trader, campaign_operator, btc
):
    """R-LC-02, R-LC-04: a loss of 30 with two 20 vouchers uses the first obtained, up to 20; the other stays."""
    campaign = lc_campaign(per_user_limit=2)
    earlier = grant(campaign, trader, campaign_operator, key="a")
    later = grant(campaign, trader, campaign_operator, key="b")
    assert earlier.granted_at < later.granted_at

    close_at(manual(trader, btc), btc, "57000")
    deliver()

    assert state(earlier) == (LossCoverageState.USED_UP, D("0"))
    assert state(later) == (LossCoverageState.ACTIVE, D("20"))
    assert Compensation.objects.get().voucher_id == earlier.pk
    assert books_agree(campaign)


def test_the_first_close_in_time_uses_the_voucher_even_when_delivered_after_a_later_one(
    lc_campaign, trader, campaign_operator, btc, eth
):
    """R-LC-02, R-VC-06: "first" is the close's (time, id), not the order of the events in a delivery."""
    campaign = lc_campaign()
    voucher = grant(campaign, trader, campaign_operator)
    first = close_at(manual(trader, btc), btc, "57000")  # loss 30
    second = close_at(manual(trader, eth, qty="0.1"), eth, "2900")  # 0.1 ETH down 100: loss 10
    payloads = [e.payload for e in OutboxEvent.objects.order_by("-pk")]  # the later close's event first

    loss_coverage_apply(payloads=payloads)

    assert state(voucher) == (LossCoverageState.USED_UP, D("0"))
    assert Compensation.objects.get().close_id == first.pk
    assert not Compensation.objects.filter(close_id=second.pk).exists()
    assert books_agree(campaign)


def test_the_earlier_close_uses_the_voucher_when_the_events_come_in_reverse_order_in_two_deliveries(
    lc_campaign, trader, campaign_operator, btc, eth
):
    """R-LC-02, R-VC-06: the later close's event delivered alone, then the earlier one's in another delivery →
    the earlier close used the voucher: the first delivery meets it on the venue and applies it first."""
    campaign = lc_campaign()
    voucher = grant(campaign, trader, campaign_operator)
    first = close_at(manual(trader, btc), btc, "57000")  # loss 30
    second = close_at(manual(trader, eth, qty="0.1"), eth, "2900")  # loss 10
    events = {e.payload["close_id"]: e.payload for e in OutboxEvent.objects.all()}

    assert loss_coverage_apply(payloads=[events[second.pk]]) == 1
    assert Compensation.objects.get().close_id == first.pk
    assert loss_coverage_apply(payloads=[events[first.pk]]) == 0  # delivered later: already compensated
    assert deliver() == 2  # the outbox delivering both again changes nothing

    assert Compensation.objects.get().close_id == first.pk
    assert state(voucher) == (LossCoverageState.USED_UP, D("0"))
    assert books_agree(campaign)


def test_a_copy_close_never_uses_it(lc_campaign, following, campaign_operator, btc):
    """R-LC-03: not copy trading (a copy sits in the following's slot)."""
    campaign = lc_campaign()
    voucher = grant(campaign, following.follower, campaign_operator)
    close = close_at(open_copy(following, btc), btc, "57000")
    assert close.realised_pnl == D("-30")

    deliver()

    assert state(voucher) == (LossCoverageState.ACTIVE, D("20")) and not Compensation.objects.exists()
    assert books_agree(campaign)


def test_a_close_in_a_copy_slot_never_uses_it_even_on_the_main_account(lc_campaign, trader, campaign_operator, btc):
    """R-LC-03: only slot 0 is manual trading; any other slot holds copies."""
    voucher = grant(lc_campaign(), trader, campaign_operator)
    close_at(manual(trader, btc), btc, "57000")
    payload = {**OutboxEvent.objects.get().payload, "slot": 7}

    assert loss_coverage_apply(payloads=[payload]) == 0
    assert state(voucher) == (LossCoverageState.ACTIVE, D("20"))


def test_a_sub_account_close_never_uses_it_even_in_slot_0(lc_campaign, following, campaign_operator, btc):
    """R-LC-03: not sub-accounts: only the user's main futures account counts, whatever the slot says."""
    campaign = lc_campaign()
    voucher = grant(campaign, following.follower, campaign_operator)
    position = order_place(
        account=following.sub_account, market=btc, side="buy", qty=D("0.01"), idempotency_key="sub"
    ).position
    assert position.slot == 0
    close_at(position, btc, "57000")

    deliver()

    assert state(voucher) == (LossCoverageState.ACTIVE, D("20")) and not Compensation.objects.exists()
    assert books_agree(campaign)


def test_a_close_below_the_closing_threshold_does_not_use_it(lc_campaign, trader, campaign_operator, btc):
    """R-LC-02: the closing amount (quantity × price) must reach the voucher's threshold if it has one."""
    campaign = lc_campaign(closing_threshold=D("1000"))
    voucher = grant(campaign, trader, campaign_operator)
    close_at(manual(trader, btc), btc, "57000")  # 0.01 × 57,000 = 570: below 1,000
    deliver()
    assert state(voucher) == (LossCoverageState.ACTIVE, D("20")) and not Compensation.objects.exists()

    close = close_at(manual(trader, btc, qty="0.02"), btc, "55500")  # 0.02 × 55,500 = 1,110, loss 30
    deliver()

    assert Compensation.objects.get().close_id == close.pk
    assert state(voucher) == (LossCoverageState.USED_UP, D("0"))
    assert books_agree(campaign)


def test_a_close_before_the_voucher_arrived_does_not_use_it(lc_campaign, trader, campaign_operator, btc):
    """R-LC-02: closed after the voucher's arrival time only, even when its event is delivered after the grant."""
    campaign = lc_campaign()
    close_at(manual(trader, btc), btc, "57000")
    voucher = grant(campaign, trader, campaign_operator)

    deliver()

    assert state(voucher) == (LossCoverageState.ACTIVE, D("20")) and not Compensation.objects.exists()
    assert books_agree(campaign)


def test_a_close_event_delivered_twice_creates_one_compensation(lc_campaign, trader, campaign_operator, btc):
    campaign = lc_campaign(face_value="50")
    voucher = grant(campaign, trader, campaign_operator)
    close_at(manual(trader, btc), btc, "57000")
    payloads = [e.payload for e in OutboxEvent.objects.all()]

    assert loss_coverage_apply(payloads=payloads) == 1
    assert loss_coverage_apply(payloads=payloads + payloads) == 0
    deliver()

    assert Compensation.objects.count() == 1
    assert state(voucher) == (LossCoverageState.ACTIVE, D("20"))
    assert books_agree(campaign)


def test_a_banned_users_compensation_is_withheld_and_its_money_goes_back_to_available(
    lc_campaign, trader, campaign_operator, btc
):
    """R-LC-06, R-VC-09: not credited; shown as withheld (never dropped); its reservation released."""
    campaign = lc_campaign()
    grant(campaign, trader, campaign_operator)
    close = close_at(manual(trader, btc), btc, "57000")
    deliver()
    AbuseBan.objects.create(user=trader, actor=campaign_operator, reason="shared devices with 40 claimants")

    next_run = utc_day_start(close.created_at) + timedelta(days=1, minutes=5)
    assert compensations_credit_due(now=next_run) == (0, 1)
    assert compensations_credit_due(now=next_run) == (0, 0)

    compensation = Compensation.objects.get()
    assert (compensation.state, compensation.amount, compensation.withheld_at) == (
        CompensationState.WITHHELD,
        D("20"),
        next_run,
    )
    assert spot(trader).balance == 0
    assert balances(campaign) == (D("1000"), D("0"))
    assert campaign_liabilities([campaign])[campaign.pk].paid_out == 0
    assert books_agree(campaign)


def test_a_ban_can_withhold_pending_compensation_at_once(lc_campaign, trader, campaign_operator, btc):
    """R-LC-06: ``compensations_withhold`` (for the abuse ban to call) withholds now, not at the next run."""
    campaign = lc_campaign()
    grant(campaign, trader, campaign_operator)
    close_at(manual(trader, btc), btc, "57000")
    deliver()

    assert compensations_withhold(user=trader, actor=campaign_operator, reason="abuse") == (1, D("20"))
    assert compensations_withhold(user=trader, actor=campaign_operator, reason="abuse") == (0, 0)

    compensation = Compensation.objects.get()
    assert compensation.state == CompensationState.WITHHELD and compensation.entry.actor == campaign_operator
    assert compensations_credit_due(now=timezone.now() + timedelta(days=2)) == (0, 0)
    assert balances(campaign) == (D("1000"), D("0")) and spot(trader).balance == 0
    assert books_agree(campaign)


def test_disabling_an_account_for_abuse_withholds_its_pending_compensation_at_once(
    lc_campaign, trader, campaign_operator, btc
):
    """R-LC-06: the operators' ban withholds the compensation in the same transaction."""
    campaign = lc_campaign()
    grant(campaign, trader, campaign_operator)
    close_at(manual(trader, btc), btc, "57000")
    deliver()

    account_disable_for_abuse(user=trader, actor=campaign_operator, reason="one person, five accounts")

    assert Compensation.objects.get().state == CompensationState.WITHHELD
    assert compensations_credit_due(now=timezone.now() + timedelta(days=2)) == (0, 0)
    assert spot(trader).balance == 0 and books_agree(campaign)


def test_a_voucher_expires_with_its_remaining_amount_released_and_is_not_used_after(
    lc_campaign, trader, campaign_operator, btc
):
    """R-LC-02, R-VC-09: closes after the expiry do not use it; the hourly run releases what remains."""
    campaign = lc_campaign(face_value="50")
    voucher = grant(campaign, trader, campaign_operator)
    close_at(manual(trader, btc), btc, "57000")
    deliver()  # 30 used, 20 remaining
    expiry = timezone.now()
    LossCoverageVoucher.objects.filter(pk=voucher.pk).update(expires_at=expiry)
    close_at(manual(trader, btc), btc, "54000")
    deliver()
    assert Compensation.objects.count() == 1

    assert loss_coverage_expire_due(now=expiry - timedelta(microseconds=1)) == 0  # not yet: still active
    assert vouchers_expire(at=timezone.now().isoformat()) == 1  # the hourly task includes loss coverage
    assert loss_coverage_expire_due(now=timezone.now()) == 0

    assert state(voucher) == (LossCoverageState.EXPIRED, D("20"))
    assert balances(campaign) == (D("970"), D("30"))  # 20 released; the pending compensation of 30 stays
    assert books_agree(campaign)


# --- Abuse flags -------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_two_credit_runs_at_once_pay_each_compensation_once(
    lc_campaign, trader, campaign_operator, btc, transactional_db
):
    """R-LC-05: two beats at once: one pays, the other finds nothing pending."""
    campaign = lc_campaign()
    grant(campaign, trader, campaign_operator)
    close = close_at(manual(trader, btc), btc, "57000")
    deliver()
    next_run = utc_day_start(close.created_at) + timedelta(days=1, minutes=5)

    results = in_parallel(*[lambda: compensations_credit_due(now=next_run)] * 2)

    assert sorted(results) == [(0, 0), (1, 0)]
    assert spot(trader).balance == D("20")
    assert books_agree(campaign)


@pytest.mark.slow
def test_two_workers_delivering_the_two_closes_at_once_let_the_earlier_close_use_the_voucher(
    lc_campaign, trader, campaign_operator, btc, eth, transactional_db
):
    """R-LC-02, R-VC-06: two batches at once, one close each: the vouchers are locked before the closes are
    read, so whichever worker goes first applies the earlier close, and the other creates nothing."""
    campaign = lc_campaign()
    voucher = grant(campaign, trader, campaign_operator)
    first = close_at(manual(trader, btc), btc, "57000")  # loss 30
    close_at(manual(trader, eth, qty="0.1"), eth, "2900")  # loss 10
    later, earlier = (e.payload for e in OutboxEvent.objects.order_by("-pk"))

    results = in_parallel(
        lambda: loss_coverage_apply(payloads=[later]), lambda: loss_coverage_apply(payloads=[earlier])
    )

    assert sorted(results) == [0, 1]
    assert Compensation.objects.get().close_id == first.pk
    assert state(voucher) == (LossCoverageState.USED_UP, D("0"))
    assert books_agree(campaign)
