"""The fan-out spread over several `copy` workers: batches by following-id range, in the lead's order of fills.
(R-CT-11, R-CT-13, R-CT-21)"""

from decimal import Decimal as D
from inspect import getclosurevars

import pytest

from accounts.selectors import ledger_audit
from copytrading.futures.models import Position, PositionStatus
from copytrading.futures.services.market_settings import market_setting_set
from copytrading.models import CopyDecision, NotFollowedReason
from copytrading.services.fanout import copy_fanout, copy_fanout_dispatch, copy_fanout_range
from tests.copytrading.copy_helpers import copy_of, follow, lead_order, make_lead
from tests.factories import futures


def test_a_batch_copies_only_the_live_followings_of_its_id_range(btc):
    lead = make_lead()
    followings = [follow(lead) for _ in range(4)]
    order = lead_order(lead, btc, fanout=False)

    assert copy_fanout_range(lead_order_id=order.pk, first_id=followings[1].pk, last_id=followings[2].pk) == 2

    decided = set(CopyDecision.objects.filter(lead_order=order).values_list("following_id", flat=True))
    assert decided == {followings[1].pk, followings[2].pk}
    assert copy_fanout_range(lead_order_id=order.pk, first_id=followings[1].pk, last_id=followings[2].pk) == 0
    assert copy_fanout(lead_order_id=order.pk) == 2  # the rest; nobody twice
    assert CopyDecision.objects.filter(lead_order=order).count() == 4


def queued_tasks(callbacks) -> list[tuple[str, tuple]]:
    """The (task name, arguments) that on-commit callbacks of ``enqueue_on_commit`` would publish."""
    queued = [getclosurevars(c).nonlocals for c in callbacks if c.__qualname__.startswith("enqueue_on_commit")]
    return [(q["task"].name, q["args"]) for q in queued]


def test_dispatch_queues_one_task_per_range_of_following_ids(btc, settings, django_capture_on_commit_callbacks):
    settings.COPY_FANOUT_BATCH = 2
    lead = make_lead()
    followings = [follow(lead) for _ in range(5)]
    order = lead_order(lead, btc, fanout=False)

    with django_capture_on_commit_callbacks() as queued:
        assert copy_fanout_dispatch(lead_order_id=order.pk) == 3

    # Published once the surrounding transaction, if any, commits: one task per range of ids.
    assert queued_tasks(queued) == [
        ("copytrading.copy_fanout_batch", (order.pk, followings[first].pk, followings[last].pk))
        for first, last in ((0, 1), (2, 3), (4, 4))
    ]
    assert not CopyDecision.objects.filter(lead_order=order).exists()  # the workers decide, not the dispatch
    for first, last in ((0, 1), (2, 3), (4, 4)):
        copy_fanout_range(lead_order_id=order.pk, first_id=followings[first].pk, last_id=followings[last].pk)
    assert CopyDecision.objects.filter(lead_order=order).count() == 5


def test_dispatch_copies_a_single_batch_itself(btc, django_capture_on_commit_callbacks):
    lead = make_lead()
    followings = [follow(lead) for _ in range(2)]
    order = lead_order(lead, btc, fanout=False)

    with django_capture_on_commit_callbacks() as queued:
        assert copy_fanout_dispatch(lead_order_id=order.pk) == 1

    assert queued_tasks(queued) == []  # no batch task queued
    assert CopyDecision.objects.filter(lead_order=order).count() == len(followings)


def test_a_close_that_reaches_a_batch_before_the_open_copies_the_open_first(btc):
    """Given the lead's open was never fanned out to a batch (its task is still being retried),
    when the lead's close reaches that batch, the open is copied first and then closed: no copy is left open."""
    lead = make_lead()
    followings = [follow(lead) for _ in range(2)]
    opened = lead_order(lead, btc, fanout=False)
    closed = lead_order(lead, btc, side="sell", reduce_only=True, fanout=False)

    assert copy_fanout(lead_order_id=closed.pk) == 2

    for following in followings:
        assert CopyDecision.objects.get(lead_order=opened, following=following).followed
        close = CopyDecision.objects.get(lead_order=closed, following=following)
        assert close.followed and close.is_close and close.qty == D("0.01")
        assert copy_of(following, btc) is None
        assert Position.objects.get(slot=following.pk).status == PositionStatus.CLOSED
    assert copy_fanout(lead_order_id=opened.pk) == 0  # the open's own task, when it finally runs
    assert ledger_audit().ok


def test_followings_started_after_the_previous_fill_do_not_wait_for_it(btc):
    lead = make_lead()
    early = follow(lead)
    first = lead_order(lead, btc, fanout=False)
    late = follow(lead)
    second = lead_order(lead, btc, side="sell", qty="0.05", reduce_only=True, fanout=False)

    assert copy_fanout(lead_order_id=second.pk) == 2

    assert set(CopyDecision.objects.filter(lead_order=first).values_list("following_id", flat=True)) == {early.pk}
    assert CopyDecision.objects.filter(lead_order=second).count() == 2
    assert copy_of(early, btc).qty == D("0.005")  # opened by the first fill, then half closed by the second
    assert copy_of(late, btc) is None


def test_the_token_limit_counts_the_copies_of_every_batch(btc, settings):
    """R-CT-21 across batches: the limit left after earlier batches is what a later batch may use."""
    settings.COPY_FANOUT_BATCH = 1
    btc.token_follow_limit = D("1500")  # room for two copies of 600 USDT (0.01 BTC at 60,000)
    btc.save(update_fields=["token_follow_limit"])
    lead = make_lead()
    followings = [follow(lead) for _ in range(3)]
    order = lead_order(lead, btc, fanout=False)
    for following in followings:
        copy_fanout_range(lead_order_id=order.pk, first_id=following.pk, last_id=following.pk)

    reasons = [CopyDecision.objects.get(lead_order=order, following=f).reason for f in followings]
    assert reasons == ["", "", NotFollowedReason.TOKEN_LIMIT]


@pytest.mark.slow
def test_a_fill_is_copied_by_several_worker_processes_each_taking_batches(start_worker, btc):
    """Two worker processes, batches of 2: every following decided once, copies opened and then closed."""
    import time
    import uuid

    from django.db import transaction

    from copytrading.futures.services.orders import order_place

    lead = make_lead()
    followings = [follow(lead) for _ in range(7)]
    proc = start_worker(["copy"], processes=2, env={"COPY_FANOUT_BATCH": "2"})
    market_setting_set(account=futures(lead.user), market=btc, leverage=10)

    def place(**kwargs):
        with transaction.atomic():
            return order_place(
                account=futures(lead.user), market=btc, qty=D("0.1"), idempotency_key=uuid.uuid4().hex, **kwargs
            )

    def wait_for(order):
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and CopyDecision.objects.filter(lead_order=order).count() < len(followings):
            if proc.poll() is not None:
                pytest.fail(f"worker exited early:\n{proc.stdout.read()}")
            time.sleep(0.2)

    opened = place(side="buy")
    wait_for(opened)
    closed = place(side="sell", reduce_only=True)
    wait_for(closed)

    for following in followings:
        assert CopyDecision.objects.filter(lead_order=opened, following=following, followed=True).count() == 1
        assert CopyDecision.objects.filter(lead_order=closed, following=following, is_close=True).count() == 1
        assert copy_of(following, btc) is None
    assert Position.objects.filter(slot__in=[f.pk for f in followings]).count() == len(followings)
    assert ledger_audit().ok


@pytest.mark.django_db(transaction=True)
def test_batches_running_at_once_never_follow_past_the_token_limit(btc):
    """R-CT-21 under concurrency: given room for one 600 USDT copy, when two batches decide at the same time,
    then one follows and the other is refused with the token limit (it decides again once the first commits)."""
    import threading

    from django.db import connection, transaction

    from copytrading.services.copy_batch import TOKEN_LIMIT_LOCK

    btc.token_follow_limit = D("1000")
    btc.save(update_fields=["token_follow_limit"])
    lead = make_lead()
    first, second = follow(lead), follow(lead)
    order = lead_order(lead, btc, fanout=False)
    started, release, errors = threading.Event(), threading.Event(), []

    def run(following, *, hold: bool):
        try:
            with transaction.atomic():
                if hold:  # the first batch holds the token limit until told to commit
                    with connection.cursor() as cursor:
                        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [TOKEN_LIMIT_LOCK, btc.pk])
                copy_fanout_range(lead_order_id=order.pk, first_id=following.pk, last_id=following.pk)
                if hold:
                    started.set()
                    release.wait(10)
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    holder = threading.Thread(target=run, args=(first,), kwargs={"hold": True})
    holder.start()
    assert started.wait(10)
    other = threading.Thread(target=run, args=(second,), kwargs={"hold": False})
    other.start()
    other.join(0.5)  # it decides against the committed use (none yet), then waits for the lock
    release.set()
    holder.join(10)
    other.join(10)

    assert not errors
    assert CopyDecision.objects.get(lead_order=order, following=first).followed
    refused = CopyDecision.objects.get(lead_order=order, following=second)
    assert not refused.followed and refused.reason == NotFollowedReason.TOKEN_LIMIT
    assert copy_of(second, btc) is None
    assert ledger_audit().ok


def test_a_fresh_open_inserts_the_copies_and_never_rewrites_them_in_the_same_batch(btc):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    lead = make_lead()
    followings = [follow(lead) for _ in range(3)]
    order = lead_order(lead, btc, fanout=False)

    with CaptureQueriesContext(connection) as captured:
        assert copy_fanout(lead_order_id=order.pk) == 3

    statements = [q["sql"] for q in captured.captured_queries]
    assert not [sql for sql in statements if sql.startswith('UPDATE "copytrading_position"')]
    assert all(copy_of(f, btc).qty == D("0.01") for f in followings)


@pytest.mark.django_db(transaction=True)
def test_copying_a_missed_earlier_fill_first_holds_no_lock_across_the_two_fills(btc):
    """Given one follower missed the lead's open and another holds its copy, when the close's batch runs
    while that follower closes its copy by hand (book, position, then the platform rows), then neither
    deadlocks: the open is copied in its own transaction before the close's batch takes its locks."""
    import threading
    import time

    from django.db import connection, transaction

    from accounts.models import LedgerAccount
    from copytrading.futures.services.positions import position_close

    lead = make_lead()
    missed, holder = follow(lead), follow(lead)
    opened = lead_order(lead, btc, fanout=False)
    copy_fanout_range(lead_order_id=opened.pk, first_id=holder.pk, last_id=holder.pk)
    closed = lead_order(lead, btc, side="sell", reduce_only=True, fanout=False)
    copy = Position.objects.select_related("market", "account").get(pk=copy_of(holder, btc).pk)
    locked, errors = threading.Event(), []

    def close_by_hand():
        try:
            with transaction.atomic():
                LedgerAccount.objects.select_for_update().get(pk=holder.sub_account_id)
                locked.set()
                time.sleep(1.0)  # the close's batch is running meanwhile
                position_close(position=copy, idempotency_key="by-hand")
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    def fan_out_the_close():
        try:
            copy_fanout_range(lead_order_id=closed.pk, first_id=missed.pk, last_id=holder.pk)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    hand = threading.Thread(target=close_by_hand)
    hand.start()
    assert locked.wait(10)
    batch = threading.Thread(target=fan_out_the_close)
    batch.start()
    hand.join(20)
    batch.join(20)

    assert not errors, errors
    assert CopyDecision.objects.get(lead_order=opened, following=missed).followed
    assert CopyDecision.objects.filter(lead_order=closed).count() == 2
    assert copy_of(missed, btc) is None and copy_of(holder, btc) is None
    assert ledger_audit().ok


def test_a_batch_issues_the_same_queries_whatever_its_size(btc):
    """Every setting a decision reads is loaded with the batch: no query per follower."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for size in (2, 6):
        lead = make_lead()
        for i in range(size):
            follow(lead, **({"margin_mode": "isolated"} if i % 2 else {}))
        order = lead_order(lead, btc, fanout=False)
        with CaptureQueriesContext(connection) as captured:
            assert copy_fanout(lead_order_id=order.pk) == size
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1]


def test_the_reconciler_fans_out_again_a_fill_whose_task_was_lost(btc):
    """Given a lead fill whose fan-out task never ran, when the minute job looks at it after the grace,
    then every follower gets its decision; a complete fill, or one still within the grace, is left alone."""
    from datetime import timedelta

    from copytrading.services.fanout import RECONCILE_GRACE, copy_fanout_reconcile

    lead = make_lead()
    followings = [follow(lead) for _ in range(2)]
    lost = lead_order(lead, btc, fanout=False)
    lost.refresh_from_db()

    assert copy_fanout_reconcile(now=lost.created_at + RECONCILE_GRACE / 2) == 0  # still in its grace
    assert not CopyDecision.objects.filter(lead_order=lost).exists()

    later = lost.created_at + RECONCILE_GRACE + timedelta(seconds=1)
    assert copy_fanout_reconcile(now=later) == 1
    assert CopyDecision.objects.filter(lead_order=lost).count() == len(followings)
    assert all(copy_of(f, btc) for f in followings)
    assert copy_fanout_reconcile(now=later) == 0  # complete now
    assert ledger_audit().ok


def test_the_reconciler_leaves_out_followers_who_started_after_the_fill(btc):
    from datetime import timedelta

    from copytrading.services.fanout import RECONCILE_GRACE, copy_fanout_reconcile

    lead = make_lead()
    follow(lead)
    order = lead_order(lead, btc)  # fanned out
    follow(lead)  # started after the fill: it never gets it
    order.refresh_from_db()

    assert copy_fanout_reconcile(now=order.created_at + RECONCILE_GRACE + timedelta(seconds=1)) == 0
