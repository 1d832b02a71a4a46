"""Loss-coverage vouchers on manual futures trading: operators grant them, losing closes on the main futures
account use them, the 00:05 UTC run credits the compensations, unused amounts expire. (R-LC-01 … R-LC-06, R-VC-09)

Money (R-VC-09): a grant moves the voucher's total amount from the campaign's
available account to its reserved account. Applying a voucher moves no money:
what a close uses passes from the voucher's remaining amount to a pending
``Compensation``, both reserved. The daily run pays pending compensations from the
reserved account to the user's spot account (entry kind ``loss_compensation``, one
of the identity's payout kinds), or withholds them from users disabled for voucher
abuse and releases their amount to available; expiry releases what remains. So at
every moment the reserved balance is Σ remaining of active vouchers + Σ pending
compensations (``loss_coverage_reserved``), beside what the coverage vouchers reserve.

Row locks follow ``vouchers.lock_objects``: the campaign row, then vouchers (or
compensations) by id, then ledger rows — every ledger row a transaction needs is
locked in one ``lock_accounts`` call (user accounts, then platform ones, by id).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from accounts.lock_objects import lock_accounts
from accounts.models import AccountKind, LedgerAccount, User
from accounts.money import ZERO
from accounts.services.accounts import account_open
from accounts.services.ledger import Leg, entry_post
from config.errors import InvalidInput, RuleViolation
from vouchers.ledger import CampaignAccounts, campaign_accounts
from vouchers.lock_objects import lock_campaign
from vouchers.models import Campaign, CampaignChange, CampaignKind, CampaignStatus
from vouchers.models.loss_coverage import Compensation, CompensationState, LossCoverageState, LossCoverageVoucher
from vouchers.selectors import banned_user_ids

# R-LC-02: only a trading loss greater than this uses a voucher.
MIN_LOSS = Decimal("1")
# Users granted per transaction (one row each, one compound entry per batch).
GRANT_BATCH = 500
# Compensations credited or withheld per transaction (one compound entry each way per batch).
CREDIT_BATCH = 1000
# Vouchers expired per transaction (one compound entry per batch).
EXPIRY_BATCH = 500

Progress = Callable[[int, int], None]


def _digest(ids: Iterable[int]) -> str:
    """A short, stable name for a set of ids (an idempotency key holds at most 200 characters)."""
    ids = sorted(ids)
    return f"{ids[0]}-{ids[-1]}:{len(ids)}:" + hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16]


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("reason", "say why: a grant is recorded with who gave it and why (R-OP-01)")
    return reason


def _key(key: str) -> str:
    key = (key or "").strip()
    if not key or len(key) > 200:
        raise InvalidInput("idempotency_key", "give a key of 1 to 200 characters: a retried grant reuses it")
    return key


# --- Grants ---------------------------------------------------------------------------------------------


@dataclass
class GrantReport:
    """What a grant run did, user by user: granted now, granted before with this key (a rerun changes
    nothing), ids that name no user, and users refused with the reason."""

    granted: list[int] = field(default_factory=list)
    already: list[int] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)


def _campaign_refusal(campaign: Campaign) -> str | None:
    if campaign.kind != CampaignKind.LOSS_COVERAGE:
        return "only a loss-coverage campaign grants loss-coverage vouchers"
    if campaign.status != CampaignStatus.LIVE:
        return f"this campaign is {campaign.status}, not live: it grants nothing"
    return None


@dataclass
class _Batch:
    granted: dict[int, LossCoverageVoucher] = field(default_factory=dict)
    already: dict[int, LossCoverageVoucher] = field(default_factory=dict)
    refused: dict[int, tuple[str, str]] = field(default_factory=dict)  # user id → (field, why)


def _grant_batch(*, campaign_id: int, user_ids: list[int], actor: User, reason: str, key: str, now: datetime) -> _Batch:
    """Grant one batch in one transaction: under the campaign's row lock, each user is granted a voucher of
    the campaign's face value while the available budget covers it and the user is under the per-user limit;
    one compound entry reserves the batch's total (R-VC-09)."""
    out = _Batch()
    with transaction.atomic():
        campaign = lock_campaign(campaign_id)
        existing = LossCoverageVoucher.objects.filter(campaign=campaign, user_id__in=user_ids, grant_key=key)
        out.already = {v.user_id: v for v in existing}
        todo = [uid for uid in user_ids if uid not in out.already]
        if not todo:
            return out
        refusal = _campaign_refusal(campaign)
        if refusal is not None:
            out.refused = {uid: ("campaign", refusal) for uid in todo}
            return out
        held = dict(
            LossCoverageVoucher.objects.filter(campaign=campaign, user_id__in=todo)
            .values_list("user_id")
            .annotate(n=Count("id"))
        )
        banned = banned_user_ids(user_ids=todo)
        accounts = campaign_accounts(campaign)
        available = lock_accounts([accounts.available.pk, accounts.reserved.pk])[accounts.available.pk].balance
        face = campaign.face_value
        new: list[LossCoverageVoucher] = []
        for uid in todo:
            if uid in banned:
                out.refused[uid] = ("user", "this account is disabled for voucher abuse")
            elif held.get(uid, 0) >= campaign.per_user_limit:
                out.refused[uid] = ("user", f"already holds this campaign's limit of {campaign.per_user_limit}")
            elif available < face:
                out.refused[uid] = ("campaign", "this campaign's budget is used up")
            else:
                available -= face
                new.append(
                    LossCoverageVoucher(
                        campaign=campaign,
                        user_id=uid,
                        total_amount=face,
                        remaining=face,
                        granted_at=now,
                        expires_at=now + campaign.validity,
                        granted_by=actor,
                        reason=reason,
                        grant_key=key,
                    )
                )
        if new:
            created = LossCoverageVoucher.objects.bulk_create(new)
            total = face * len(created)
            entry_post(
                kind="voucher_reserve",
                idempotency_key=f"loss-coverage-grant:{campaign.pk}:{_digest(v.pk for v in created)}",
                legs=[Leg(accounts.available.pk, -total), Leg(accounts.reserved.pk, total)],
                actor_id=actor.pk,
                reason=reason,
                reference=f"campaign:{campaign.pk}",
            )
            CampaignChange.objects.create(
                campaign=campaign,
                actor=actor,
                action="granted",
                reason=reason,
                changes={"key": key, "vouchers": len(created), "amount": format(total, "f")},
            )
            out.granted = {v.user_id: v for v in created}
    return out


def loss_coverage_grant(
    *, campaign: Campaign, user: User, actor: User, reason: str, idempotency_key: str, now: datetime | None = None
) -> LossCoverageVoucher:
    """An operator grants ``user`` a loss-coverage voucher of the campaign's face value (R-LC-01, R-VC-09).

    The campaign must be a live loss-coverage campaign; the grant reserves the voucher's total
    amount from the campaign's available budget, and is refused with a clear reason over the
    budget, over the per-user limit, or for an account disabled for voucher abuse (R-LC-06).
    The voucher arrives now: closes after this moment may use it (R-LC-02). Who granted it
    and why are recorded on it and as a "granted" change of the campaign. The same key for
    the same user and campaign returns the same voucher.
    """
    reason, key = _reason(reason), _key(idempotency_key)
    existing = LossCoverageVoucher.objects.filter(campaign=campaign, user=user, grant_key=key).first()
    if existing is not None:
        return existing
    batch = _grant_batch(
        campaign_id=campaign.pk, user_ids=[user.pk], actor=actor, reason=reason, key=key, now=now or timezone.now()
    )
    if user.pk in batch.refused:
        name, why = batch.refused[user.pk]
        raise RuleViolation(why, fields={name: [why]})
    return batch.granted.get(user.pk) or batch.already[user.pk]


def loss_coverage_grant_many(
    *,
    campaign: Campaign,
    user_ids: Iterable[int],
    actor: User,
    reason: str,
    key: str,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> GrantReport:
    """Grant a voucher to each of ``user_ids`` (an operator's CSV upload), in batches of ``GRANT_BATCH``,
    each its own transaction (R-LC-01, R-VC-09).

    Idempotent per (key, user): a rerun after a crash, or of the same file, grants only those
    not yet granted with ``key`` and reports the others as ``already``. Ids that name no user
    are reported as ``unknown``; refusals (budget used up, per-user limit, account disabled for
    abuse, campaign not live) are reported per user and grant nothing. ``progress(done, total)``
    is called after each batch.
    """
    reason, key = _reason(reason), _key(key)
    now = now or timezone.now()
    ids = list(dict.fromkeys(user_ids))  # each user once, in file order
    report = GrantReport()
    known: set[int] = set()
    for start in range(0, len(ids), GRANT_BATCH):
        known |= set(User.objects.filter(pk__in=ids[start : start + GRANT_BATCH]).values_list("pk", flat=True))
    report.unknown = [uid for uid in ids if uid not in known]
    users = [uid for uid in ids if uid in known]
    if progress is not None:
        progress(len(report.unknown), len(ids))
    for start in range(0, len(users), GRANT_BATCH):
        chunk = users[start : start + GRANT_BATCH]
        batch = _grant_batch(campaign_id=campaign.pk, user_ids=chunk, actor=actor, reason=reason, key=key, now=now)
        report.granted += [uid for uid in chunk if uid in batch.granted]
        report.already += [uid for uid in chunk if uid in batch.already]
        report.refused.update({uid: why for uid, (_, why) in batch.refused.items()})
        if progress is not None:
            progress(len(report.unknown) + start + len(chunk), len(ids))
    return report


# --- Application to losing closes -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Close:
    """A losing close on a main futures account, as its "position closed" event tells it."""

    close_id: int
    position_id: int
    user_id: int
    closed_at: datetime
    loss: Decimal  # the trading loss: −realised PnL, fees and funding excluded (R-LC-04)
    notional: Decimal  # the closing amount: quantity × price


def _losing(payload: dict) -> bool:
    """A manual-trading close (slot 0; copies use the following's id) with a loss over 1 USDT (R-LC-02/03)."""
    return payload.get("slot") == 0 and -Decimal(payload["realised_pnl"]) > MIN_LOSS


def _main_account_closes(payloads: list[dict], user_ids: Collection[int]) -> list[_Close]:
    """The losing closes of these users on their main futures account (kind futures, ref ""), never a follow or
    protected sub-account (R-LC-03), in (closed_at, close id) order, each once."""
    account_ids = {p["account_id"] for p in payloads if p["owner_id"] in user_ids}
    main = dict(
        LedgerAccount.objects.filter(
            pk__in=list(account_ids), owner_id__in=list(user_ids), kind=AccountKind.FUTURES, ref=""
        ).values_list("pk", "owner_id")
    )
    closes: dict[int, _Close] = {}
    for p in payloads:
        if main.get(p["account_id"]) != p["owner_id"] or not _losing(p):
            continue
        closes[p["close_id"]] = _Close(
            close_id=p["close_id"],
            position_id=p["position_id"],
            user_id=p["owner_id"],
            closed_at=datetime.fromisoformat(p["closed_at"]),
            loss=-Decimal(p["realised_pnl"]),
            notional=Decimal(p["qty"]) * Decimal(p["price"]),
        )
    return sorted(closes.values(), key=lambda c: (c.closed_at, c.close_id))


def _usable(voucher: LossCoverageVoucher, close: _Close) -> bool:
    """Closed after the voucher arrived and before it expires, meeting its campaign's closing-amount
    threshold if it has one, while some of it remains (R-LC-02)."""
    threshold = voucher.campaign.closing_threshold
    return (
        voucher.remaining > 0
        and voucher.granted_at < close.closed_at <= voucher.expires_at
        and (threshold is None or close.notional >= threshold)
    )


def loss_coverage_apply(*, payloads: list[dict]) -> int:
    """The outbox batch consumer: losing closes on main futures accounts use loss-coverage vouchers
    (R-LC-02 … R-LC-04); return how many compensations it created.

    Eligible: a close of slot 0 on the user's main futures account (not copies, not follow or
    protected sub-accounts, R-LC-03), after the voucher's arrival and before its expiry, with a
    trading loss (−realised PnL; fees and funding are charged as usual and not covered) greater
    than 1 USDT, and a closing amount (quantity × price) of at least the campaign's closing
    threshold if it has one. The batch's closes are taken in (closed_at, close id) order; each
    uses the earliest-obtained voucher it is eligible for — one voucher per close, up to its
    remaining amount — and creates a pending compensation. A voucher with nothing left is used
    up and leaves the voucher center (R-LC-01). A close is compensated once: its compensation
    is unique, and the users' vouchers are locked while the existing ones are read, so an event
    delivered twice, or two batches at once, create one. Orders already using another voucher:
    none can reach here — coverage and experience vouchers apply only to copies, which are
    never in slot 0 of a main account — and a close uses at most one loss-coverage voucher.
    """
    owners = {p["owner_id"] for p in payloads if _losing(p)}
    if not owners:
        return 0
    holders = set(
        LossCoverageVoucher.objects.filter(user_id__in=list(owners), state=LossCoverageState.ACTIVE)
        .values_list("user_id", flat=True)
        .distinct()
    )
    if not holders:
        return 0
    closes = _main_account_closes(payloads, holders)
    return _apply(closes) if closes else 0


@transaction.atomic
def _apply(closes: list[_Close]) -> int:
    users = sorted({c.user_id for c in closes})
    live = list(
        LossCoverageVoucher.objects.filter(user_id__in=users, state=LossCoverageState.ACTIVE)
        .select_related("campaign")
        .order_by("pk")
        .select_for_update(of=("self",))
    )
    held: dict[int, list[LossCoverageVoucher]] = defaultdict(list)
    for v in sorted(live, key=lambda v: (v.granted_at, v.pk)):  # the earliest obtained is used first
        held[v.user_id].append(v)
    done = set(
        Compensation.objects.filter(close_id__in=[c.close_id for c in closes]).values_list("close_id", flat=True)
    )
    used: dict[int, LossCoverageVoucher] = {}
    compensations: list[Compensation] = []
    for close in closes:
        if close.close_id in done:
            continue  # delivered before
        voucher = next((v for v in held[close.user_id] if _usable(v, close)), None)
        if voucher is None:
            continue
        amount = min(close.loss, voucher.remaining)
        voucher.remaining -= amount
        if voucher.remaining == 0:
            voucher.state, voucher.ended_at = LossCoverageState.USED_UP, close.closed_at
        used[voucher.pk] = voucher
        compensations.append(
            Compensation(
                voucher=voucher,
                campaign_id=voucher.campaign_id,
                user_id=close.user_id,
                close_id=close.close_id,
                position_id=close.position_id,
                loss=close.loss,
                amount=amount,
                closed_at=close.closed_at,
            )
        )
    if compensations:
        LossCoverageVoucher.objects.bulk_update(list(used.values()), ["remaining", "state", "ended_at"])
        Compensation.objects.bulk_create(compensations)
    return len(compensations)


# --- The daily credit -----------------------------------------------------------------------------------


def utc_day_start(now: datetime) -> datetime:
    """00:00 UTC of the UTC date of ``now``."""
    return datetime.combine(now.astimezone(UTC).date(), time.min, tzinfo=UTC)


def _spot_accounts(user_ids: set[int]) -> dict[int, int]:
    """user id → the user's spot account id, opening any missing one."""
    spots = dict(
        LedgerAccount.objects.filter(owner_id__in=list(user_ids), kind=AccountKind.SPOT, ref="").values_list(
            "owner_id", "pk"
        )
    )
    for user in User.objects.filter(pk__in=list(user_ids - set(spots))):  # every user has one; opened if not
        spots[user.pk] = account_open(owner=user, kind=AccountKind.SPOT).pk
    return spots


def compensations_credit_due(*, now: datetime | None = None) -> tuple[int, int]:
    """The 00:05 UTC run (R-LC-05, R-LC-06): pay the compensations of closes before the current UTC day.

    Each is paid in USDT from its campaign's reserved account to the user's spot (main)
    account, as one ``loss_compensation`` entry per batch keyed by the batch's compensations.
    A user disabled for voucher abuse is not paid: its compensation becomes withheld (kept and
    shown, never dropped) and its amount returns to the campaign's available budget (R-VC-09).
    Batches of ``CREDIT_BATCH``, each its own transaction; a compensation's state is read
    under its row lock, so a second run, two beats at once or a crash half-way pay nothing
    twice. Returns (credited, withheld).
    """
    now = now or timezone.now()
    due = Compensation.objects.filter(state=CompensationState.PENDING, closed_at__lt=utc_day_start(now))
    credited = withheld = 0
    while ids := list(due.order_by("pk").values_list("pk", flat=True)[:CREDIT_BATCH]):
        paid, kept = _credit_batch(ids, now)
        credited, withheld = credited + paid, withheld + kept
    return credited, withheld


def _credit_batch(ids: list[int], now: datetime) -> tuple[int, int]:
    with transaction.atomic():
        rows = list(
            Compensation.objects.filter(pk__in=ids, state=CompensationState.PENDING)
            .select_related("campaign")
            .order_by("pk")
            .select_for_update(of=("self",))
        )
        if not rows:
            return 0, 0
        banned = banned_user_ids(user_ids={c.user_id for c in rows})
        paying = [c for c in rows if c.user_id not in banned]
        keeping = [c for c in rows if c.user_id in banned]
        spots = _spot_accounts({c.user_id for c in paying})
        books = {c.campaign_id: campaign_accounts(c.campaign) for c in rows}
        # Every ledger row of the batch in one call, in the global order (users, then platform, by id).
        lock_accounts(
            [*spots.values(), *(a.reserved.pk for a in books.values()), *(a.available.pk for a in books.values())]
        )
        if paying:
            legs = [Leg(spots[c.user_id], c.amount) for c in paying]
            legs += _campaign_legs(paying, books, available=False)
            entry = entry_post(
                kind="loss_compensation",
                idempotency_key=f"loss-compensation:{_digest(c.pk for c in paying)}",
                legs=legs,
                reason="loss-coverage compensation (R-LC-05)",
                reference="loss-compensation",
            )
            for c in paying:
                c.state, c.credited_at, c.entry = CompensationState.CREDITED, now, entry
            Compensation.objects.bulk_update(paying, ["state", "credited_at", "entry"])
        if keeping:
            _withhold(keeping, books, now=now, actor_id=None, reason="")
        return len(paying), len(keeping)


def _withhold(
    rows: list[Compensation], books: dict[int, CampaignAccounts], *, now: datetime, actor_id: int | None, reason: str
) -> None:
    """Mark locked pending compensations withheld and release their amounts to available, as one entry."""
    why = "compensation withheld: account disabled for voucher abuse (R-LC-06)"
    entry = entry_post(
        kind="voucher_release",
        idempotency_key=f"loss-compensation-withheld:{_digest(c.pk for c in rows)}",
        legs=_campaign_legs(rows, books, available=True),
        actor_id=actor_id,
        reason=f"{why}: {reason}" if reason else why,
        reference="loss-compensation",
    )
    for c in rows:
        c.state, c.withheld_at, c.entry = CompensationState.WITHHELD, now, entry
    Compensation.objects.bulk_update(rows, ["state", "withheld_at", "entry"])


def compensations_withhold(
    *, user: User, actor: User | None = None, reason: str = "", now: datetime | None = None
) -> tuple[int, Decimal]:
    """Withhold the user's pending compensations now (R-LC-06, R-VC-09): kept and shown as withheld, their
    amounts released to their campaigns' available budgets in one entry; return (how many, total).

    For the voucher-abuse ban to call in its own transaction, so a banned user's compensation
    is withheld at once rather than at the next 00:05 UTC run (which withholds it anyway).
    Compensations are locked in id order, then the campaigns' ledger rows; a second call finds none.
    """
    now = now or timezone.now()
    with transaction.atomic():
        rows = list(
            Compensation.objects.filter(user=user, state=CompensationState.PENDING)
            .select_related("campaign")
            .order_by("pk")
            .select_for_update(of=("self",))
        )
        if not rows:
            return 0, ZERO
        books = {c.campaign_id: campaign_accounts(c.campaign) for c in rows}
        lock_accounts([*(a.reserved.pk for a in books.values()), *(a.available.pk for a in books.values())])
        _withhold(rows, books, now=now, actor_id=actor.pk if actor else None, reason=reason)
        return len(rows), sum((c.amount for c in rows), ZERO)


def _campaign_legs(rows: list[Compensation], books: dict[int, CampaignAccounts], *, available: bool) -> list[Leg]:
    """Debit each campaign's reserved account by its compensations; with ``available``, credit it back there."""
    totals: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for c in rows:
        totals[c.campaign_id] += c.amount
    legs = []
    for cid, total in totals.items():
        legs.append(Leg(books[cid].reserved.pk, -total))
        if available:
            legs.append(Leg(books[cid].available.pk, total))
    return legs


# --- Expiry ---------------------------------------------------------------------------------------------


def loss_coverage_expire_due(*, now: datetime | None = None) -> int:
    """Active vouchers past their expiry expire; what remains of each returns to its campaign's available
    budget (hourly; R-LC-02, R-VC-09). Pending compensations stay reserved until the daily run.

    Batches of ``EXPIRY_BATCH``, each its own transaction with one compound entry keyed by the
    batch's vouchers; a voucher's state is read under its row lock, so reruns change nothing twice.
    """
    now = now or timezone.now()
    due = LossCoverageVoucher.objects.filter(state=LossCoverageState.ACTIVE, expires_at__lte=now)
    expired = 0
    while ids := list(due.order_by("pk").values_list("pk", flat=True)[:EXPIRY_BATCH]):
        expired += _expire_batch(ids, now)
    return expired


def _expire_batch(ids: list[int], now: datetime) -> int:
    with transaction.atomic():
        vouchers = list(
            LossCoverageVoucher.objects.filter(pk__in=ids, state=LossCoverageState.ACTIVE)
            .select_related("campaign")
            .order_by("pk")
            .select_for_update(of=("self",))
        )
        if not vouchers:
            return 0
        totals: dict[int, tuple[CampaignAccounts, Decimal]] = {}
        for v in vouchers:
            accounts, amount = totals.get(v.campaign_id) or (campaign_accounts(v.campaign), ZERO)
            totals[v.campaign_id] = (accounts, amount + v.remaining)
        entry_post(
            kind="voucher_release",
            idempotency_key=f"loss-coverage-expiry:{_digest(v.pk for v in vouchers)}",
            legs=[
                leg
                for accounts, amount in totals.values()
                for leg in (Leg(accounts.reserved.pk, -amount), Leg(accounts.available.pk, amount))
            ],
            reference="loss-coverage-expiry",
        )
        for v in vouchers:
            v.state, v.ended_at = LossCoverageState.EXPIRED, now
        LossCoverageVoucher.objects.bulk_update(vouchers, ["state", "ended_at"])
        return len(vouchers)


# --- The budget identity ----------------------------------------------------------------------------------


def loss_coverage_reserved(campaign_ids: Collection[int]) -> dict[int, Decimal]:
    """What loss coverage keeps reserved per campaign (R-VC-09): Σ remaining of active vouchers + Σ pending
    compensations, in two grouped queries; campaigns with none are absent."""
    ids = list(campaign_ids)
    out: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for cid, total in (
        LossCoverageVoucher.objects.filter(campaign_id__in=ids, state=LossCoverageState.ACTIVE)
        .values_list("campaign_id")
        .annotate(s=Sum("remaining"))
    ):
        out[cid] += total
    for cid, total in (
        Compensation.objects.filter(campaign_id__in=ids, state=CompensationState.PENDING)
        .values_list("campaign_id")
        .annotate(s=Sum("amount"))
    ):
        out[cid] += total
    return dict(out)
