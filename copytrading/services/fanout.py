"""The copy fan-out: one lead fill reaches every live following, in batches. (R-CT-02, R-CT-07 … R-CT-14, R-CT-21)

Each batch of followings is one transaction: it locks their sub-accounts (and
isolated-margin accounts) in id order, reads their open positions once,
decides every following in memory, and writes positions, closes, decisions and
one compound journal entry with bulk statements, so the work per follower is a
fraction of a query. A decision row per (lead fill, following) — a unique key —
makes a retried or duplicated batch harmless: followings already decided are
skipped.
"""

from __future__ import annotations

import gc

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from accounts.models import AccountKind, LedgerAccount
from accounts.money import ZERO
from config.db import bulk_update_rows, copy_insert, copy_rows, rows_to_instances
from copytrading import margin as m
from copytrading.lock_objects import lock_books, lock_books_for
from copytrading.models import (
    CopyDecision,
    CopySettings,
    Following,
    FollowingStatus,
    LeadTrader,
    Market,
    Order,
    Position,
    PositionClose,
    PositionStatus,
)
from copytrading.services.copy_decide import (
    DECISION_COLUMNS,
    Context,
    LeadFill,
    Sub,
    decide,
    lead_fill,
)
from copytrading.services.fills import POSITION_CLOSE_FIELDS
from copytrading.services.outbox import events_write
from copytrading.services.risk import cross_prices_apply

# Followings per transaction. Each batch costs about 25 statements whatever its
# size; 1,000 keeps a batch near 0.2 s of lock time and 100 MB of memory.
FANOUT_BATCH = 1000
# A batch reads every column of its followings (their settings) as plain rows.
FOLLOWING_COLUMNS = tuple(f.attname for f in Following._meta.concrete_fields)
# Everything a copy open, add or close may change on an existing position.
POSITION_WRITE_FIELDS = sorted(
    {*POSITION_CLOSE_FIELDS, "entry_price", "stop_loss_price", "take_profit_price", "leverage", "guarded"}
)


def copy_fanout(*, lead_order_id: int) -> int:
    """Copy one lead fill to every live following; return how many followings were decided now."""
    order = Order.objects.select_related("market", "account").get(pk=lead_order_id)
    lead = LeadTrader.objects.filter(user_id=order.account.owner_id).first()
    if lead is None:
        return 0
    fill = lead_fill(order)
    ids = list(
        Following.objects.filter(lead=lead, status__in=[FollowingStatus.ACTIVE, FollowingStatus.STOPPING])
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    decided = 0
    for start in range(0, len(ids), FANOUT_BATCH):
        decided += fanout_batch(fill, ids[start : start + FANOUT_BATCH])
    return decided


def fanout_batch(fill: LeadFill, following_ids: list[int]) -> int:
    """Decide and execute the copies of one batch of followings, in one transaction."""
    # The batch allocates tens of thousands of short-lived objects and frees them all at
    # the end: the cyclic collector would only rescan them, so it waits until then.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _fanout_batch(fill, following_ids)
    finally:
        if collecting:
            gc.enable()


def _fanout_batch(fill: LeadFill, following_ids: list[int]) -> int:
    with transaction.atomic():
        done = set(
            CopyDecision.objects.filter(lead_order=fill.order, following_id__any=following_ids).values_list(
                "following_id", flat=True
            )
        )
        lead = LeadTrader.objects.get(user_id=fill.order.account.owner_id)
        rows = (
            Following.objects.filter(pk__any=following_ids)
            .exclude(status=FollowingStatus.STOPPED)
            .order_by("pk")
            .select_for_update()
            .values_list(*FOLLOWING_COLUMNS)
        )
        followings = [f for f in rows_to_instances(Following, FOLLOWING_COLUMNS, rows) if f.pk not in done]
        if not followings:
            return 0
        books = lock_books_for({f.sub_account_id: f.follower_id for f in followings})
        for f in followings:
            f.lead, f.sub_account = lead, books[f.sub_account_id].wallet
        subs = {wid: Sub(book=book) for wid, book in books.items()}
        for p in (
            Position.objects.filter(account_id__any=list(books), status=PositionStatus.OPEN)
            .select_related("market")
            .order_by("pk")
            .select_for_update(of=("self",))
        ):
            subs[p.account_id].positions.append(p)
        market = Market.objects.get(pk=fill.market.pk)
        ctx = Context(fill=fill, market=market, price=market.mark_price, settings=CopySettings.current())
        if market.token_follow_limit is not None:
            ctx.token_used = (
                Position.objects.filter(market=market, status=PositionStatus.OPEN, slot__gt=0).aggregate(
                    v=Sum(F("qty") * F("entry_price"))
                )["v"]
                or ZERO
            )
        for f in followings:
            decide(ctx, f, subs[f.sub_account_id])

        # The entry first: it updates the locked wallets in place, and the cross
        # liquidation prices below need their new balances.
        locked = {a.pk: a for b in books.values() for a in (b.wallet, b.margin)}
        entry = ctx.moves.post(
            kind="copy_fill",
            key=f"copy:{fill.order.pk}:{followings[0].pk}-{followings[-1].pk}",
            reference=f"order:{fill.order.pk}",
            locked=locked,
        )
        touched = {id(p): p for p in ctx.touched.values()}
        for sub in subs.values():
            for p in cross_prices_apply(sub.book.wallet, sub.positions):
                touched[id(p)] = p
        created = [p for p in touched.values() if p.pk is None]
        updated = [p for p in touched.values() if p.pk is not None]
        copy_insert(Position, created, assign_ids=True)
        bulk_update_rows(Position, updated, POSITION_WRITE_FIELDS)
        for close in ctx.closes:
            close.entry = entry
        copy_insert(PositionClose, ctx.closes, assign_ids=True)
        events_write(ctx.closes)
        now = timezone.now()
        copy_rows(CopyDecision, DECISION_COLUMNS, (d.row(now) for d in ctx.decisions))
        if ctx.pairs_added:
            bulk_update_rows(Following, ctx.pairs_added, ["pairs"])
        return len(ctx.decisions)


def copy_existing(*, following: Following) -> int:
    """Replicate the lead's open positions at the current mark for a new following ("follow existing")."""
    from copytrading.services.orders import lead_equity_before

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
            order.lead_equity = lead_equity_before(book, position.market)
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
