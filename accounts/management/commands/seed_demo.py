"""Demo data: an operator, a lead trader and two followers with funded accounts, and the demo markets.

Idempotent: running it again finds the same users and credits nothing twice
(every deposit carries a fixed idempotency key); existing markets are left as they are.
"""

from decimal import Decimal

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import AccountKind, User
from accounts.services.accounts import user_open_default_accounts
from accounts.services.flows import deposit_credit, transfer_create
from copytrading.services.demo import markets_seed_demo

DEMO_PASSWORD = "demo-pass-2026"
DEMO_USERS = [
    # email, role, spot deposit, moved to futures
    ("operator@demo.local", "operator", Decimal("0"), Decimal("0")),
    ("lead@demo.local", "lead trader", Decimal("50000"), Decimal("25000")),
    ("alice@demo.local", "follower", Decimal("10000"), Decimal("2000")),
    ("bob@demo.local", "follower", Decimal("5000"), Decimal("0")),
]


class Command(BaseCommand):
    help = "Load demo users with funded accounts and the demo markets (BTCUSDT, ETHUSDT, SOLUSDT); print the logins."

    @transaction.atomic
    def handle(self, *args, **options):
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
        markets = markets_seed_demo()
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD})")
        for email, role, _deposit, _futures in DEMO_USERS:
            self.stdout.write(f"  {role:<12} {email}")
        self.stdout.write("Demo markets: " + ", ".join(f"{m.symbol} @ {m.mark_price.normalize():f}" for m in markets))

    def _user(self, email: str, staff: bool = False) -> User:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email=email, password=DEMO_PASSWORD, is_staff=staff)
        return user
