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
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from accounts.models import AccountKind, User
from accounts.services.accounts import user_open_default_accounts
from accounts.services.flows import deposit_credit, transfer_create
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
    # email, role, spot deposit, moved to futures
    ("operator@demo.local", "operator", Decimal("0"), Decimal("0")),
    ("lead@demo.local", "lead trader", Decimal("50000"), Decimal("25000")),
    ("lead2@demo.local", "lead trader", Decimal("30000"), Decimal("20000")),
    ("lead3@demo.local", "lead trader", Decimal("20000"), Decimal("12000")),
    ("lead4@demo.local", "lead trader", Decimal("10000"), Decimal("6000")),
    ("alice@demo.local", "follower", Decimal("10000"), Decimal("2000")),
    ("bob@demo.local", "follower", Decimal("5000"), Decimal("0")),
    ("carol@demo.local", "follower", Decimal("6000"), Decimal("0")),
    ("dave@demo.local", "follower", Decimal("4000"), Decimal("0")),
]


class Command(BaseCommand):
    help = (
        "Load the demo: users with funded accounts, the demo markets (BTCUSDT, ETHUSDT, SOLUSDT), lead traders "
        "with a trading past and followers copying them; print the logins. Refused under production settings."
    )
    _password_hash: str | None = None

    def handle(self, *args, **options):
        if not settings.DEMO_ENABLED:
            raise CommandError(
                "demo data is off under these settings (DEMO_ENABLED is false, as in production): "
                "seed_demo would create users with known passwords and credit them money"
            )
        with transaction.atomic():
            operator = self._seed_users()
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
        for email, role, _deposit, _futures in DEMO_USERS:
            nickname = f"  ({nicknames[email]})" if email in nicknames else ""
            self.stdout.write(f"  {role:<12} {email}{nickname}")
        self.stdout.write("Demo markets: " + ", ".join(f"{m.symbol} @ {m.mark_price.normalize():f}" for m in markets))
        if history is None:
            self.stdout.write("The demo's past was already there: nothing played again.")
        else:
            self.stdout.write(
                f"Played {history.days} days: {history.orders} lead orders, {history.followings} followings, "
                f"{history.snapshots} equity snapshots."
            )

    def _seed_users(self) -> User:
        operator = self._user("operator@demo.local", staff=True)
        operator.groups.add(*Group.objects.filter(name__in=["Finance", "Risk operators", "Campaign operators"]))
        for email, _role, deposit, to_futures in DEMO_USERS:
            user = operator if email == operator.email else self._user(email)
            user_open_default_accounts(user=user)
            if deposit:
                deposit_credit(
                    user=user,
                    amount=deposit,
                    operator=operator,
                    reason="demo funding",
                    idempotency_key=f"demo:{email}",
                )
            if to_futures:
                transfer_create(
                    user=user,
                    source_kind=AccountKind.SPOT,
                    destination_kind=AccountKind.FUTURES,
                    amount=to_futures,
                    idempotency_key=f"demo:{email}",
                )
        return operator

    def _user(self, email: str, staff: bool = False) -> User:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email=email, password=None, is_staff=staff)
            # One hash for every demo login: each costs most of a second, and the password is public anyway.
            if self._password_hash is None:
                self._password_hash = make_password(DEMO_PASSWORD)
            user.password = self._password_hash
            user.save(update_fields=["password"])
        return user
