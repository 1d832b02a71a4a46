"""The copy fan-out: one lead fill reaches every live following, in batches. (R-CT-02, R-CT-07 … R-CT-14, R-CT-21)

``copy_fanout_dispatch`` (the ``copy_fanout_run`` task) splits the live
followings into batches of ``COPY_FANOUT_BATCH`` and queues one
``copy_fanout_batch_run`` task per batch, by following-id range, so every
``copy`` worker process takes a share; ``copy_fanout`` runs them one after
another in the caller. A batch is one transaction (``copy_batch``). Before it
runs, a batch copies the lead's earlier fills its followers have not had yet,
oldest first, each in its own transaction: batches of consecutive fills run on
several workers and a failed one is retried later, so a close must not reach a
follower before the open it closes.
"""

from __future__ import annotations

import gc
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import OperationalError, transaction
from django.db.models import Exists, Max, OuterRef
from django.utils import timezone

from accounts.models import AccountKind, LedgerAccount
from config.queueing import enqueue_on_commit
from copytrading.decisions import LeadFill, lead_fill
from copytrading.futures import margin as m
from copytrading.futures.lock_objects import lock_books
from copytrading.futures.models import Order, Position, PositionStatus
from copytrading.futures.risk import equity_before
from copytrading.models import CopyDecision, Following, FollowingStatus, LeadTrader
from copytrading.services.copy_batch import TokenLimitMoved, batch_execute

logger = logging.getLogger(__name__)

# How many of the lead's earlier fills a batch copies first, at the most (each one
# its own transaction); a longer backlog is left to those fills' own tasks.
CATCH_UP_DEPTH = 20


def copy_fanout(*, lead_order_id: int) -> int:
    """Copy one lead fill to every live following, batch after batch here; return how many were decided now."""
    fill = _fill_of(lead_order_id)
    if fill is None:
        return 0
    return sum(fanout_batch(fill, ids) for ids in _batches(fill, settings.COPY_FANOUT_BATCH))


def copy_fanout_dispatch(*, lead_order_id: int) -> int:
    """Spread one lead fill's fan-out over the ``copy`` workers: one queued task per batch; return how many.

    Each task is a range of following ids (``copy_fanout_batch_run``). Batches
    lock disjoint followings and sub-accounts, and each is idempotent, so a
    duplicated dispatch or a retried batch changes nothing. A fill with a single
    batch is copied here, without the round trip through the queue.
    """
    fill = _fill_of(lead_order_id)
    if fill is None:
        return 0
    batches = _batches(fill, settings.COPY_FANOUT_BATCH)
    if len(batches) == 1:
        fanout_batch(fill, batches[0])
        return 1
    for ids in batches:
        enqueue_on_commit("copytrading.copy_fanout_batch", lead_order_id, ids[0], ids[-1])
    return len(batches)


# The reconciler looks at lead fills at least RECONCILE_GRACE old (a fan-out takes
# seconds) and at most RECONCILE_WINDOW (older gaps are reached through the catch-up
# of a later fill): one query per lead that traded in the window.
RECONCILE_GRACE = timedelta(minutes=1)
RECONCILE_WINDOW = timedelta(hours=1)


def copy_fanout_reconcile(*, now: datetime | None = None) -> int:
    """Fan out again each lead's latest recent fill that some of its followers never got; return how many.

    The scheduled safety net for a fan-out task that was lost or gave up (a
    worker killed past its retries, a broker outage): a fill is complete when
    every following started before it and still live has its decision. Fanning
    out again is harmless (decided followings are skipped), and a batch first
    copies the earlier fills its followers lack, so the latest fill per lead
    stands for the ones before it.
    """
    now = now or timezone.now()
    leads = LeadTrader.objects.values("user_id")
    latest = (
        Order.objects.filter(
            created_at__gte=now - RECONCILE_WINDOW,
            created_at__lte=now - RECONCILE_GRACE,
            account__kind=AccountKind.FUTURES,
            account__owner_id__in=leads,
        )
        .values("account_id")
        .annotate(last=Max("pk"))
        .values_list("last", flat=True)
    )
    redone = 0
    for order_id, created_at, owner_id in Order.objects.filter(pk__in=list(latest)).values_list(
        "pk", "created_at", "account__owner_id"
    ):
        if _undecided(Following.objects.filter(lead__user_id=owner_id), order_id, created_at).exists():
            logger.warning("copy fan-out: lead order %s left followers undecided; fanning it out again", order_id)
            copy_fanout_dispatch(lead_order_id=order_id)
            redone += 1
    return redone


def copy_fanout_range(*, lead_order_id: int, first_id: int, last_id: int) -> int:
    """Copy one lead fill to the live followings with ids in [first_id, last_id]: one batch of a dispatch."""
    fill = _fill_of(lead_order_id)
    if fill is None:
        return 0
    ids = list(_live_followings(fill).filter(pk__range=(first_id, last_id)).values_list("pk", flat=True))
    return fanout_batch(fill, ids) if ids else 0


def _fill_of(lead_order_id: int) -> LeadFill | None:
    order = Order.objects.select_related("market", "account").get(pk=lead_order_id)
    if not LeadTrader.objects.filter(user_id=order.account.owner_id).exists():
        return None
    return lead_fill(order)


def _live_followings(fill: LeadFill):
    return Following.objects.filter(
        lead__user_id=fill.order.account.owner_id, status__in=[FollowingStatus.ACTIVE, FollowingStatus.STOPPING]
    )


def _batches(fill: LeadFill, size: int) -> list[list[int]]:
    ids = list(_live_followings(fill).order_by("pk").values_list("pk", flat=True))
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def fanout_batch(fill: LeadFill, following_ids: list[int], *, catch_up: int = CATCH_UP_DEPTH) -> int:
    """Copy a fill to one batch of followings (the lead's earlier fills they lack first); return how many decided."""
    if catch_up:
        _catch_up(fill, following_ids, depth=catch_up)
    # The batch allocates tens of thousands of short-lived objects and frees them all at
    # the end: the cyclic collector would only rescan them, so it waits until then.
    collecting = gc.isenabled()
    gc.disable()
    try:
        try:
            return batch_execute(fill, following_ids, token_locked=False)
        except TokenLimitMoved:  # rolled back: decide again, this time holding the token limit throughout
            return batch_execute(fill, following_ids, token_locked=True)
    finally:
        if collecting:
            gc.enable()


def _catch_up(fill: LeadFill, following_ids: list[int], *, depth: int) -> None:
    """Copy the lead's previous fill to those of these followings that lack it, in its own transaction(s).

    Run before the batch takes any lock, so no lock is held across the two
    fills. Read without locks, the check may see a batch of the previous fill
    still running as missing: copying it again then waits on that batch's
    locks and finds everyone decided. A fill that fails for a reason other than
    contention is logged and not waited for: its own task reports it.
    """
    previous, missing = _previous_fill_pending(fill, following_ids)
    if previous is None:
        return
    try:
        fanout_batch(previous, missing, catch_up=depth - 1)
    except OperationalError:
        raise  # contention or a lost connection: this batch is retried, still in order
    except Exception:
        logger.exception(
            "copy fan-out: could not copy lead order %s to %d followings before order %s",
            previous.order.pk,
            len(missing),
            fill.order.pk,
        )


def _previous_fill_pending(fill: LeadFill, following_ids: list[int]) -> tuple[LeadFill | None, list[int]]:
    """The lead's previous fill and those of these followings (following since before it) not yet copied it."""
    if fill.existing:
        return None, []
    previous = (
        Order.objects.filter(account_id=fill.order.account_id, pk__lt=fill.order.pk)
        .order_by("-pk")
        .values_list("pk", "created_at")
        .first()
    )
    if previous is None:
        return None, []
    missing = list(
        _undecided(Following.objects.filter(pk__any=set(following_ids)), *previous)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not missing:
        return None, []
    return lead_fill(Order.objects.select_related("market", "account").get(pk=previous[0])), missing


def _undecided(followings, order_id: int, created_at: datetime):
    """Those of ``followings`` that followed before the lead order, are still live and have no decision for it."""
    return (
        followings.filter(started_at__lt=created_at)
        .exclude(status=FollowingStatus.STOPPED)
        .exclude(Exists(CopyDecision.objects.filter(lead_order_id=order_id, following_id=OuterRef("pk"))))
    )


def copy_existing(*, following: Following) -> int:
    """Replicate the lead's open positions at the current mark for a new following ("follow existing")."""
    lead_wallet = LedgerAccount.objects.get(owner_id=following.lead.user_id, kind=AccountKind.FUTURES)
    copied = 0
    for position in Position.objects.filter(account=lead_wallet, slot=0, status=PositionStatus.OPEN).select_related(
        "market"
    ):
        order = Order.objects.filter(position=position).order_by("-pk").first()
        if order is None:
            continue
        with transaction.atomic():
            book = lock_books([lead_wallet])[lead_wallet.pk]
            order.lead_equity = equity_before(book)
        fill = LeadFill(
            order=order,
            market=position.market,
            side="buy" if position.side == "long" else "sell",
            open_qty=position.qty,
            close_fraction=None,
            lead_margin=m.initial_margin(qty=position.qty, price=position.entry_price, leverage=position.leverage),
            blocked="",
            existing=True,
        )
        copied += fanout_batch(fill, [following.pk])
    return copied
