"""Demo data: an operator, lead traders and followers with funded accounts, the demo markets, and the
living demo on top (``copytrading.services.demo_history``): the leads' past trades, the followers'
copies and the daily equity snapshots behind the leaderboard.

Idempotent: running it again finds the same users and credits nothing twice (every deposit and
transfer carries a fixed idempotency key), leaves existing markets as they are and does not play the
past again. Refused where ``DEMO_ENABLED`` is off (production settings).
"""

import sys
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from accounts.services.demo import DemoUser, demo_users_seed
from copytrading.futures.services.demo import markets_seed_demo
from copytrading.services.demo_history import (
    DAYS,
    LEADS,
    demo_history_build,
    demo_history_played,
    demo_history_start,
)

DEMO_PASSWORD = "demo-pass-2026"
DEMO_USERS = [
    DemoUser("operator@demo.local", "operator"),
    DemoUser("lead@demo.local", "lead trader", Decimal("50000"), Decimal("25000")),
    DemoUser("lead2@demo.local", "lead trader", Decimal("30000"), Decimal("20000")),
    DemoUser("lead3@demo.local", "lead trader", Decimal("20000"), Decimal("12000")),
    DemoUser("lead4@demo.local", "lead trader", Decimal("10000"), Decimal("6000")),
    DemoUser("alice@demo.local", "follower", Decimal("10000"), Decimal("2000")),
    DemoUser("bob@demo.local", "follower", Decimal("5000")),
    DemoUser("carol@demo.local", "follower", Decimal("6000")),
    DemoUser("dave@demo.local", "follower", Decimal("4000")),
]


class Command(BaseCommand):
    help = (
        "Load the demo: users with funded accounts, the demo markets (BTCUSDT, ETHUSDT, SOLUSDT), lead traders "
        "with a trading past and followers copying them; print the logins. Refused under production settings."
    )

    def handle(self, *args, **options):
        if not settings.DEMO_ENABLED:
            raise CommandError(
                "demo data is off under these settings (DEMO_ENABLED is false, as in production): "
                "seed_demo would create users with known passwords and credit them money"
            )
        with transaction.atomic():
            operator = demo_users_seed(operator_email="operator@demo.local", users=DEMO_USERS, password=DEMO_PASSWORD)
            markets = markets_seed_demo(first_price_at=demo_history_start())
            history = None
            if not demo_history_played():
                self.stdout.write(f"Playing the demo's past: {DAYS} days of trades, copies and daily snapshots…")
                with tqdm(total=DAYS + 1, unit="day", file=sys.stderr, disable=None) as bar:
                    history = demo_history_build(operator=operator, on_day=lambda _day: bar.update())
        for market in markets:
            market.refresh_from_db()
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD})")
        nicknames = {plan.email: plan.nickname for plan in LEADS}
        for demo in DEMO_USERS:
            nickname = f"  ({nicknames[demo.email]})" if demo.email in nicknames else ""
            self.stdout.write(f"  {demo.role:<12} {demo.email}{nickname}")
        self.stdout.write("Demo markets: " + ", ".join(f"{m.symbol} @ {m.mark_price.normalize():f}" for m in markets))
        if history is None:
            self.stdout.write("The demo's past was already there: nothing played again.")
        else:
            self.stdout.write(
                f"Played {history.days} days: {history.orders} lead orders, {history.followings} followings, "
                f"{history.snapshots} equity snapshots."
            )
