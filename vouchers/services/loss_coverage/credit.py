"""The money after a close: the 00:05 UTC credit of compensations, withholding them from abusers, the expiry of
unused amounts, and what loss coverage keeps reserved. (R-LC-05, R-LC-06, R-VC-09)

Row locks follow ``vouchers.lock_objects``: compensations (or vouchers) by id, then
ledger rows — every ledger row a transaction needs is locked in one ``lock_accounts``
call (user accounts, then platform ones, by id).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import UTC, datetime, time
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.lock_objects import lock_accounts
from accounts.models import AccountKind, LedgerAccount, User
from accounts.money import ZERO
from accounts.services.accounts import account_open
from accounts.services.ledger import Leg, entry_post
from config.db import bulk_update_rows
from vouchers.ledger import CampaignAccounts, campaign_accounts, release_legs
from vouchers.models import Campaign
from vouchers.models.loss_coverage import Compensation, CompensationState, LossCoverageState, LossCoverageVoucher
from vouchers.selectors import banned_user_ids
from vouchers.services.loss_coverage.common import digest

# Compensations credited or withheld per transaction (one compound entry each way per batch).
CREDIT_BATCH = 1000
# Vouchers expired per transaction (one compound entry per batch).
EXPIRY_BATCH = 500


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
    last = 0
    # Walking up the ids (not re-reading the first due ones) keeps the run linear in what is due.
    while ids := list(due.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:CREDIT_BATCH]):
        paid, kept = _credit_batch(ids, now)
        credited, withheld, last = credited + paid, withheld + kept, ids[-1]
    return credited, withheld


CREDIT_COLUMNS = ("id", "campaign_id", "user_id", "amount", "state", "credited_at", "withheld_at", "entry_id")


def _books(rows: list[Compensation]) -> dict[int, CampaignAccounts]:
    """The ledger accounts of each campaign of ``rows``, looked up once per campaign (not per row)."""
    campaigns = Campaign.objects.in_bulk({c.campaign_id for c in rows})
    return {cid: campaign_accounts(campaign) for cid, campaign in campaigns.items()}


def _credit_batch(ids: list[int], now: datetime) -> tuple[int, int]:
    with transaction.atomic():
        rows = list(
            Compensation.objects.filter(pk__in=ids, state=CompensationState.PENDING)
            .only(*CREDIT_COLUMNS)  # a batch of thousands: only what the credit reads and writes
            .order_by("pk")
            .select_for_update()
        )
        if not rows:
            return 0, 0
        banned = banned_user_ids(user_ids={c.user_id for c in rows})
        paying = [c for c in rows if c.user_id not in banned]
        keeping = [c for c in rows if c.user_id in banned]
        spots = _spot_accounts({c.user_id for c in paying})
        books = _books(rows)
        # Every ledger row of the batch in one call, in the global order (users, then platform, by id).
        locked = lock_accounts(
            [*spots.values(), *(a.reserved.pk for a in books.values()), *(a.available.pk for a in books.values())]
        )
        if paying:
            legs = [Leg(spots[c.user_id], c.amount) for c in paying]
            legs += _campaign_legs(paying, books, available=False)
            entry = entry_post(
                kind="loss_compensation",
                idempotency_key=f"loss-compensation:{digest(c.pk for c in paying)}",
                legs=legs,
                reason="loss-coverage compensation (R-LC-05)",
                reference="loss-compensation",
                locked=locked,
            )
            for c in paying:
                c.state, c.credited_at, c.entry = CompensationState.CREDITED, now, entry
            bulk_update_rows(Compensation, paying, ["state", "credited_at", "entry"])
        if keeping:
            _withhold(keeping, books, now=now, actor_id=None, reason="", locked=locked)
        return len(paying), len(keeping)


def _withhold(
    rows: list[Compensation],
    books: dict[int, CampaignAccounts],
    *,
    now: datetime,
    actor_id: int | None,
    reason: str,
    locked: dict | None = None,
) -> None:
    """Mark locked pending compensations withheld and release their amounts to available, as one entry."""
    why = "compensation withheld: account disabled for voucher abuse (R-LC-06)"
    entry = entry_post(
        kind="voucher_release",
        idempotency_key=f"loss-compensation-withheld:{digest(c.pk for c in rows)}",
        legs=_campaign_legs(rows, books, available=True),
        actor_id=actor_id,
        reason=f"{why}: {reason}" if reason else why,
        reference="loss-compensation",
        locked=locked,
    )
    for c in rows:
        c.state, c.withheld_at, c.entry = CompensationState.WITHHELD, now, entry
    bulk_update_rows(Compensation, rows, ["state", "withheld_at", "entry"])


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
        books = _books(rows)
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
        entry_post(
            kind="voucher_release",
            idempotency_key=f"loss-coverage-expiry:{digest(v.pk for v in vouchers)}",
            legs=release_legs((v.campaign_id, v.remaining) for v in vouchers),
            reference="loss-coverage-expiry",
        )
        for v in vouchers:
            v.state, v.ended_at = LossCoverageState.EXPIRED, now
        bulk_update_rows(LossCoverageVoucher, vouchers, ["state", "ended_at"])
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
