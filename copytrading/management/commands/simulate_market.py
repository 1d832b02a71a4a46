"""`manage.py simulate_market`: the venue's random walk of mark prices, plus the demo's lead trades.

The copy engine's version of the venue's command (``copytrading.futures``):
``--lead-trades-every N`` has one of the demo's lead traders close or open a
position every N ticks, and its followers copy it. Listed before the venue
in INSTALLED_APPS, this command is the one ``manage.py`` runs.
"""

from __future__ import annotations

import random

from django.conf import settings
from django.core.management.base import CommandError

from copytrading.futures.management.commands import simulate_market as venue
from copytrading.services.demo_history import demo_lead_trade


class Command(venue.Command):
    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--lead-trades-every",
            type=venue.not_negative(int),
            default=0,
            metavar="N",
            help="Every N ticks one of the demo's lead traders closes its position or opens one, and its "
            "followers copy it (default 0: never).",
        )

    def handle(self, *args, lead_trades_every: int, **opts):
        if lead_trades_every and not settings.DEMO_ENABLED:
            raise CommandError("--lead-trades-every trades for the demo's lead traders, and DEMO_ENABLED is off here")
        self.every, self.traded = lead_trades_every, 0
        return super().handle(*args, **opts)

    def tick_seed(self, seed: int) -> None:
        self.trader = random.Random(f"{seed}:demo-trades")  # noqa: S311 - a simulation, not a secret

    def after_tick(self, done: int) -> None:
        if self.every and done % self.every == 0:
            self.traded += demo_lead_trade(rng=self.trader) is not None

    def report(self) -> None:
        if self.every:
            self.stdout.write(f"Demo lead traders placed {self.traded} orders.")
