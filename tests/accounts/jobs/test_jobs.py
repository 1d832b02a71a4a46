"""Operators run a periodic job now, or for a past period beat missed, and every such run is recorded.

A manual run stands for the latest time the job's crontab fires at or before
its ``at``, and the job derives its period from that time exactly as beat's
own run does from "now": so the per-period keys make the two never both pay.
(R-OP-01: who ran it and why is recorded; R-PS-06, R-PS-08, R-MG-07 are the jobs.)
The API's queue, the worker and what operators see: test_jobs_api.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.core.management import CommandError
from django_celery_beat.models import PeriodicTask

from accounts.models import JobRun, JournalEntry, LedgerAccount, LedgerAuditRun
from config.schedules import crontab_for, last_fire_utc, register_schedules
from copytrading.futures.models import FundingRun, Position
from copytrading.futures.services.market_settings import market_setting_set
from copytrading.futures.services.orders import order_place
from copytrading.futures.tasks import funding_settle
from copytrading.models import ShareSettlement
from copytrading.services.loans import loan_draw
from copytrading.tasks import profit_share_daily
from copytrading.valuation import loan_owed, share_pending
from tests.accounts.jobs.jobs_helpers import DAY, FIRE, api, post_run, run_job, win
from tests.factories import MarketFactory, OperatorFactory, UserFactory, fund_futures, futures, spot

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def registered(db):
    register_schedules()  # as `make run` does: beat's rows exist


# --- a missed run, the scheduled run, and never both ------------------------------------------------------


def test_a_missed_profit_share_day_is_run_by_hand_and_the_late_scheduled_run_pays_nothing_more(
    pending, free_btc, clock, finance
):
    lead, following = pending
    # Given beat missed 00:00 on 23 November (platform time), when Finance runs the job for it,
    clock.set(FIRE + timedelta(minutes=2))
    out = run_job("profit-share-daily", "--at", "2026-11-22T16:01:00+00:00", "--by", finance.email, "--reason", "down")
    # then that day's share is paid, and the command says for which period.
    run = JobRun.objects.get()
    assert f"run #{run.pk}: profit-share-daily for the period 2026-11-22T16:00:00+00:00" in out
    assert f"run #{run.pk} succeeded: 1" in out
    assert spot(lead.user).balance == D("10")
    assert ShareSettlement.objects.get(following=following).day == DAY
    assert (run.status, run.result, run.period) == ("succeeded", 1, FIRE)
    assert (run.actor, run.reason, run.via) == (finance, "down", "command")
    assert run.at == datetime(2026, 11, 22, 16, 1, tzinfo=UTC) and run.finished_at >= run.started_at
    # When the following earns again and beat's delayed run for that same day comes after all,
    win(lead, free_btc)
    following.refresh_from_db()
    again = share_pending(following)
    assert D("0") < again < D("10")  # measured from the new high-water mark
    clock.set(FIRE + timedelta(minutes=5))
    # then it pays nothing more that day,
    assert profit_share_daily() == 0
    following.refresh_from_db()
    assert spot(lead.user).balance == D("10") and share_pending(following) == again
    # and the next day's scheduled run pays what was earned since.
    clock.set(FIRE + timedelta(days=1, seconds=3))
    assert profit_share_daily() == 1
    assert spot(lead.user).balance == D("10") + again


def test_after_the_scheduled_run_a_manual_run_for_that_day_or_for_now_pays_nothing(pending, free_btc, clock, finance):
    lead, following = pending
    clock.set(FIRE + timedelta(seconds=3))
    assert profit_share_daily() == 1  # beat's own run at 00:00 platform time, 23 November
    win(lead, free_btc)
    following.refresh_from_db()
    again = share_pending(following)
    assert again > 0
    # Later that day, a run "now" is for that day: nothing twice.
    clock.set(FIRE + timedelta(hours=11))
    run_job("profit-share-daily", "--by", finance.email, "--reason", "run it now")
    # The next day, a run for 23 November still pays nothing; a run for now (24 November) pays what is due.
    clock.set(FIRE + timedelta(days=1, hours=2))
    run_job("profit-share-daily", "--at", "2026-11-22T20:00:00Z", "--by", finance.email, "--reason", "was it run?")
    following.refresh_from_db()
    assert spot(lead.user).balance == D("10") and share_pending(following) == again
    run_job("profit-share-daily", "--by", finance.email, "--reason", "beat is down today")
    assert spot(lead.user).balance == D("10") + again
    assert list(JobRun.objects.order_by("pk").values_list("period", "result")) == [
        (FIRE, 0),
        (FIRE, 0),
        (FIRE + timedelta(days=1), 1),
    ]
    assert list(ShareSettlement.objects.order_by("day").values_list("day", flat=True)) == [DAY, date(2026, 11, 24)]


def test_loan_interest_is_charged_once_a_day_whichever_run_comes_first(pending, clock, finance):
    """R-PS-08: the daily run charges interest keyed by (loan, platform date)."""
    _, following = pending
    wallet = LedgerAccount.objects.get(pk=following.sub_account_id)
    loan_draw(following=following, wallet=wallet, amount=D("100"), key="loan-1")
    clock.set(FIRE + timedelta(minutes=3))
    run_job("profit-share-daily", "--at", "2026-11-22T16:00:00Z", "--by", finance.email, "--reason", "missed")
    clock.set(FIRE + timedelta(minutes=4))
    profit_share_daily()  # beat, late, for the same day
    assert loan_owed(following) == D("100.05")  # 0.05 % once
    assert JournalEntry.objects.filter(kind="profit_loan_interest").count() == 1
    clock.set(FIRE + timedelta(days=1, seconds=2))
    profit_share_daily()
    assert JournalEntry.objects.filter(kind="profit_loan_interest").count() == 2


def test_a_missed_funding_time_is_settled_by_hand_once(clock, finance):
    """R-MG-07: funding is keyed by (market, funding time)."""
    from accounts.jobs import job_run_execute

    clock.set(datetime(2026, 11, 21, 23, 0, tzinfo=UTC))
    btc = MarketFactory()  # funding rate 0.01 %: 0.1 × 60,000 × 0.01 % = 0.6 a funding time
    trader = UserFactory()
    fund_futures(trader, "1000")
    market_setting_set(account=futures(trader), market=btc, leverage=10, margin_mode="cross")
    order_place(account=futures(trader), market=btc, side="buy", qty=D("0.1"), idempotency_key="open")
    # Given beat missed 00:00 UTC but ran at 08:00,
    clock.set(datetime(2026, 11, 22, 8, 0, 5, tzinfo=UTC))
    assert funding_settle() == 1
    # when Finance runs funding for 00:30 at 09:00, it settles 00:00;
    clock.set(datetime(2026, 11, 22, 9, 0, tzinfo=UTC))
    response = post_run(finance, "funding", {"at": "2026-11-22T00:30:00+00:00", "reason": "beat down at 00:00"})
    assert response.status_code == 202, response.data
    assert response.data["period"] == "2026-11-22T00:00:00Z"
    assert job_run_execute(run_id=response.data["id"]).result == 1  # what the queued task does
    position = Position.objects.get(market=btc)
    assert position.funding_paid == D("1.2")
    # and a run for now (08:00 again) or a second one for 00:00 settles nothing twice.
    run_job("funding", "--by", finance.email, "--reason", "again")
    run_job("funding", "--at", "2026-11-22T00:00:00Z", "--by", finance.email, "--reason", "again")
    position.refresh_from_db()
    assert position.funding_paid == D("1.2")
    assert list(JobRun.objects.order_by("pk").values_list("result", flat=True)) == [1, 0, 0]
    assert sorted(FundingRun.objects.values_list("funding_time", flat=True)) == [
        datetime(2026, 11, 22, 0, tzinfo=UTC),
        datetime(2026, 11, 22, 8, tzinfo=UTC),
    ]


# --- the period ------------------------------------------------------------------------------------------


def test_the_period_follows_a_crontab_an_operator_edited(pending, clock, finance):
    _, following = pending
    task = PeriodicTask.objects.get(name="profit-share-daily")
    task.crontab = crontab_for(minute="30", hour="0")  # moved to 00:30 platform time in the admin
    task.save()
    clock.set(FIRE + timedelta(minutes=25))
    run_job("profit-share-daily", "--at", "2026-11-22T16:20:00Z", "--by", finance.email, "--reason", "x")
    # 16:20 UTC is before that day's 00:30 fire: the run is for the day before.
    assert JobRun.objects.get().period == datetime(2026, 11, 21, 16, 30, tzinfo=UTC)
    assert ShareSettlement.objects.get(following=following).day == date(2026, 11, 22)


def test_an_unregistered_job_uses_its_coded_schedule_and_one_moved_off_crontab_is_refused(clock, risk):
    from django_celery_beat.models import IntervalSchedule

    clock.set(FIRE)
    PeriodicTask.objects.filter(name="ledger-audit").delete()  # setup_schedules never ran for it
    run_job("ledger-audit")
    assert JobRun.objects.get().period == datetime(2026, 11, 21, 16, 30, tzinfo=UTC)  # 00:30 platform time
    task = PeriodicTask.objects.get(name="statistics-daily")
    task.crontab, task.interval = None, IntervalSchedule.objects.create(every=1, period="hours")
    task.save()
    response = post_run(risk, "statistics-daily", {})
    assert response.status_code == 422 and list(response.data["fields"]) == ["name"]
    assert JobRun.objects.count() == 1
    jobs = {job["name"]: job for job in api(risk).get("/api/v1/ops/jobs").data}
    assert jobs["statistics-daily"]["schedule"] is None  # still listed


def test_the_last_fire_counts_its_own_minute_and_reaches_back_a_week():
    midnight = crontab_for(minute="0", hour="0")
    assert last_fire_utc(midnight, FIRE + timedelta(seconds=59)) == FIRE
    assert last_fire_utc(midnight, FIRE - timedelta(seconds=1)) == FIRE - timedelta(days=1)
    monday = crontab_for(minute="0", hour="0", day_of_week="1")  # Monday 23 November, platform time
    assert last_fire_utc(monday, datetime(2026, 11, 29, 15, 0, tzinfo=UTC)) == FIRE


# --- refusals --------------------------------------------------------------------------------------------


def test_a_future_at_is_refused_and_nothing_is_recorded(pending, clock, finance):
    clock.set(FIRE)
    later = "2026-11-22T17:00:00+00:00"
    with pytest.raises(CommandError, match="at: is in the future"):
        run_job("profit-share-daily", "--at", later, "--by", finance.email, "--reason", "early")
    response = post_run(finance, "profit-share-daily", {"at": later, "reason": "early"})
    assert response.status_code == 400
    assert list(response.data["fields"]) == ["at"]
    assert not JobRun.objects.exists() and not ShareSettlement.objects.exists()


@pytest.mark.parametrize("at", ["2026-11-22T10:00:00", "yesterday"])
def test_an_at_without_an_offset_or_not_a_time_is_refused(finance, at):
    response = post_run(finance, "ledger-audit", {"at": at})
    assert response.status_code == 400 and list(response.data["fields"]) == ["at"]
    with pytest.raises(CommandError, match="at: "):
        run_job("ledger-audit", "--at", at)
    assert not JobRun.objects.exists()


def test_a_money_moving_job_needs_finance_and_a_reason(pending, risk, finance, user):
    for caller in (risk, OperatorFactory(), user):
        assert post_run(caller, "profit-share-daily", {"reason": "please"}).status_code == 403
    with pytest.raises(CommandError, match="run_money_job"):
        run_job("profit-share-daily", "--by", risk.email, "--reason", "please")
    with pytest.raises(CommandError, match="by: "):
        run_job("profit-share-daily", "--reason", "who am I?")
    response = post_run(finance, "profit-share-daily", {"reason": "  "})
    assert response.status_code == 400 and list(response.data["fields"]) == ["reason"]
    assert not JobRun.objects.exists() and not ShareSettlement.objects.exists()
    # A job that moves no money: Risk operators may run it, and a command needs no --by.
    assert post_run(risk, "ledger-audit", {}).status_code == 202
    assert "succeeded" in run_job("ledger-audit")
    assert list(JobRun.objects.order_by("pk").values_list("actor", flat=True)) == [risk.pk, None]


def test_an_unknown_job_is_404(finance):
    assert post_run(finance, "no-such-job", {"reason": "x"}).status_code == 404
    assert api(finance).get("/api/v1/ops/jobs/no-such-job/runs").status_code == 404
    with pytest.raises(CommandError, match="no periodic job is called 'no-such-job'"):
        run_job("no-such-job")
    assert not JobRun.objects.exists()


def test_a_job_on_the_present_state_runs_only_for_now(clock, risk):
    clock.set(FIRE)
    response = post_run(risk, "ledger-audit", {"at": "2026-11-20T16:30:00Z"})
    assert response.status_code == 400 and list(response.data["fields"]) == ["at"]
    assert post_run(risk, "ledger-audit", {"at": "2026-11-21T16:31:00Z"}).status_code == 202  # its current period


# --- the outcome of a run ------------------------------------------------------------------------------


def test_a_failing_job_is_recorded_as_failed_with_its_error(clock, finance, monkeypatch):
    from copytrading.futures import tasks

    def down(**kwargs):
        raise RuntimeError("price feed down")

    monkeypatch.setattr(tasks, "funding_settle_due", down)
    with pytest.raises(CommandError, match="failed: RuntimeError: price feed down"):
        run_job("funding", "--by", finance.email, "--reason", "retry")
    run = JobRun.objects.get()
    assert (run.status, run.error, run.result) == ("failed", "RuntimeError: price feed down", None)


def test_a_finished_run_delivered_again_does_not_run_again():
    from accounts.jobs import job_run_execute

    run_job("ledger-audit")
    run = JobRun.objects.get()
    assert LedgerAuditRun.objects.count() == 1
    assert job_run_execute(run_id=run.pk).status == "succeeded"
    assert LedgerAuditRun.objects.count() == 1
