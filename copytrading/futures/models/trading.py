"""Orders, positions and their closes; funding and risk-sweep run keys. (R-MG-02 … R-MG-07)"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import JournalEntry, LedgerAccount, MoneyField
from copytrading.futures.models.markets import MarginMode, Market, MarkPrice


class Side(models.TextChoices):
    BUY = "buy", "Buy"
    SELL = "sell", "Sell"


class PositionSide(models.TextChoices):
    LONG = "long", "Long"
    SHORT = "short", "Short"


class OrderStatus(models.TextChoices):
    FILLED = "filled", "Filled"
    # Immediate-or-cancel: the part beyond the market's liquidity cap is cancelled.
    PARTIALLY_FILLED = "partially_filled", "Partially filled, rest cancelled"


class CloseReason(models.TextChoices):
    MANUAL = "manual", "Closed by hand"
    REDUCE_ONLY = "reduce_only", "Reduce-only order"
    TAKE_PROFIT = "take_profit", "Take profit"
    STOP_LOSS = "stop_loss", "Stop loss"
    LIQUIDATION = "liquidation", "Liquidation"
    COPY = "copy", "Copy of a lead's close"
    GUARDIAN = "guardian", "Net Value Guardian"
    STOP_FOLLOWING = "stop_following", "Stop following"


class Order(models.Model):
    """A market order, filled at once at the mark price (the house is the counterparty)."""

    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="orders")
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="orders")
    side = models.CharField(max_length=4, choices=Side.choices)
    reduce_only = models.BooleanField(default=False)
    slot = models.BigIntegerField(default=0, help_text="Position slot: 0 manual; the following id for copies.")
    requested_qty = MoneyField()
    filled_qty = MoneyField()
    price = MoneyField()
    leverage = models.PositiveSmallIntegerField()
    margin_mode = models.CharField(max_length=8, choices=MarginMode.choices)
    status = models.CharField(max_length=20, choices=OrderStatus.choices)
    fee = MoneyField(default=Decimal("0"))
    realised_pnl = MoneyField(default=Decimal("0"))
    position = models.ForeignKey("Position", null=True, on_delete=models.PROTECT, related_name="orders")
    entry = models.ForeignKey(JournalEntry, null=True, on_delete=models.PROTECT, related_name="+")
    idempotency_key = models.CharField(max_length=200, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # A lead trader's fill: its futures equity just before the fill (Smart Ratio sizing), the
    # fraction of its position it closed, and why it is not copied, if it is not.
    lead_equity = MoneyField(null=True, blank=True)
    closed_fraction = models.DecimalField(max_digits=20, decimal_places=12, null=True, blank=True)
    copy_blocked = models.CharField(max_length=24, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "copytrading_order"
        ordering = ["-id"]
        indexes = [models.Index(fields=["account", "-id"], name="order_account_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(filled_qty__gt=0), name="order_filled_positive"),
            models.CheckConstraint(condition=Q(filled_qty__lte=models.F("requested_qty")), name="order_fill_le_req"),
        ]

    def __str__(self) -> str:
        return f"Order #{self.pk} {self.side} {self.filled_qty} {self.market_id}"

    @property
    def is_fully_filled(self) -> bool:
        return self.status == OrderStatus.FILLED


class PositionStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class Position(models.Model):
    """An open (or closed) position of one account in one market.

    One-way mode: at most one open position per (account, market, slot). Manual
    trading uses slot 0; the copy engine uses the following's id, so two lead
    traders copied into one shared sub-account never merge (R-CT-02).

    ``liquidation_price`` is the estimated price at which the position (or, in
    cross mode, its account) is liquidated, rounded one tick towards the
    current price so the risk sweep's range query never misses one; the sweep
    then checks exactly. ``cross_multi`` marks cross positions whose account
    holds cross positions in several markets: their liquidation price depends
    on other markets, so the sweep re-evaluates those accounts exactly.
    """

    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="positions")
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="positions")
    slot = models.BigIntegerField(default=0)
    side = models.CharField(max_length=5, choices=PositionSide.choices)
    qty = MoneyField()
    entry_price = MoneyField()
    leverage = models.PositiveSmallIntegerField()
    margin_mode = models.CharField(max_length=8, choices=MarginMode.choices)
    margin = MoneyField(help_text="Isolated: the margin assigned. Cross: the initial margin it uses.")
    liquidation_price = MoneyField(null=True, blank=True)
    cross_multi = models.BooleanField(default=False)
    take_profit_price = MoneyField(null=True, blank=True)
    stop_loss_price = MoneyField(null=True, blank=True)
    auto_add_margin = models.BooleanField(default=False)
    # A copy position whose following has a Net Value Guardian: the sweep checks the following.
    guarded = models.BooleanField(default=False)
    realised_pnl = MoneyField(default=Decimal("0"))
    fees_paid = MoneyField(default=Decimal("0"))
    funding_paid = MoneyField(default=Decimal("0"), help_text="Net funding paid (negative: received).")
    status = models.CharField(max_length=8, choices=PositionStatus.choices, default=PositionStatus.OPEN)
    opened_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "copytrading_position"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "market", "slot"],
                condition=Q(status="open"),
                name="position_one_open_per_slot",
            ),
            models.CheckConstraint(condition=Q(qty__gte=0), name="position_qty_not_negative"),
            models.CheckConstraint(condition=Q(margin__gte=0), name="position_margin_not_negative"),
        ]
        indexes = [
            # The risk sweep's range queries: what a new price crosses, by side.
            models.Index(
                fields=["market", "liquidation_price"],
                condition=Q(status="open", side="long"),
                name="position_liq_long_idx",
            ),
            models.Index(
                fields=["market", "liquidation_price"],
                condition=Q(status="open", side="short"),
                name="position_liq_short_idx",
            ),
            *[
                models.Index(
                    fields=["market", f"{kind}_price"],
                    condition=Q(status="open", side=side, **{f"{kind}_price__isnull": False}),
                    name=f"position_{abbr}_{side}_idx",
                )
                for kind, abbr in (("take_profit", "tp"), ("stop_loss", "sl"))
                for side in ("long", "short")
            ],
            models.Index(
                fields=["market"], condition=Q(status="open", cross_multi=True), name="position_cross_multi_idx"
            ),
            models.Index(fields=["market"], condition=Q(status="open", guarded=True), name="position_guarded_idx"),
            # A following's copies (slot = its id): its net result, and whether it holds any open.
            models.Index(fields=["slot"], condition=Q(slot__gt=0), name="position_copy_slot_idx"),
            models.Index(fields=["slot"], condition=Q(slot__gt=0, status="open"), name="position_open_copy_idx"),
            models.Index(fields=["account", "status"], name="position_account_status_idx"),
        ]

    def __str__(self) -> str:
        return f"Position #{self.pk} {self.side} {self.qty} {self.market_id}"

    @property
    def sign(self) -> int:
        return 1 if self.side == PositionSide.LONG else -1

    @property
    def is_isolated(self) -> bool:
        return self.margin_mode == MarginMode.ISOLATED


class PositionClose(models.Model):
    """One close, full or partial, however it happened, with what it realised."""

    position = models.ForeignKey(Position, on_delete=models.PROTECT, related_name="closes")
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    qty = MoneyField()
    price = MoneyField()
    realised_pnl = MoneyField(help_text="Trading result of the closed quantity, fees excluded.")
    fee = MoneyField(default=Decimal("0"))
    funding = MoneyField(default=Decimal("0"), help_text="Funding paid over the closed quantity's life (share).")
    margin_released = MoneyField(default=Decimal("0"))
    margin_lost = MoneyField(default=Decimal("0"), help_text="Liquidations: margin lost, liquidation fee included.")
    liquidation_fee = MoneyField(default=Decimal("0"))
    reason = models.CharField(max_length=20, choices=CloseReason.choices)
    entry = models.ForeignKey(JournalEntry, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "copytrading_positionclose"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Close of {self.qty} ({self.reason})"


class FundingRun(models.Model):
    """Funding for one market at one funding time: the key that makes the job run once."""

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    funding_time = models.DateTimeField()
    rate = models.DecimalField(max_digits=12, decimal_places=8)
    mark_price = MoneyField()
    positions = models.PositiveIntegerField(default=0)
    # Batches are settled in position-id order; a re-run resumes after this id.
    last_position_id = models.BigIntegerField(default=0)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "copytrading_fundingrun"
        constraints = [models.UniqueConstraint(fields=["market", "funding_time"], name="funding_run_unique")]

    def __str__(self) -> str:
        return f"Funding {self.market_id} {self.funding_time:%Y-%m-%d %H:%M}"


class RiskSweep(models.Model):
    """One risk sweep of a market for one price tick: the key that makes a duplicate sweep harmless."""

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="+")
    tick = models.ForeignKey(MarkPrice, on_delete=models.PROTECT, related_name="+")
    price = MoneyField()
    liquidated = models.PositiveIntegerField(default=0)
    triggered = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "copytrading_risksweep"
        constraints = [models.UniqueConstraint(fields=["market", "tick"], name="risk_sweep_unique")]

    def __str__(self) -> str:
        return f"Sweep {self.market_id} tick {self.tick_id}"
