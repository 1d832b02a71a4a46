"""Losing and liquidated copy closes trigger coverage vouchers. (R-VC-03 … R-VC-06, R-VC-09)

The consumer of the venue's "position closed" events takes a batch at a time.
For the users in it who hold live vouchers, it reads — in a constant number of
queries — their vouchers (locked), their followings and every losing or
liquidated copy close since their earliest claim, and walks those closes in
(closed_at, close id) order: so "first" is the first close in time, even when a
later close's event is delivered before an earlier one's. Each close is decided
once (``CloseDecision`` is unique per close): it triggers the earliest-expiring
live voucher it qualifies for, a liquidation voucher before a first-loss one,
or is recorded with why it did not.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from accounts.money import ZERO
from accounts.services.ledger import entry_post
from config.db import bulk_update_rows, copy_insert
from copytrading.futures.models import CloseReason, MarginMode
from copytrading.futures.selectors import SlotClose, slot_closes_losing
from copytrading.models import FollowMode
from copytrading.selectors.followings import followings_of_users
from vouchers.ledger import release_legs
from vouchers.models import CampaignKind, CloseDecision, Outcome, Payout, Voucher, VoucherState
from vouchers.models.campaigns import COVERAGE_KINDS


@dataclass
class LossEvent:
    """One loss event: a close, or all the closes of one cross liquidation (one event, R-VC-06)."""

    close_id: int
    user_id: int
    mode: str
    closed_at: datetime
    opened_at: datetime
    loss: Decimal  # the trading loss, fees and funding excluded (0 for a liquidation at a profit)
    margin_lost: Decimal  # liquidation: the margin lost, liquidation fee included
    liquidation: bool


def closes_decide(*, payloads: list[dict]) -> int:
    """The outbox batch consumer: settle the vouchers of the users whose copies closed at a loss here."""
    owners = {
        p["owner_id"]
        for p in payloads
        if p.get("slot") and (Decimal(p["realised_pnl"]) < 0 or p["reason"] == CloseReason.LIQUIDATION)
    }
    return vouchers_trigger(user_ids=owners) if owners else 0


def _events(closes: list[SlotClose], slots: dict[int, tuple[int, str]]) -> list[LossEvent]:
    """Closes as loss events, a cross liquidation's closes (one account, one sweep entry) as one."""
    events: list[LossEvent] = []
    cross: dict[tuple[int, int | None], LossEvent] = {}
    for c in closes:
        user_id, mode = slots[c.slot]
        liquidation = c.reason == CloseReason.LIQUIDATION
        loss = max(-c.realised_pnl, ZERO)
        if liquidation and c.margin_mode == MarginMode.CROSS and c.entry_id is not None:
            same = cross.get((c.account_id, c.entry_id))
            if same is not None:
                same.loss += loss
                same.margin_lost += c.margin_lost
                same.opened_at = min(same.opened_at, c.opened_at)
                continue
        event = LossEvent(c.close_id, user_id, mode, c.closed_at, c.opened_at, loss, c.margin_lost, liquidation)
        if liquidation and c.margin_mode == MarginMode.CROSS:
            cross[(c.account_id, c.entry_id)] = event
        events.append(event)
    return events


def _qualifies(voucher: Voucher, event: LossEvent) -> bool:
    """Opened (first open fill) and closed inside the voucher's validity period (R-VC-04, R-VC-06)."""
    return voucher.claimed_at <= event.opened_at and event.closed_at <= voucher.valid_until


def _why_not(vouchers: list[Voucher], event: LossEvent) -> str:
    if not vouchers:
        return Outcome.NO_VOUCHER
    if all(event.opened_at < v.claimed_at for v in vouchers):
        return Outcome.OPENED_BEFORE
    return Outcome.OUTSIDE


@transaction.atomic
def vouchers_trigger(*, user_ids: set[int]) -> int:
    """Decide every undecided losing copy close of these users against their live vouchers; return triggers."""
    live = list(
        Voucher.objects.filter(user_id__in=user_ids, state=VoucherState.CLAIMED, kind__in=COVERAGE_KINDS)
        .order_by("pk")
        .select_for_update(of=("self",))
    )
    if not live:
        return 0
    by_user: dict[int, dict[str, list[Voucher]]] = defaultdict(lambda: defaultdict(list))
    for v in sorted(live, key=lambda v: (v.valid_until, v.pk)):  # the one that expires first is used first
        by_user[v.user_id][v.kind].append(v)
    slots = followings_of_users(user_ids=user_ids)
    since = min(v.claimed_at for v in live)
    closes = slot_closes_losing(slots=list(slots), since=since)
    decided = set(
        CloseDecision.objects.filter(close_id__in=[c.close_id for c in closes]).values_list("close_id", flat=True)
    )
    decisions: list[CloseDecision] = []
    triggered: list[tuple[Voucher, LossEvent, Decimal]] = []
    for event in _events(closes, slots):
        if event.close_id in decided:
            continue
        held = by_user[event.user_id]
        decision = CloseDecision(
            close_id=event.close_id,
            user_id=event.user_id,
            loss=event.margin_lost if event.liquidation else event.loss,
            liquidation=event.liquidation,
            closed_at=event.closed_at,
        )
        if event.mode != FollowMode.SMART:
            decision.outcome = Outcome.DIVERSE  # R-VC-03: Smart Ratio copy trading only
        else:
            voucher, amount = _pick(held, event)
            if voucher is None:
                usable = held[CampaignKind.FIRST_LOSS] if event.loss > 0 else []
                if event.liquidation:
                    usable = held[CampaignKind.LIQUIDATION] + usable
                decision.outcome = _why_not(usable, event)
            else:
                decision.outcome, decision.voucher, decision.amount = Outcome.TRIGGERED, voucher, amount
                decision.loss = event.margin_lost if voucher.kind == CampaignKind.LIQUIDATION else event.loss
                held[voucher.kind].remove(voucher)  # each voucher is triggered by at most one event
                triggered.append((voucher, event, amount))
        decisions.append(decision)
    if triggered:
        _write(triggered)
    copy_insert(CloseDecision, decisions)
    return len(triggered)


def _pick(held: dict[str, list[Voucher]], event: LossEvent) -> tuple[Voucher | None, Decimal]:
    """One close uses at most one voucher: a liquidation uses a liquidation voucher if the user holds one
    it qualifies for, else it counts as a losing close (R-VC-06)."""
    if event.liquidation:
        for v in held[CampaignKind.LIQUIDATION]:
            if _qualifies(v, event) and event.margin_lost > 0:
                return v, min(event.margin_lost, v.face_value)
    if event.loss > 0:
        for v in held[CampaignKind.FIRST_LOSS]:
            if _qualifies(v, event):
                return v, min(event.loss, v.face_value)
    return None, ZERO


def _digest(ids: list[int]) -> str:
    """A short, stable name for a set of ids (an idempotency key holds at most 200 characters)."""
    return f"{ids[0]}-{ids[-1]}:{len(ids)}:" + hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16]


def _write(triggered: list[tuple[Voucher, LossEvent, Decimal]]) -> None:
    """Bulk: the vouchers triggered, their pending payouts, and one entry releasing what they do not need."""
    releases: dict[int, Decimal] = {}
    payouts = []
    for voucher, event, amount in triggered:
        voucher.state, voucher.trigger_close_id, voucher.reimbursement = VoucherState.TRIGGERED, event.close_id, amount
        voucher.ended_at = event.closed_at
        payouts.append(
            Payout(
                voucher=voucher,
                campaign_id=voucher.campaign_id,
                user_id=voucher.user_id,
                amount=amount,
                triggered_at=event.closed_at,
            )
        )
        if voucher.face_value > amount:  # R-VC-09: a payout below face value releases the difference
            unused = releases.get(voucher.campaign_id, ZERO)
            releases[voucher.campaign_id] = unused + voucher.face_value - amount
    vouchers = [v for v, _, _ in triggered]
    bulk_update_rows(Voucher, vouchers, ["state", "trigger_close_id", "reimbursement", "ended_at"])
    copy_insert(Payout, payouts)
    if releases:
        entry_post(
            kind="voucher_release",
            idempotency_key=f"voucher-trigger:{_digest(sorted(v.pk for v in vouchers))}",
            legs=release_legs(releases.items()),
            reference="voucher-trigger",
        )
