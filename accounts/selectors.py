"""Reads of the accounts app: a user's accounts, withdrawals, the ledger audit, users sharing addresses."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, DecimalField, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Lower

from accounts import hooks
from accounts.models import AccessRecord, Hold, HoldStatus, JournalEntry, LedgerAccount, Posting, User, Withdrawal
from accounts.money import quantize

_MONEY = DecimalField(max_digits=28, decimal_places=8)
# An audit lists at most this many offenders per check: enough to investigate,
# bounded so a badly broken ledger cannot flood the report.
AUDIT_SAMPLE = 20
# A sum counts as off when it is at least half the ledger's unit (1e-8) away. On PostgreSQL every sum is an
# exact multiple of the unit, so that is any difference at all; SQLite (`make run`'s embedded database)
# sums NUMERIC columns in binary floating point, with an error far below the unit.
HALF_UNIT = Decimal("0.000000005")


def _off(name: str) -> Q:
    return Q(**{f"{name}__gte": HALF_UNIT}) | Q(**{f"{name}__lte": -HALF_UNIT})


def account_list(*, user: User) -> QuerySet[LedgerAccount]:
    return LedgerAccount.objects.filter(owner=user).order_by("pk")


def account_get(*, user: User, account_id: int) -> LedgerAccount | None:
    """One of the user's own ledger accounts (spot, futures, sub-accounts …); None for anyone else's."""
    return LedgerAccount.objects.filter(owner=user, pk=account_id).first()


def account_records(
    *, account: LedgerAccount, kind: str | None = None, since: datetime | None = None, until: datetime | None = None
) -> QuerySet[Posting]:
    """Every ledger movement of ``account``, with its entry; optionally one entry kind, in [since, until)."""
    postings = Posting.objects.filter(account=account).select_related("entry")
    if kind:
        postings = postings.filter(entry__kind=kind)
    if since is not None:
        postings = postings.filter(entry__created_at__gte=since)
    if until is not None:
        postings = postings.filter(entry__created_at__lt=until)
    return postings


def withdrawal_list(*, user: User) -> QuerySet[Withdrawal]:
    return Withdrawal.objects.filter(user=user).order_by("-pk")


def withdrawal_get(*, user: User, withdrawal_id: int) -> Withdrawal | None:
    return Withdrawal.objects.filter(user=user, pk=withdrawal_id).first()


@dataclass
class AuditReport:
    entries: int = 0
    postings: int = 0
    accounts: int = 0
    unbalanced_entries: list[int] = field(default_factory=list)
    balance_mismatches: list[dict] = field(default_factory=list)
    held_mismatches: list[dict] = field(default_factory=list)
    negative_user_accounts: list[int] = field(default_factory=list)
    system_totals: dict[str, str] = field(default_factory=dict)
    # Registered by apps with books beside the ledger (``accounts.hooks.register_audit_check``): name → problems.
    app_checks: dict[str, list[dict]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (
            self.unbalanced_entries
            or self.balance_mismatches
            or self.held_mismatches
            or self.negative_user_accounts
            or any(Decimal(v) != 0 for v in self.system_totals.values())
            or any(self.app_checks.values())
        )

    def as_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


def ledger_audit() -> AuditReport:
    """Prove the ledger: entries balance, caches equal postings, no user is negative, all sums to zero.

    Each check is one aggregate query, so the audit's cost grows with the table
    sizes, not with a query per row.
    """
    report = AuditReport(
        entries=JournalEntry.objects.count(),
        postings=Posting.objects.count(),
        accounts=LedgerAccount.objects.count(),
    )
    per_entry = (
        Posting.objects.values("entry_id", "currency")
        .annotate(total=Sum("amount"))
        .filter(_off("total"))
        .values_list("entry_id", flat=True)
    )
    empty = JournalEntry.objects.annotate(n=Count("postings")).filter(n__lt=2).values_list("pk", flat=True)
    report.unbalanced_entries = sorted(set(per_entry[:AUDIT_SAMPLE]) | set(empty[:AUDIT_SAMPLE]))

    posted = Posting.objects.filter(account=OuterRef("pk")).values("account").annotate(s=Sum("amount")).values("s")
    held = (
        Hold.objects.filter(account=OuterRef("pk"), status=HoldStatus.ACTIVE)
        .values("account")
        .annotate(s=Sum(F("amount") - F("captured")))
        .values("s")
    )
    zero = Value(Decimal("0"), output_field=_MONEY)
    accounts = LedgerAccount.objects.annotate(
        posted=Coalesce(Subquery(posted, output_field=_MONEY), zero),
        active_held=Coalesce(Subquery(held, output_field=_MONEY), zero),
        balance_gap=F("balance") - F("posted"),
        held_gap=F("held") - F("active_held"),
    )
    report.balance_mismatches = [
        {"account": a.pk, "cached": str(a.balance), "postings": str(a.posted)}
        for a in accounts.filter(_off("balance_gap"))[:AUDIT_SAMPLE]
    ]
    report.held_mismatches = [
        {"account": a.pk, "cached": str(a.held), "holds": str(a.active_held)}
        for a in accounts.filter(_off("held_gap"))[:AUDIT_SAMPLE]
    ]
    report.negative_user_accounts = list(
        LedgerAccount.objects.filter(owner__isnull=False)
        .filter(Q(balance__lte=-HALF_UNIT) | Q(balance__lte=F("held") - HALF_UNIT))
        .values_list("pk", flat=True)[:AUDIT_SAMPLE]
    )
    report.system_totals = {
        row["currency"]: format(quantize(row["total"]), "f")
        for row in Posting.objects.values("currency").annotate(total=Sum("amount")).order_by("currency")
    }
    report.app_checks = hooks.audit_checks()
    return report


def _shared_pairs(rows: QuerySet, user_ids: set[int], value: F | Lower) -> list[tuple[str, int]]:
    """(value, user) pairs of ``rows`` whose value more than one of ``user_ids`` has: one query."""
    mine = rows.filter(user_id__any=user_ids).annotate(shared_value=value).order_by()
    shared = mine.values("shared_value").annotate(n=Count("user_id", distinct=True)).filter(n__gt=1)
    return list(
        mine.filter(shared_value__in=shared.values("shared_value")).values_list("shared_value", "user_id").distinct()
    )


def users_sharing_with(*, user_ids: Collection[int]) -> dict[int, dict[str, set[int]]]:
    """For voucher-abuse flags (R-VC-09, R-LC-06): who among ``user_ids`` shares an address with whom.

    For each user of the set, the other users of the same set that registered or logged in from
    one of its addresses (``"address"``, from ``AccessRecord``) and that asked for a withdrawal
    to one of its destinations (``"withdrawal_address"``, any status, compared ignoring case:
    the same EVM address is written in checksum case or lower case). Users outside the set are
    never looked at, so a campaign passes its claimants. A user sharing nothing is absent; one
    present has both keys. Two queries, whatever the size of the set.
    """
    ids = set(user_ids)
    if len(ids) < 2:
        return {}
    kinds = {
        "address": _shared_pairs(AccessRecord.objects.all(), ids, F("address")),
        "withdrawal_address": _shared_pairs(Withdrawal.objects.all(), ids, Lower("address")),
    }
    result: dict[int, dict[str, set[int]]] = {}
    for key, pairs in kinds.items():
        holders: dict[str, set[int]] = {}
        for value, user_id in pairs:
            holders.setdefault(value, set()).add(user_id)
        for group in holders.values():
            for user_id in group:
                result.setdefault(user_id, {"address": set(), "withdrawal_address": set()})[key] |= group - {user_id}
    return result
