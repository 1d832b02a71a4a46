"""The move of the futures venue into its own app, proven on a database that holds data.

Migrations under test, all on a database in the old layout (accounts 0008_jobrun,
copytrading 0010_market_changes, no futures migration applied):

- futures 0001_initial and copytrading 0011_venue_to_futures move the venue's models
  (markets, prices, settings, orders, positions and their closes, funding runs, risk
  sweeps, the outbox) from the ``copytrading`` app to ``futures`` in the migration
  state only: the tables keep their names and their rows, and the copy engine's
  decisions point at the same orders and positions;
- futures 0002_content_types moves the venue's content types to the ``futures`` label,
  and with them their permissions, group and user grants and admin history;
- copytrading 0012_stable_task_names renames beat rows from task module paths to
  stable task names.

The test migrates its database back to the old layout, writes a small trading
history there with the historical models (money posted the way the ledger's
database guards accept), migrates forward, and reads everything back with today's
models and services. It commits for real (``transaction=True``), and its fixture
leaves the database fully migrated, pass or fail: the rest of the suite runs on it.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal as D
from io import StringIO

import pytest
from django.apps import apps as current_apps
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models import F
from django.utils import timezone
from django_celery_beat.models import PeriodicTask, PeriodicTasks

from accounts.models import LedgerAccount, User
from config.celery import app as celery_app
from copytrading.futures import margin as m
from copytrading.futures.models import CloseReason, Order, Position, PositionClose, PositionStatus
from copytrading.futures.services.positions import position_close
from copytrading.models import CopyDecision

# The old layout. Migrating back to copytrading 0010 unapplies copytrading 0011 and what depends on it
# (futures 0002, copytrading 0012), but not futures 0001, which 0011 depends on: the targets name it too.
OLD_LAYOUT = [("accounts", "0008_jobrun"), ("copytrading", "0010_market_changes")]
OLD_TARGETS = [*OLD_LAYOUT, ("futures", None)]
MOVED_APPS = {"accounts", "copytrading", "futures"}

VENUE_MODELS = (
    "Market",
    "MarketChange",
    "MarkPrice",
    "MarketSetting",
    "Order",
    "Position",
    "PositionClose",
    "FundingRun",
    "RiskSweep",
    "OutboxEvent",
    "OutboxDelivery",
)


def migrate(executor: MigrationExecutor, targets: list[tuple[str, str | None]]) -> None:
    executor.migrate(targets)
    executor.loader.build_graph()  # re-read what is applied, as Django's own migration tests do


@pytest.fixture
def executor(transactional_db):
    """A migration executor on the test database, which it leaves fully migrated whatever the test did."""
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        yield executor
    finally:
        executor.loader.build_graph()
        if executor.migration_plan(latest):  # the test failed before it migrated forward, or doing so
            try:
                migrate(executor, latest)
            except Exception:
                # A migration that fails on the test's data (the failure the test reports): empty the
                # tables, as the teardown of transactional_db does next anyway, and migrate the empty
                # database, so the tests after this one still run on the latest schema.
                call_command("flush", interactive=False, inhibit_post_migrate=True, verbosity=0)
                migrate(MigrationExecutor(connection), latest)
        ContentType.objects.clear_cache()


def venue_rows(apps, app_label: str) -> dict[str, list[dict]]:
    """Every row of every venue table, read through ``app_label``'s models, column by column."""
    return {name: list(apps.get_model(app_label, name).objects.order_by("pk").values()) for name in VENUE_MODELS}


def decision_rows(apps) -> list[dict]:
    return list(apps.get_model("copytrading", "CopyDecision").objects.order_by("pk").values())


class OldLedger:
    """Posts money with the historical models, as the ledger service did and its database guards accept:
    one entry and its postings in one transaction, balanced, and the cached balances moved with them."""

    def __init__(self, apps):
        self.entries = apps.get_model("accounts", "JournalEntry")
        self.postings = apps.get_model("accounts", "Posting")
        self.accounts = apps.get_model("accounts", "LedgerAccount")

    def open(self, kind: str, owner=None, ref: str = ""):
        return self.accounts.objects.create(owner=owner, kind=kind, ref=ref)

    def post(self, kind: str, key: str, legs: list[tuple[object, D]], reference: str = ""):
        canon = kind + "|" + ";".join(f"{a.pk}:{amount}" for a, amount in sorted(legs, key=lambda leg: leg[0].pk))
        with transaction.atomic():
            entry = self.entries.objects.create(
                kind=kind,
                idempotency_key=key,
                fingerprint=hashlib.sha256(canon.encode()).hexdigest(),
                reference=reference,
            )
            self.postings.objects.bulk_create(
                [self.postings(entry=entry, account=account, amount=amount) for account, amount in legs]
            )
            for account, amount in legs:
                self.accounts.objects.filter(pk=account.pk).update(balance=F("balance") + amount)
        return entry


def write_old_layout(apps) -> dict[str, int]:
    """A lead trader's closed and open trades, a follower's copy of the open one, grants and a beat row.

    Written with the historical models of the old layout; returns the ids the test reads back.
    """
    get = apps.get_model
    ContentTypeOld, PermissionOld, GroupOld = (
        get("contenttypes", "ContentType"),
        get("auth", "Permission"),
        get("auth", "Group"),
    )
    UserOld = get("accounts", "User")
    # The venue's models, still in the copytrading app, in the order of VENUE_MODELS.
    (
        Market,
        MarketChange,
        MarkPrice,
        MarketSetting,
        OrderOld,
        PositionOld,
        PositionCloseOld,
        FundingRun,
        RiskSweep,
        OutboxEvent,
        OutboxDelivery,
    ) = (get("copytrading", name) for name in VENUE_MODELS)
    LeadTrader, Following, CopyDecisionOld = (
        get("copytrading", n) for n in ("LeadTrader", "Following", "CopyDecision")
    )
    now = timezone.now()

    # The venue's permissions are under the copytrading label; nothing is under futures yet.
    assert not ContentTypeOld.objects.filter(app_label="futures").exists()
    set_mark_price = PermissionOld.objects.get(content_type__app_label="copytrading", codename="set_mark_price")
    view_position = PermissionOld.objects.get(content_type__app_label="copytrading", codename="view_position")
    view_markprice = PermissionOld.objects.get(content_type__app_label="copytrading", codename="view_markprice")

    operator = UserOld.objects.create(email="risk@example.com", is_staff=True)
    support = UserOld.objects.create(email="support@example.com", is_staff=True)
    lead_user = UserOld.objects.create(email="lead@example.com")
    follower = UserOld.objects.create(email="follower@example.com")
    risk_operators, _ = GroupOld.objects.get_or_create(name="Risk operators")
    risk_operators.permissions.add(set_mark_price, view_markprice)
    operator.groups.add(risk_operators)
    support.user_permissions.add(view_position)

    # A post_migrate between futures 0001 and 0002 (``migrate futures 0001`` run alone) would have
    # created the venue's content types under the new label too, and granted their permissions: one here.
    early = ContentTypeOld.objects.create(app_label="futures", model="markprice")
    early_view = PermissionOld.objects.create(content_type=early, codename="view_markprice", name="Can view mark price")
    risk_operators.permissions.add(early_view)

    ledger = OldLedger(apps)
    custody, house, fees = (ledger.open(kind) for kind in ("external_custody", "house", "fee_revenue"))
    ledger.open("insurance_fund")
    lead_spot, lead_wallet = ledger.open("spot", lead_user), ledger.open("futures", lead_user)
    follower_spot = ledger.open("spot", follower)
    ledger.open("futures", follower)

    btc = Market.objects.create(
        symbol="BTCUSDT",
        base_asset="BTC",
        price_tick=D("0.01"),
        qty_step=D("0.001"),
        min_qty=D("0.001"),
        max_order_qty=D("100"),
        max_leverage=125,
        maintenance_margin_rate=D("0.005"),
        taker_fee_rate=D("0.0006"),
        mark_price=D("60000"),
        mark_price_at=now,
    )
    MarketChange.objects.create(
        market=btc, actor=operator, reason="listing", changes={"symbol": "BTCUSDT"}, created=True
    )
    first_tick = MarkPrice.objects.create(market=btc, price=D("60000"), source="operator", actor=operator, at=now)
    FundingRun.objects.create(
        market=btc, funding_time=now, rate=D("0.0001"), mark_price=D("60000"), positions=0, completed_at=now
    )
    RiskSweep.objects.create(market=btc, tick=first_tick, price=D("60000"))
    MarketSetting.objects.create(account=lead_wallet, market=btc, leverage=10, margin_mode="cross")

    ledger.post("deposit", "deposit:lead", [(custody, D("-2000")), (lead_spot, D("2000"))])
    ledger.post("transfer", "transfer:lead", [(lead_spot, D("-2000")), (lead_wallet, D("2000"))])
    lead = LeadTrader.objects.create(
        user=lead_user, nickname="Atlas", profit_share_ratio=D("0.1"), status="approved", decided_by=operator
    )

    # The lead opens 0.01 BTC long at 60,000 (cross, 10x; fee 0.36) and closes it at 61,000 (+10, fee 0.366).
    closed = PositionOld.objects.create(
        account=lead_wallet,
        market=btc,
        side="long",
        qty=D("0.01"),
        entry_price=D("60000"),
        leverage=10,
        margin_mode="cross",
        margin=D("60"),
        fees_paid=D("0.36"),
    )
    entry = ledger.post("futures_order", "fill:open-1", [(lead_wallet, D("-0.36")), (fees, D("0.36"))])
    OrderOld.objects.create(
        account=lead_wallet,
        market=btc,
        side="buy",
        requested_qty=D("0.01"),
        filled_qty=D("0.01"),
        price=D("60000"),
        leverage=10,
        margin_mode="cross",
        status="filled",
        fee=D("0.36"),
        position=closed,
        entry=entry,
        idempotency_key=f"order:{lead_wallet.pk}:open-1",
        created_by=lead_user,
        lead_equity=D("2000"),
    )
    MarkPrice.objects.create(market=btc, price=D("61000"), source="operator", actor=operator, at=now)
    Market.objects.filter(pk=btc.pk).update(mark_price=D("61000"))
    entry = ledger.post(
        "futures_order", "fill:close-1", [(house, D("-10")), (lead_wallet, D("9.634")), (fees, D("0.366"))]
    )
    close_order = OrderOld.objects.create(
        account=lead_wallet,
        market=btc,
        side="sell",
        reduce_only=True,
        requested_qty=D("0.01"),
        filled_qty=D("0.01"),
        price=D("61000"),
        leverage=10,
        margin_mode="cross",
        status="filled",
        fee=D("0.366"),
        realised_pnl=D("10"),
        position=closed,
        entry=entry,
        idempotency_key=f"order:{lead_wallet.pk}:close:{closed.pk}:by-hand",
        created_by=lead_user,
        lead_equity=D("1999.64"),
        closed_fraction=D("1"),
    )
    PositionOld.objects.filter(pk=closed.pk).update(
        qty=D("0"), margin=D("0"), realised_pnl=D("10"), fees_paid=D("0.726"), status="closed", closed_at=now
    )
    close = PositionCloseOld.objects.create(
        position=closed,
        order=close_order,
        qty=D("0.01"),
        price=D("61000"),
        realised_pnl=D("10"),
        fee=D("0.366"),
        margin_released=D("60"),
        reason="manual",
        entry=entry,
    )
    event = OutboxEvent.objects.create(
        kind="position_closed", payload={"close_id": close.pk, "position_id": closed.pk, "full": True}
    )
    OutboxDelivery.objects.create(event=event, consumer="copytrading.statistics")

    # A follower copies the lead in Smart Ratio with 500 USDT.
    follow = ledger.open("follow", follower, ref=f"smart:{lead.pk}")
    follow_margin = ledger.open("position_margin", follower, ref=str(follow.pk))
    following = Following.objects.create(
        follower=follower, lead=lead, mode="smart", sub_account=follow, invested=D("500")
    )
    MarketSetting.objects.create(account=follow, market=btc, leverage=10, margin_mode="isolated")
    ledger.post("deposit", "deposit:follower", [(custody, D("-500")), (follower_spot, D("500"))])
    ledger.post(
        "following_funds_in",
        f"follow:{follower.pk}:start",
        [(follower_spot, D("-500")), (follow, D("500"))],
        reference=f"following:{following.pk}",
    )

    # The lead opens 0.02 long at 61,000 (fee 0.732); the follower's copy: 0.005 isolated, margin 30.5, fee 0.183.
    lead_open = PositionOld.objects.create(
        account=lead_wallet,
        market=btc,
        side="long",
        qty=D("0.02"),
        entry_price=D("61000"),
        leverage=10,
        margin_mode="cross",
        margin=D("122"),
        fees_paid=D("0.732"),
    )
    entry = ledger.post("futures_order", "fill:open-2", [(lead_wallet, D("-0.732")), (fees, D("0.732"))])
    lead_order = OrderOld.objects.create(
        account=lead_wallet,
        market=btc,
        side="buy",
        requested_qty=D("0.02"),
        filled_qty=D("0.02"),
        price=D("61000"),
        leverage=10,
        margin_mode="cross",
        status="filled",
        fee=D("0.732"),
        position=lead_open,
        entry=entry,
        idempotency_key=f"order:{lead_wallet.pk}:open-2",
        created_by=lead_user,
        lead_equity=D("2009.274"),
    )
    copy = PositionOld.objects.create(
        account=follow,
        market=btc,
        slot=following.pk,
        side="long",
        qty=D("0.005"),
        entry_price=D("61000"),
        leverage=10,
        margin_mode="isolated",
        margin=D("30.5"),
        liquidation_price=m.isolated_liquidation_price(
            sign=1, qty=D("0.005"), entry=D("61000"), margin=D("30.5"), mmr=D("0.005"), tick=D("0.01")
        ),
        fees_paid=D("0.183"),
    )
    entry = ledger.post(
        "futures_order",
        f"fill:copy:{lead_order.pk}:{following.pk}",
        [(follow, D("-30.683")), (follow_margin, D("30.5")), (fees, D("0.183"))],
    )
    OrderOld.objects.create(
        account=follow,
        market=btc,
        slot=following.pk,
        side="buy",
        requested_qty=D("0.005"),
        filled_qty=D("0.005"),
        price=D("61000"),
        leverage=10,
        margin_mode="isolated",
        status="filled",
        fee=D("0.183"),
        position=copy,
        entry=entry,
        idempotency_key=f"order:{follow.pk}:copy:{lead_order.pk}:{following.pk}",
    )
    decision = CopyDecisionOld.objects.create(
        lead_order=lead_order,
        following=following,
        followed=True,
        qty=D("0.005"),
        price=D("61000"),
        margin=D("30.5"),
        leverage=10,
        margin_mode="isolated",
        position=copy,
    )
    get("admin", "LogEntry").objects.create(
        user=support,
        content_type=ContentTypeOld.objects.get(app_label="copytrading", model="position"),
        object_id=str(copy.pk),
        object_repr=f"Position #{copy.pk}",
        action_flag=2,
        change_message="Looked at the copy",
        action_time=now,
    )

    # The mark moves on to 62,000.
    MarkPrice.objects.create(market=btc, price=D("62000"), source="operator", actor=operator, at=now)
    Market.objects.filter(pk=btc.pk).update(mark_price=D("62000"))

    crontab = get("django_celery_beat", "CrontabSchedule").objects.create(
        minute="0", hour="0,8,16", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    tasks = get("django_celery_beat", "PeriodicTask")
    funding = tasks.objects.create(
        name="funding", task="copytrading.tasks.funding_settle", crontab=crontab, queue="settlement"
    )
    own = tasks.objects.create(name="operator's cleanup", task="celery.backend_cleanup", crontab=crontab)

    return {
        "operator": operator.pk,
        "support": support.pk,
        "set_mark_price": set_mark_price.pk,
        "view_markprice": view_markprice.pk,
        "markprice_type": view_markprice.content_type_id,
        "position_type": view_position.content_type_id,
        "closed": closed.pk,
        "close": close.pk,
        "close_order": close_order.pk,
        "lead_open": lead_open.pk,
        "lead_order": lead_order.pk,
        "copy": copy.pk,
        "decision": decision.pk,
        "follow": follow.pk,
        "follow_margin": follow_margin.pk,
        "funding": funding.pk,
        "own": own.pk,
    }


def audit() -> str:
    out = StringIO()
    call_command("audit_ledger", stdout=out)  # raises CommandError("ledger audit failed") on any violation
    return out.getvalue()


@pytest.mark.slow
def test_the_venue_moves_to_the_futures_app_with_its_rows_grants_beat_rows_and_ledger_intact(executor):
    """futures 0001/0002 and copytrading 0011/0012 upgrade an old-layout database that holds trades, copies,
    grants and beat rows: nothing is lost, everything resolves through the futures app, the ledger stays
    clean, and today's services trade on what was there."""
    latest = executor.loader.graph.leaf_nodes()

    migrate(executor, OLD_TARGETS)
    applied = executor.loader.applied_migrations
    assert ("copytrading", "0010_market_changes") in applied
    assert ("copytrading", "0011_venue_to_futures") not in applied
    assert not [key for key in applied if key[0] == "futures"]

    # The historical models of the old layout; the other apps (auth, admin, beat …) at their latest.
    old_state = OLD_LAYOUT + [node for node in latest if node[0] not in MOVED_APPS]
    old = executor.loader.project_state(old_state).apps
    with pytest.raises(LookupError):
        old.get_app_config("futures")
    ids = write_old_layout(old)
    before, decisions_before = venue_rows(old, "copytrading"), decision_rows(old)
    assert all(before.values()), "every venue table holds rows to carry over"
    assert "ledger audit clean" in audit()
    ids["before_migrate"] = timezone.now()

    migrate(executor, latest)
    assert not executor.migration_plan(latest)
    ContentType.objects.clear_cache()  # as a process started after the migration would find them

    # Every row of every venue table is there, column by column, read through the futures app.
    assert venue_rows(current_apps, "futures") == before
    assert decision_rows(current_apps) == decisions_before

    # The copy engine's decision still points at the lead's order and the follower's copy.
    decision = CopyDecision.objects.select_related("lead_order", "position__market").get(pk=ids["decision"])
    assert isinstance(decision.lead_order, Order)
    assert isinstance(decision.position, Position)
    assert (decision.lead_order.pk, decision.position.pk) == (ids["lead_order"], ids["copy"])
    assert decision.position.market.symbol == "BTCUSDT"
    assert list(Order.objects.get(pk=ids["lead_order"]).copy_decisions.all()) == [decision]

    # The closed position and its close, order and journal entry.
    close = PositionClose.objects.select_related("position", "order", "entry").get(pk=ids["close"])
    assert close.position.pk == ids["closed"]
    assert close.position.status == PositionStatus.CLOSED
    assert (close.qty, close.price, close.realised_pnl, close.fee) == (D("0.01"), D("61000"), D("10"), D("0.366"))
    assert close.order.pk == ids["close_order"]
    assert close.entry == close.order.entry
    assert close.entry.postings.count() == 3

    # The permission moved with its content type: same row, new label, still granted.
    set_mark_price = Permission.objects.get(pk=ids["set_mark_price"])
    assert set_mark_price.content_type.app_label == "futures"
    assert Group.objects.get(name="Risk operators").permissions.filter(pk=set_mark_price.pk).exists()
    operator = User.objects.get(pk=ids["operator"])
    assert operator.has_perm("futures.set_mark_price")
    assert not operator.has_perm("copytrading.set_mark_price")
    assert User.objects.get(pk=ids["support"]).has_perm("futures.view_position")
    assert ContentType.objects.get_for_model(Position).pk == ids["position_type"]
    assert not ContentType.objects.filter(app_label="copytrading", model__in=[n.lower() for n in VENUE_MODELS])
    assert ContentType.objects.filter(app_label="futures").count() == len(VENUE_MODELS)

    # A content type created under the new label early gives way to the old one, which carries the grants.
    assert list(ContentType.objects.filter(app_label="futures", model="markprice").values_list("pk", flat=True)) == [
        ids["markprice_type"]
    ]
    granted = Group.objects.get(name="Risk operators").permissions.filter(codename="view_markprice")
    assert list(granted.values_list("pk", flat=True)) == [ids["view_markprice"]]
    assert operator.has_perm("futures.view_markprice")

    # The admin history of the copy now names the futures position.
    history = LogEntry.objects.select_related("content_type").get(object_id=str(ids["copy"]))
    assert history.content_type.app_label == "futures"
    assert history.get_edited_object() == Position.objects.get(pk=ids["copy"])

    # The beat row names the stable task, one the worker knows; an operator's own task is left alone.
    assert PeriodicTask.objects.get(pk=ids["funding"]).task == "futures.funding_settle"
    assert "futures.funding_settle" in celery_app.tasks
    assert PeriodicTask.objects.get(pk=ids["own"]).task == "celery.backend_cleanup"
    # … and a running beat is told its schedule changed, so it reloads the renamed rows.
    assert PeriodicTasks.last_change() is not None and PeriodicTasks.last_change() >= ids["before_migrate"]

    assert "ledger audit clean" in audit()

    # Today's services trade on the moved data: the follower closes its copy at 62,000.
    # +5 profit; fee 0.005 × 62,000 × 0.0006 = 0.186 from the 30.5 margin, the rest back to the sub-account.
    order = position_close(position=Position.objects.get(pk=ids["copy"]), idempotency_key="after-the-move")
    assert order.position_id == ids["copy"]
    copy = Position.objects.get(pk=ids["copy"])
    assert (copy.status, copy.qty, copy.margin, copy.realised_pnl) == (PositionStatus.CLOSED, 0, 0, D("5"))
    closed_now = copy.closes.get()
    assert (closed_now.reason, closed_now.price, closed_now.fee) == (CloseReason.MANUAL, D("62000"), D("0.186"))
    assert closed_now.margin_released == D("30.5")
    balances = dict(
        LedgerAccount.objects.filter(pk__in=[ids[k] for k in ("follow", "follow_margin")]).values_list("pk", "balance")
    )
    assert balances == {ids["follow"]: D("504.631"), ids["follow_margin"]: D("0")}  # 500 − 30.683 + 5 + 30.314
    platform = dict(LedgerAccount.objects.filter(owner__isnull=True).values_list("kind", "balance"))
    assert (platform["fee_revenue"], platform["house"], platform["external_custody"]) == (
        D("1.827"),  # 0.36 + 0.366 + 0.732 + 0.183 + 0.186
        D("-15"),  # the lead's 10 and the follower's 5
        D("-2500"),  # the two deposits
    )
    assert Position.objects.get(pk=ids["lead_open"]).status == PositionStatus.OPEN
    assert "ledger audit clean" in audit()
