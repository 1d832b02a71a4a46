"""Users and the money: a double-entry ledger.

Every balance is the sum of postings in the journal. ``LedgerAccount.balance``
and ``.held`` are caches kept in step by ``accounts.services.ledger`` inside the
same transaction as the postings, under row locks taken in account-id order.
PostgreSQL itself refuses unbalanced entries (deferred constraint trigger) and
any UPDATE or DELETE of journal rows (see migration 0002).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from accounts.money import CURRENCY, DECIMAL_PLACES, MAX_DIGITS


def MoneyField(**kwargs) -> models.DecimalField:  # noqa: N802 - reads like a field class
    kwargs.setdefault("max_digits", MAX_DIGITS)
    kwargs.setdefault("decimal_places", DECIMAL_PLACES)
    return models.DecimalField(**kwargs)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("email is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A platform user, logging in by email.

    Every user is a follower; operators are staff members placed in operator
    groups; lead traders are users with an approved lead-trader profile.
    """

    username = None
    email = models.EmailField("email address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.email

    @property
    def is_operator(self) -> bool:
        return self.is_staff


class AccountKind(models.TextChoices):
    # user-owned
    SPOT = "spot", "Spot"
    FUTURES = "futures", "Futures"
    FOLLOW = "follow", "Follow sub-account"
    PROTECTED = "protected", "Protected sub-account"
    COLLATERAL = "collateral", "Collateral"
    EXPERIENCE_VOUCHER = "experience_voucher", "Experience voucher"
    # The isolated margin of one trading account's positions (ref = the trading account's id).
    POSITION_MARGIN = "position_margin", "Isolated position margin"
    # A following's profit share frozen on a withdrawal (ref = the following's id), released daily.
    FROZEN_SHARE = "frozen_share", "Frozen profit share"
    # platform-owned
    HOUSE = "house", "House (counterparty)"
    INSURANCE_FUND = "insurance_fund", "Insurance fund"
    FEE_REVENUE = "fee_revenue", "Fee revenue"
    CAMPAIGN_BUDGET = "campaign_budget", "Campaign budget"
    EXTERNAL_CUSTODY = "external_custody", "External custody"
    ROUNDING = "rounding", "Rounding residue"
    # What the platform lent a sub-account against unrealised profit (ref = the following); negative = owed.
    LOAN_BOOK = "loan_book", "Loans to sub-accounts"


PLATFORM_KINDS = frozenset(
    {
        AccountKind.HOUSE,
        AccountKind.INSURANCE_FUND,
        AccountKind.FEE_REVENUE,
        AccountKind.CAMPAIGN_BUDGET,
        AccountKind.EXTERNAL_CUSTODY,
        AccountKind.ROUNDING,
        AccountKind.LOAN_BOOK,
    }
)


class LedgerAccount(models.Model):
    """An account in the ledger, owned by a user or (owner NULL) by the platform.

    ``ref`` tells apart several accounts of one kind for one owner (one follow
    sub-account per trader followed, one campaign budget per campaign).
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_accounts"
    )
    kind = models.CharField(max_length=32, choices=AccountKind.choices)
    ref = models.CharField(max_length=64, blank=True, default="")
    currency = models.CharField(max_length=8, default=CURRENCY)
    balance = MoneyField(default=Decimal("0"))
    held = MoneyField(default=Decimal("0"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "kind", "currency", "ref"],
                condition=Q(owner__isnull=False),
                name="ledger_account_unique_user_account",
            ),
            models.UniqueConstraint(
                fields=["kind", "currency", "ref"],
                condition=Q(owner__isnull=True),
                name="ledger_account_unique_platform_account",
            ),
            # A user's money can never go below zero, nor can more be held than there is.
            models.CheckConstraint(
                condition=Q(owner__isnull=True) | Q(balance__gte=0), name="ledger_account_user_balance_not_negative"
            ),
            models.CheckConstraint(condition=Q(held__gte=0), name="ledger_account_held_not_negative"),
            models.CheckConstraint(
                condition=Q(owner__isnull=True) | Q(held__lte=F("balance")), name="ledger_account_held_within_balance"
            ),
        ]

    def __str__(self) -> str:
        who = self.owner.email if self.owner_id else "platform"
        ref = f"/{self.ref}" if self.ref else ""
        return f"{who}:{self.kind}{ref} ({self.currency})"

    @property
    def is_platform(self) -> bool:
        return self.owner_id is None

    @property
    def available(self) -> Decimal:
        return self.balance - self.held


class JournalEntry(models.Model):
    """One business event that moves money; its postings sum to zero per currency.

    Append-only: corrections are new, reversing entries.
    """

    kind = models.CharField(max_length=48)
    idempotency_key = models.CharField(max_length=200, unique=True)
    # Hash of kind + postings: the same key with different content is an error.
    fingerprint = models.CharField(max_length=64)
    reference = models.CharField(max_length=200, blank=True, default="", db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "journal entries"
        permissions = [
            ("credit_deposit", "Can credit a deposit to a user"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind}"


class Posting(models.Model):
    """A signed amount on one account: positive credits it, negative debits it."""

    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="postings")
    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="postings")
    amount = MoneyField()
    currency = models.CharField(max_length=8, default=CURRENCY)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["account", "id"], name="posting_account_idx")]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="posting_amount_not_zero")]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} on account {self.account_id}"


class HoldStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    CAPTURED = "captured", "Captured"
    RELEASED = "released", "Released"


class Hold(models.Model):
    """An amount reserved on an account (like a pending transfer).

    While active, ``amount - captured`` counts in the account's ``held`` and is
    not available. Capturing moves money by a journal entry; releasing frees it.
    """

    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="holds")
    amount = MoneyField()
    captured = MoneyField(default=Decimal("0"))
    status = models.CharField(max_length=16, choices=HoldStatus.choices, default=HoldStatus.ACTIVE)
    idempotency_key = models.CharField(max_length=200, unique=True)
    reason = models.CharField(max_length=200, blank=True, default="")
    # The entry that captured it: a capture is retried by its own key, never by another hold's.
    capture_entry = models.OneToOneField(
        JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="captured_hold"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="hold_amount_positive"),
            models.CheckConstraint(
                condition=Q(captured__gte=0) & Q(captured__lte=F("amount")), name="hold_captured_within_amount"
            ),
        ]

    def __str__(self) -> str:
        return f"Hold #{self.pk} {self.amount} ({self.status})"

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.captured if self.status == HoldStatus.ACTIVE else Decimal("0")


class WithdrawalStatus(models.TextChoices):
    PENDING = "pending", "Pending review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class Withdrawal(models.Model):
    """A user's request to take money out of its spot account, reviewed by finance."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="withdrawals")
    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="+")
    amount = MoneyField()
    address = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=WithdrawalStatus.choices, default=WithdrawalStatus.PENDING)
    hold = models.OneToOneField(Hold, on_delete=models.PROTECT, related_name="withdrawal")
    entry = models.OneToOneField(JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    idempotency_key = models.CharField(max_length=200, unique=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_reason = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-id"]
        permissions = [("review_withdrawal", "Can approve or reject withdrawals")]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="withdrawal_amount_positive")]

    def __str__(self) -> str:
        return f"Withdrawal #{self.pk} {self.amount} ({self.status})"


class IdempotencyRecord(models.Model):
    """The stored outcome of a money-moving API request, keyed by (user, scope, key).

    The unique constraint serialises two identical requests arriving at once:
    the second insert waits on the first's transaction and then replays it.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=200)
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "scope", "key"], name="idempotency_unique_key")]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"


class LedgerAuditRun(models.Model):
    """The result of one ledger audit (command or scheduled job)."""

    started_at = models.DateTimeField(auto_now_add=True)
    ok = models.BooleanField()
    report = models.JSONField()

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Audit #{self.pk} ({'clean' if self.ok else 'FAILED'})"


class JobRunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class JobRunVia(models.TextChoices):
    API = "api", "API"
    COMMAND = "command", "Management command"


class JobRun(models.Model):
    """An operator's manual run of a periodic job, now or for a past period it missed (``accounts.jobs``).

    ``period`` is the time beat fires the job's crontab at that the run stands for: the job runs
    with it as "now", so it reaches the same per-period keys as beat's own run and never pays twice.
    """

    job = models.CharField(max_length=100, help_text="The job's name in config.schedules.JOBS.")
    period = models.DateTimeField(help_text="The fire time (UTC) this run stands for.")
    at = models.DateTimeField(help_text="The time asked for; the period is the last fire at or before it.")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty only for a command run without --by of a job that moves no money.",
    )
    reason = models.TextField(blank=True)
    via = models.CharField(max_length=16, choices=JobRunVia.choices)
    status = models.CharField(max_length=16, choices=JobRunStatus.choices, default=JobRunStatus.QUEUED)
    result = models.JSONField(null=True, blank=True, help_text="What the job's task returned.")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["job", "-id"], name="job_run_job_newest")]
        permissions = [
            ("run_job", "Can run a periodic job now or for a past period"),
            ("run_money_job", "Can run a periodic job that moves money"),
        ]

    def __str__(self) -> str:
        return f"{self.job} for {self.period:%Y-%m-%d %H:%M} UTC ({self.status})"


class AccessKind(models.TextChoices):
    REGISTRATION = "registration", "Registration"
    LOGIN = "login", "Login"


class AccessRecord(models.Model):
    """The client address (``accounts.client_address``) of one registration or login.

    Kept for voucher-abuse review: accounts sharing an address with another claimant are flagged (R-VC-09).
    """

    # No index of its own: (user, kind) below starts with the user.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="access_records", db_index=False
    )
    kind = models.CharField(max_length=16, choices=AccessKind.choices)
    address = models.GenericIPAddressField()
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["address"], name="access_record_address"),
            models.Index(fields=["user", "kind"], name="access_record_user_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of user {self.user_id} from {self.address}"
