"""`manage.py replay_prices FILE.csv`: feed recorded mark prices, in file order. (R-MG-08)

The file has three columns — ``timestamp`` (ISO 8601; naive times are UTC),
``symbol``, ``price`` — and may start with that header row. The whole file is
checked before the first price is recorded, so a bad file changes nothing.

Each price is recorded at its file timestamp; one older than the market's
current mark is kept as history only (``mark_price_set``). ``--now`` records
each price at the moment it is replayed instead, so a historical file moves
the markets today; the file's timestamps then only pace ``--speed``.
"""

from __future__ import annotations

import csv
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from accounts.money import parse_amount
from config.errors import ServiceError
from copytrading.futures.models import Market, PriceSource
from copytrading.futures.services.demo import price_feed

HEADER = ["timestamp", "symbol", "price"]


@dataclass(frozen=True)
class Row:
    line: int
    at: datetime
    market: Market
    price: Decimal


# Clock skew allowed to a file's timestamps. A later one is refused: it would become
# the mark and hold back every live price until then (older ticks are history only).
CLOCK_SKEW = timedelta(minutes=1)


def read_rows(path: Path, *, latest: datetime | None = None) -> list[Row]:
    """Parse and check every row; raise ``CommandError`` naming the first bad line.

    With ``latest``, a timestamp after it is an error.
    """
    markets = {m.symbol: m for m in Market.objects.all()}
    rows: list[Row] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            for fields in reader:
                line = reader.line_num
                fields = [f.strip() for f in fields]
                if not any(fields):
                    continue
                if not rows and [f.lower() for f in fields] == HEADER:
                    continue
                rows.append(_row(line, fields, markets, latest))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CommandError(f"cannot read {path}: {exc}") from exc
    if not rows:
        raise CommandError(f"{path} holds no prices (expected rows of: {', '.join(HEADER)})")
    return rows


def _row(line: int, fields: list[str], markets: dict[str, Market], latest: datetime | None) -> Row:
    if len(fields) != len(HEADER):
        raise CommandError(f"line {line}: expected {len(HEADER)} columns ({', '.join(HEADER)}), found {len(fields)}")
    raw_at, symbol, raw_price = fields
    try:
        at = datetime.fromisoformat(raw_at)
    except ValueError:
        raise CommandError(f"line {line}: bad timestamp {raw_at!r} (ISO 8601, e.g. 2024-05-01T08:00:00Z)") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    if latest is not None and at > latest:
        raise CommandError(
            f"line {line}: timestamp {raw_at!r} is in the future; it would hold back live prices until then "
            "(replay with --now to stamp prices as they are replayed)"
        )
    market = markets.get(symbol.upper())
    if market is None:
        known = ", ".join(sorted(markets)) or "none yet"
        raise CommandError(f"line {line}: unknown symbol {symbol!r} (markets: {known})")
    try:
        price = parse_amount(raw_price, field="price")
    except ServiceError as exc:
        raise CommandError(f"line {line}: bad price {raw_price!r}: {exc.detail}") from None
    if price % market.price_tick:
        raise CommandError(
            f"line {line}: bad price {raw_price!r}: not a multiple of {market.symbol}'s "
            f"price tick {market.price_tick.normalize():f}"
        )
    return Row(line=line, at=at, market=market, price=price)


class Command(BaseCommand):
    help = "Replay mark prices from a CSV file (timestamp, symbol, price), in order. (R-MG-08)"

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="CSV with columns timestamp (ISO 8601), symbol, price.")
        parser.add_argument(
            "--speed",
            type=float,
            default=0.0,
            help="Replay N times faster than recorded: sleep (gap between timestamps) / N between rows. "
            "0, the default, does not sleep.",
        )
        parser.add_argument(
            "--now",
            action="store_true",
            help="Record each price at the moment it is replayed, not at its file timestamp "
            "(a file older than the current marks would otherwise only add history).",
        )
        parser.add_argument(
            "--sweep-inline",
            action="store_true",
            help="Also run each tick's risk sweep here, at once (for a machine without a Celery worker).",
        )

    def handle(self, *args, file: Path, speed: float, now: bool, sweep_inline: bool, **options):
        if speed < 0:
            raise CommandError("--speed must be 0 (no sleeping) or more")
        rows = read_rows(file, latest=None if now else timezone.now() + CLOCK_SKEW)
        liquidated = triggered = done = history_only = 0
        previous: Row | None = None
        try:
            for row in tqdm(rows, unit="price", file=sys.stderr, disable=None):
                if speed and previous is not None:
                    time.sleep(max((row.at - previous.at).total_seconds(), 0) / speed)
                try:
                    fed = price_feed(
                        market=row.market,
                        price=row.price,
                        source=PriceSource.REPLAY,
                        at=None if now else row.at,
                        sweep_inline=sweep_inline,
                    )
                except ServiceError as exc:
                    raise CommandError(f"line {row.line}: {exc.detail}") from exc
                history_only += not fed.current
                if fed.sweep is not None:
                    liquidated += fed.sweep.liquidated
                    triggered += fed.sweep.triggered
                previous, done = row, done + 1
        except KeyboardInterrupt:
            self.stdout.write(self.style.WARNING(f"Interrupted after {done} of {len(rows)} prices."))
            return
        symbols = sorted({r.market.symbol for r in rows})
        self.stdout.write(self.style.SUCCESS(f"Replayed {done} prices for {', '.join(symbols)}."))
        if history_only:
            self.stdout.write(
                self.style.WARNING(
                    f"{history_only} of them were older than their market's current mark and were kept as "
                    "history only (replay with --now to move the markets)."
                )
            )
        if sweep_inline:
            self.stdout.write(f"Risk sweeps run inline: {liquidated} liquidated, {triggered} TP/SL triggered.")
