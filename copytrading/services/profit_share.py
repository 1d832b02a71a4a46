"""Profit share with a high-water mark, the withdrawal freeze and the daily settlement. (R-PS-01 … R-PS-07)

Per following: C, the cumulative net realised result of its copies (realised
PnL − fees − funding), is derived from its positions and closes; H, the
high-water mark, is stored. The pending share is ratio × max(0, C − H),
rounded down so the lead is never paid a fraction more than earned (the
follower keeps the residue, so the split always sums exactly). H moves to C
only when the share is paid. A share frozen on a withdrawal moves to the
following's frozen-share ledger account, so it is not available margin and the
sub-account's records show each freeze and its refund.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_DOWN, Decimal

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef

from accounts.lock_objects import lock_accounts
from accounts.models import AccountKind, LedgerAccount
from accounts.money import ZERO, quantize
from accounts.services.accounts import account_open
from accounts.services.ledger import transfer_post
from config.db import bulk_update_rows, copy_insert
from copytrading.futures.models import Position, PositionStatus
from copytrading.futures.services.fills import Movements
from copytrading.models import Following, ShareSettlement
from copytrading.valuation import following_net_result, net_results, share_pending


def frozen_account(following: Following) -> LedgerAccount:
    return account_open(owner=following.follower, kind=AccountKind.FROZEN_SHARE, ref=str(following.pk))


def share_freeze(*, following: Following, amount: Decimal, key: str) -> None:
    """Move ``amount`` of the sub-account into the following's frozen-share account (a record the follower sees)."""
    if amount <= 0:
        return
    transfer_post(
        kind="profit_share_freeze",
        idempotency_key=key,
        source_id=following.sub_account_id,
        destination_id=frozen_account(following).pk,
        amount=amount,
        actor_id=following.follower_id,
        reference=f"following:{following.pk}",
    )


def _settle_into(
    moves: Movements,
    following: Following,
    *,
    net_result: Decimal,
    frozen: Decimal,
    sub_free: Decimal,
    frozen_id: int | None,
    lead_spot_id: int,
) -> tuple[Decimal, Decimal]:
    """Add one following's settlement to ``moves``: the pending share to the lead (frozen part first), the rest
    of the frozen amount back to the sub-account. Moves H and ``share_paid`` in memory. Returns (paid, unfrozen)."""
    pending = share_pending(following, net_result)
    from_frozen = min(frozen, pending)
    from_sub = min(pending - from_frozen, max(sub_free, ZERO))
    paid = from_frozen + from_sub
    moves.move(following.sub_account_id, lead_spot_id, from_sub)
    unfrozen = frozen - from_frozen
    if frozen_id is not None:  # no frozen-share account: nothing was ever frozen
        moves.move(frozen_id, lead_spot_id, from_frozen)
        moves.move(frozen_id, following.sub_account_id, unfrozen)
    if paid:
        # H becomes C when the whole share is paid; a share the balance could not cover stays pending.
        if paid == pending:
            following.high_water_mark = net_result
        else:
            following.high_water_mark += quantize(paid / following.lead.profit_share_ratio, rounding=ROUND_DOWN)
        following.share_paid += paid
    return paid, unfrozen


def share_settle(*, following: Following, key: str) -> tuple[Decimal, Decimal]:
    """Pay the pending share to the lead's spot account and return the rest of the frozen amount.

    Call with the following locked and its copies closed (stop following). Returns (paid, unfrozen).
    """
    frozen_acc = frozen_account(following)
    lead_spot = account_open(owner=following.lead.user, kind=AccountKind.SPOT)
    locked = lock_accounts([following.sub_account_id, frozen_acc.pk, lead_spot.pk])
    moves = Movements()
    paid, unfrozen = _settle_into(
        moves,
        following,
        net_result=following_net_result(following),
        frozen=locked[frozen_acc.pk].balance,
        sub_free=locked[following.sub_account_id].available,
        frozen_id=frozen_acc.pk,
        lead_spot_id=lead_spot.pk,
    )
    moves.post(kind="profit_share", key=key, reference=f"following:{following.pk}", locked=locked)
    if paid:
        Following.objects.filter(pk=following.pk).update(
            high_water_mark=following.high_water_mark, share_paid=following.share_paid
        )
    return paid, unfrozen


# Followings settled per transaction. A batch costs about ten statements
# whatever its size (grouped aggregates, one lock, one entry, bulk writes);
# 1,000 keeps its locks to a fraction of a second.
DAILY_BATCH = 1000


def profit_share_daily_run(*, day: date) -> int:
    """R-PS-06: for every following with no open copy, pay the pending share and unfreeze the rest; once a day.

    Keyed by (following, platform date): a second run, a retry or two beats at once change nothing.
    Followings with open copies are left as they are. Returns how many followings it settled.
    """
    settled, last = 0, 0
    lead_spots: dict[int, int] = {}
    open_copy = Position.objects.filter(slot=OuterRef("pk"), status=PositionStatus.OPEN)
    while True:
        ids = list(
            Following.objects.exclude(status="stopped")
            .filter(pk__gt=last)
            .exclude(share_settlements__day=day)
            .exclude(Exists(open_copy))
            .order_by("pk")
            .values_list("pk", flat=True)[:DAILY_BATCH]
        )
        if not ids:
            return settled
        last = ids[-1]
        try:
            settled += _settle_batch(ids, day, lead_spots)
        except IntegrityError:
            # A concurrent run settled some of them between our read and our write: the batch rolled
            # back whole; once more, and the fresh statement sees their settlements.
            settled += _settle_batch(ids, day, lead_spots)


def _settle_batch(ids: list[int], day: date, lead_spots: dict[int, int]) -> int:
    with transaction.atomic():
        followings = list(
            Following.objects.filter(pk__in=ids)
            .exclude(share_settlements__day=day)
            .select_related("lead__user")
            .order_by("pk")
            .select_for_update(of=("self",))
        )
        busy = set(
            Position.objects.filter(slot__in=ids, status=PositionStatus.OPEN)
            .order_by()
            .values_list("slot", flat=True)
            .distinct()
        )
        flat = [f for f in followings if f.pk not in busy]
        if not flat:
            return 0
        results = net_results(flat)
        frozen = {
            int(a.ref): a
            for a in LedgerAccount.objects.filter(
                owner_id__in={f.follower_id for f in flat},
                kind=AccountKind.FROZEN_SHARE,
                ref__in=[str(f.pk) for f in flat],
            )
        }
        due = [f for f in flat if share_pending(f, results[f.pk]) > 0 or (f.pk in frozen and frozen[f.pk].balance)]
        for f in due:
            if f.lead_id not in lead_spots:  # a handful of leads per run: looked up once
                lead_spots[f.lead_id] = account_open(owner=f.lead.user, kind=AccountKind.SPOT).pk
        locked = lock_accounts(
            [f.sub_account_id for f in due]
            + [frozen[f.pk].pk for f in due if f.pk in frozen]
            + [lead_spots[f.lead_id] for f in due]
        )
        moves, rows, changed = Movements(), [], []
        due_ids = {f.pk for f in due}
        for f in flat:
            paid = unfrozen = ZERO
            if f.pk in due_ids:
                sub = locked[f.sub_account_id]
                frozen_acc = locked[frozen[f.pk].pk] if f.pk in frozen else None
                paid, unfrozen = _settle_into(
                    moves,
                    f,
                    net_result=results[f.pk],
                    frozen=frozen_acc.balance if frozen_acc else ZERO,
                    sub_free=sub.balance - sub.held + moves.net(sub.pk),
                    frozen_id=frozen_acc.pk if frozen_acc else None,
                    lead_spot_id=lead_spots[f.lead_id],
                )
                if paid:
                    changed.append(f)
            rows.append(ShareSettlement(following=f, day=day, paid=paid, unfrozen=unfrozen))
        moves.post(
            kind="profit_share_daily",
            key=f"ps-daily:{day.isoformat()}:{flat[0].pk}-{flat[-1].pk}",
            reference=f"profit-share:{day.isoformat()}",
            locked=locked,
        )
        bulk_update_rows(Following, changed, ["high_water_mark", "share_paid"])
        copy_insert(ShareSettlement, rows)
        return len(rows)


