"""`manage.py simulate_market`: a seeded random walk of mark prices. (R-MG-08)

Each market walks from its current mark by gaussian log-returns; its path
depends only on the seed, the symbol and the starting price, so the same seed
from the same prices gives the same ticks.

``--demo-feed`` is the ``feed`` process of ``make run``: it runs only while
settings.DEMO_PRICE_FEED is on, and otherwise idles until stopped, because the
process manager stops every process as soon as one of them exits.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from decimal import ROUND_HALF_EVEN, Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from copytrading.futures.models import Market, PriceSource
from copytrading.futures.services.demo import price_feed


class RandomWalk:
    """Geometric random walk of one market's price, rounded to its tick and never below one tick."""

    def __init__(self, market: Market, *, seed: int, volatility: float) -> None:
        self.market = market
        self.rng = random.Random(f"{seed}:{market.symbol}")  # noqa: S311 - a simulation, not a secret
        self.volatility = volatility
        self.level = float(market.mark_price)  # unrounded, so small moves accumulate

    def step(self) -> Decimal:
        self.level *= math.exp(self.rng.gauss(0.0, self.volatility))
        tick = self.market.price_tick
        price = (Decimal(repr(self.level)) / tick).to_integral_value(rounding=ROUND_HALF_EVEN) * tick
        return max(price, tick)


def not_negative(kind):
    """An argparse type: a finite ``kind`` number ≥ 0."""

    def parse(value: str):
        try:
            number = kind(value)
        except ValueError:
            number = -1
        if not math.isfinite(number) or number < 0:
            raise argparse.ArgumentTypeError(f"must be a {'whole ' if kind is int else ''}number ≥ 0, not {value!r}")
        return number

    return parse


class Command(BaseCommand):
    help = "Simulate mark prices: a seeded random walk per market, until stopped or for --ticks. (R-MG-08)"

    def add_arguments(self, parser):
        parser.add_argument(
            "--symbols", default="", help="Comma-separated symbols (default: every active market with a mark price)."
        )
        parser.add_argument(
            "--ticks", type=not_negative(int), default=None, help="Stop after N ticks (default: run until stopped)."
        )
        parser.add_argument("--seed", type=int, default=None, help="Random seed (default: a fresh one, printed).")
        parser.add_argument("--interval", type=not_negative(float), default=1.0, help="Seconds between ticks.")
        parser.add_argument(
            "--volatility",
            type=not_negative(float),
            default=0.002,
            help="Standard deviation of each tick's log-return (0.002 = 0.2 %%).",
        )
        parser.add_argument(
            "--sweep-inline",
            action="store_true",
            help="Also run each tick's risk sweep here, at once (for a machine without a Celery worker).",
        )
        parser.add_argument(
            "--demo-feed",
            action="store_true",
            help="Run as the demo's price feed: only while settings.DEMO_PRICE_FEED is on; otherwise say so and, "
            "without --ticks, idle until stopped, so the processes started beside it keep running.",
        )

    def handle(
        self,
        *args,
        symbols: str,
        ticks,
        seed,
        interval: float,
        volatility: float,
        sweep_inline: bool,
        demo_feed: bool,
        **opts,
    ):
        if demo_feed and not settings.DEMO_PRICE_FEED:
            self.stdout.write("The demo price feed is off (DEMO_PRICE_FEED); marks move only when set.")
            if ticks is None:
                self._idle()
            return
        markets = self._markets(symbols)
        if seed is None:
            seed = random.SystemRandom().randrange(2**32)
        walks = [RandomWalk(m, seed=seed, volatility=volatility) for m in markets]
        self.tick_seed(seed)
        names = ", ".join(m.symbol for m in markets)
        self.stdout.write(f"Simulating {names} (seed {seed}, volatility {volatility}, every {interval}s).")
        done = liquidated = triggered = history_only = 0
        bar = tqdm(total=ticks, unit="tick", file=sys.stderr, disable=None if ticks else True)
        try:
            while ticks is None or done < ticks:
                if done and interval:
                    time.sleep(interval)
                for walk in walks:
                    fed = price_feed(
                        market=walk.market, price=walk.step(), source=PriceSource.SIMULATED, sweep_inline=sweep_inline
                    )
                    history_only += not fed.current
                    if fed.sweep is not None:
                        liquidated += fed.sweep.liquidated
                        triggered += fed.sweep.triggered
                done += 1
                self.after_tick(done)
                bar.update()
        except KeyboardInterrupt:
            self.stdout.write(self.style.WARNING("Stopped."))
        finally:
            bar.close()
        last = ", ".join(f"{m.symbol} {m.mark_price.normalize():f}" for m in markets)
        self.stdout.write(self.style.SUCCESS(f"{done} ticks; last prices: {last}."))
        if history_only:
            self.stdout.write(
                self.style.WARNING(
                    f"{history_only} prices were kept as history only: their market's mark is dated "
                    "later than now (a replayed file from the future?)."
                )
            )
        if sweep_inline:
            self.stdout.write(f"Risk sweeps run inline: {liquidated} liquidated, {triggered} TP/SL triggered.")
        self.report()

    # Extension points for a command built on this one (the copy engine's demo trades between ticks).
    def tick_seed(self, seed: int) -> None:
        """Called once with the run's seed, before the first tick."""

    def after_tick(self, done: int) -> None:
        """Called after every tick; ``done`` ticks so far."""

    def report(self) -> None:
        """Called once at the end, after the summary."""

    def _idle(self) -> None:
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass

    def _markets(self, symbols: str) -> list[Market]:
        wanted = [s.strip().upper() for s in symbols.split(",") if s.strip()]
        if not wanted:
            markets = list(Market.objects.filter(is_active=True, mark_price__isnull=False).order_by("symbol"))
            if not markets:
                raise CommandError("no active market has a mark price yet (run seed_demo, or set one in the admin)")
            return markets
        found = {m.symbol: m for m in Market.objects.filter(symbol__in=wanted)}
        missing = [s for s in wanted if s not in found]
        if missing:
            raise CommandError(f"unknown symbol(s): {', '.join(missing)}")
        unpriced = [s for s in wanted if found[s].mark_price is None]
        if unpriced:
            raise CommandError(f"no mark price yet for {', '.join(unpriced)}; set one first (it is the walk's start)")
        return [found[s] for s in dict.fromkeys(wanted)]
