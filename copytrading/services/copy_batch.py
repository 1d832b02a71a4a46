"""One batch of the copy fan-out: its followings decided and written in one transaction. (R-CT-02, R-CT-07 …
R-CT-14, R-CT-21)

The batch locks its followings, then their sub-accounts (and isolated-margin
accounts) in id order, reads their open positions once, decides every following
in memory (``copytrading.decisions``) and writes positions, decisions, one compound
journal entry, closes and outbox events with bulk statements, so the work per
follower is a fraction of a query. A decision row per (lead fill, following) —
a unique key, read under the followings' locks — makes a retried or duplicated
batch harmless. ``copytrading.services.fanout`` splits a fill into batches and
orders them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext

from django.db import connection, transaction
from django.db.models import F, Sum
from django.utils import timezone

from accounts.money import ZERO
from config.db import bulk_update_rows, copy_rows, rows_to_instances
from copytrading.decisions import DECISION_COLUMNS, Context, LeadFill, Sub, decide
from copytrading.futures.lock_objects import lock_books_for
from copytrading.futures.models import Market, Position, PositionStatus
from copytrading.futures.risk import cross_prices_apply
from copytrading.futures.services.bulk import closes_write, positions_write
from copytrading.models import (
    CopyDecision,
    CopySettings,
    Following,
    FollowingStatus,
    LeadTrader,
    NotFollowedReason,
)

# The advisory-lock class of the token follow limit (R-CT-21): (class, market id).
TOKEN_LIMIT_LOCK = 21
# What a batch reads of its followings, as plain rows: the settings a decision depends on.
FOLLOWING_COLUMNS = (
    "id",
    "follower_id",
    "lead_id",
    "sub_account_id",
    "mode",
    "status",
    "pairs",
    "auto_follow_new_pairs",
    "guardian_max_loss",
    "guardian_min_net_value",
    "stop_loss_ratio",
    "take_profit_ratio",
    "max_margin_per_pair",
    "slippage_ratio",
    "margin_mode",
    "leverage_mode",
    "fixed_leverage",
    "custom_leverage",
    "max_margin_per_order_pct",
    "max_position_value",
    "diverse_margin",
    "diverse_multiple",
)


class TokenLimitMoved(Exception):
    """Other batches changed the token follow limit's use while this one decided, and its decisions depend on it."""


@dataclass
class _Projected:
    """A wallet's balance after this batch's movements, for the cross liquidation prices before the entry posts."""

    balance: Decimal
    held: Decimal


def batch_execute(fill: LeadFill, following_ids: list[int], *, token_locked: bool) -> int:
    """Decide and write the copies of one batch of followings in one transaction; return how many were decided.

    Raises ``TokenLimitMoved`` (everything rolled back) when, deciding without the
    token-limit lock, other batches changed what its decisions depended on: call
    again with ``token_locked``.
    """
    with transaction.atomic():
        rows = (
            Following.objects.filter(pk__any=set(following_ids))
            .exclude(status=FollowingStatus.STOPPED)
            .order_by("pk")
            .select_for_update()
            .values_list(*FOLLOWING_COLUMNS)
        )
        locked = rows_to_instances(Following, FOLLOWING_COLUMNS, rows)
        # Read after the locks: a twin batch (a duplicated task) that held them has committed by now.
        done = set(
            CopyDecision.objects.filter(lead_order=fill.order, following_id__any={f.id for f in locked}).values_list(
                "following_id", flat=True
            )
        )
        followings = [f for f in locked if f.pk not in done]
        if not followings:
            return 0
        market = Market.objects.get(pk=fill.market.pk)
        lead = LeadTrader.objects.get(user_id=fill.order.account.owner_id)
        books = lock_books_for({f.sub_account_id: f.follower_id for f in followings})
        for f in followings:
            f.lead, f.sub_account = lead, books[f.sub_account_id].wallet
        subs = {wid: Sub(book=book) for wid, book in books.items()}
        for p in (
            Position.objects.filter(account_id__any=set(books), status=PositionStatus.OPEN)
            .select_related("market")
            .order_by("pk")
            .select_for_update(of=("self",))
        ):
            subs[p.account_id].positions.append(p)
        ctx = Context(fill=fill, market=market, price=market.mark_price, settings=CopySettings.current())
        limited = market.token_follow_limit is not None and bool(fill.open_qty)
        if limited:
            if token_locked:
                _token_limit_lock(market)
            ctx.token_used = token_base = _token_used(market)
            ours = _followed_value(subs, market)  # the part of it in this batch's (locked) sub-accounts
        for f in followings:
            decide(ctx, f, subs[f.sub_account_id])

        # Positions and decisions first, the entry last: the entry locks the platform's fee,
        # house and insurance rows, which every batch shares, so they stay locked only
        # from there to the commit and batches on other workers overlap everything else.
        touched = {id(p): p for p in ctx.touched.values()}
        for sub in subs.values():
            wallet = sub.book.wallet
            projected = _Projected(balance=wallet.balance + ctx.moves.net(wallet.pk), held=wallet.held)
            for p in cross_prices_apply(projected, sub.positions):
                touched[id(p)] = p
        positions_write(positions=touched.values())
        now = timezone.now()
        copy_rows(CopyDecision, DECISION_COLUMNS, (d.row(now) for d in ctx.decisions))
        if ctx.pairs_added:
            bulk_update_rows(Following, ctx.pairs_added, ["pairs"])
        if limited and not token_locked:
            _token_limit_confirm(ctx, market, token_base, ours_before=ours, ours_after=_followed_value(subs, market))
        entry = ctx.moves.post(
            kind="copy_fill",
            key=f"copy:{fill.order.pk}:{followings[0].pk}-{followings[-1].pk}",
            reference=f"order:{fill.order.pk}",
            locked={a.pk: a for b in books.values() for a in b.accounts()},
        )
        closes_write(closes=ctx.closes, entry=entry)
        return len(ctx.decisions)


def _token_used(market: Market) -> Decimal:
    """The value followed on the market now: every open copy at its entry price (R-CT-21)."""
    copies = Position.objects.filter(market=market, status=PositionStatus.OPEN, slot__gt=0)
    return copies.aggregate(v=Sum(F("qty") * F("entry_price")))["v"] or ZERO


def _followed_value(subs: dict[int, Sub], market: Market) -> Decimal:
    """``_token_used`` restricted to the batch's sub-accounts, from its positions in memory."""
    with localcontext(prec=60):  # exact, as PostgreSQL sums NUMERIC, so equal uses compare equal
        return sum(
            (
                p.qty * p.entry_price
                for sub in subs.values()
                for p in sub.positions
                if p.market_id == market.id and p.slot > 0 and p.status == PositionStatus.OPEN
            ),
            ZERO,
        )


def _token_limit_lock(market: Market) -> None:
    """Take the market's token-limit lock until commit: batches on other workers take turns from here."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [TOKEN_LIMIT_LOCK, market.pk])


def _token_limit_confirm(
    ctx: Context, market: Market, base: Decimal, *, ours_before: Decimal, ours_after: Decimal
) -> None:
    """R-CT-21 across concurrent batches: the batch decided against ``base`` without the lock; confirm it holding it.

    The decisions stand when nobody changed the use meanwhile, or when every open
    fitted and still fits; otherwise the batch rolls back and decides again locked.
    The batch's own sub-accounts (locked, so only it changed them) count as they
    were before it, so ``fresh`` compares with ``base``.
    """
    _token_limit_lock(market)
    with localcontext(prec=60):
        fresh = _token_used(market) - ours_after + ours_before
    if fresh == base:
        return
    added = ctx.token_used - base
    refused = any(d.reason == NotFollowedReason.TOKEN_LIMIT for d in ctx.decisions)
    if refused or fresh + added > market.token_follow_limit:
        raise TokenLimitMoved
