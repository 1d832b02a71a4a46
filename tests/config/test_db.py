"""The bulk write helpers store exactly what Django's own saves would."""

from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import AccountKind, LedgerAccount
from config.db import bulk_update_rows, copy_insert
from copytrading.futures.models import Position, PositionStatus
from copytrading.models import Following
from tests.copytrading.copy_helpers import follow, make_lead
from tests.factories import MarketFactory, futures

pytestmark = pytest.mark.django_db


def raw(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def test_copy_insert_assigns_ids_stamps_times_and_stores_choices_by_value(user):
    market = MarketFactory()
    positions = [
        Position(
            account=futures(user),
            market=market,
            slot=n,
            side="long",
            qty=Decimal("0.5"),
            entry_price=Decimal("60000.12345678"),
            leverage=5,
            margin_mode="cross",
            margin=Decimal("6000"),
            status=PositionStatus.OPEN,
        )
        for n in (1, 2)
    ]
    copy_insert(Position, positions, assign_ids=True)
    assert all(p.pk for p in positions)
    rows = raw(
        "SELECT status, entry_price, opened_at IS NOT NULL FROM copytrading_position WHERE id = ANY(%s)",
        [[p.pk for p in positions]],
    )
    assert rows == [("open", Decimal("60000.12345678"), True)] * 2


def test_bulk_update_rows_writes_enums_json_and_nulls():
    market = MarketFactory()
    following, other = follow(make_lead()), follow(make_lead())
    following.pairs, other.pairs = [market.symbol], None
    bulk_update_rows(Following, [following, other], ["pairs"])
    assert Following.objects.get(pk=following.pk).pairs == [market.symbol]
    assert Following.objects.get(pk=other.pk).pairs is None
    wallet = LedgerAccount.objects.get(pk=following.sub_account_id)
    positions = [
        Position.objects.create(
            account=wallet,
            market=market,
            slot=n,
            side="short",
            qty=Decimal("1"),
            entry_price=Decimal("1"),
            leverage=1,
            margin_mode="isolated",
            margin=Decimal("1"),
            liquidation_price=Decimal("2"),
        )
        for n in (7, 8)
    ]
    for p in positions:
        p.status, p.liquidation_price = PositionStatus.CLOSED, None
    bulk_update_rows(Position, positions, ["status", "liquidation_price"])
    assert raw("SELECT DISTINCT status, liquidation_price FROM copytrading_position WHERE slot IN (7, 8)", []) == [
        ("closed", None)
    ]
    assert wallet.kind == AccountKind.FOLLOW


def test_a_constraint_broken_through_copy_raises_djangos_integrity_error():
    from django.db import IntegrityError, transaction

    from copytrading.models import ShareSettlement

    following = follow(make_lead())
    row = ShareSettlement(following=following, day="2026-11-22")
    copy_insert(ShareSettlement, [row])
    with pytest.raises(IntegrityError), transaction.atomic():
        copy_insert(ShareSettlement, [ShareSettlement(following=following, day="2026-11-22")])


def test_array_param_round_trips_awkward_strings_numbers_and_timestamps():
    from datetime import UTC, datetime
    from decimal import Decimal

    from django.db import connection

    from config.db import array_param

    texts = ["plain", 'with "quotes"', "back\\slash", "comma, {brace}", "", "NULL", "ünï ✓", None]
    numbers = [Decimal("0E-8"), Decimal("-123456789012345678.12345678"), 2**62, None]
    stamps = [datetime(2026, 11, 21, 16, 0, 0, 123456, tzinfo=UTC), None]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT %s::text[], %s::numeric[], %s::timestamptz[], %s::boolean[]",
            [array_param(texts), array_param(numbers), array_param(stamps), array_param([True, False, None])],
        )
        assert cursor.fetchone() == (texts, numbers, stamps, [True, False, None])
    assert array_param([{"json": 1}]) == [{"json": 1}]  # left for psycopg to adapt

    from enum import Enum

    class Plain(Enum):
        OPEN = "open"

    assert array_param([Plain.OPEN, PositionStatus.CLOSED]) == '{"open","closed"}'  # choices go by value


def test_the_any_lookup_matches_like_in(user):
    from accounts.models import LedgerAccount

    ids = list(LedgerAccount.objects.values_list("pk", flat=True))
    assert ids
    assert set(LedgerAccount.objects.filter(pk__any=ids).values_list("pk", flat=True)) == set(ids)
    assert not LedgerAccount.objects.filter(pk__any=[]).exists()
    refs = list(LedgerAccount.objects.values_list("ref", flat=True))
    assert LedgerAccount.objects.filter(ref__any=refs).count() == len(ids)
    assert (
        LedgerAccount.objects.filter(owner_id__any=[user.pk]).count()
        == LedgerAccount.objects.filter(owner=user).count()
    )
