"""The demo's users: an operator in every operator group and funded users, created once. (``seed_demo``)"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group

from accounts.models import AccountKind, User
from accounts.roles import OPERATOR_GROUPS
from accounts.services.accounts import user_open_default_accounts
from accounts.services.flows import deposit_credit, transfer_create


@dataclass(frozen=True)
class DemoUser:
    email: str
    role: str
    spot_deposit: Decimal = Decimal(0)
    to_futures: Decimal = Decimal(0)


def demo_users_seed(*, operator_email: str, users: Sequence[DemoUser], password: str) -> User:
    """Create the operator and the users (once), fund them with fixed keys; return the operator.

    Idempotent: an existing user is found by email and its deposit and transfer keys are already used.
    """
    # One hash for every demo login, made only if a user is new: each costs most of a second, and the
    # password is public anyway.
    password_hash = cache(lambda: make_password(password))
    operator = _user(operator_email, password_hash, staff=True)
    operator.groups.add(*Group.objects.filter(name__in=list(OPERATOR_GROUPS)))
    for demo in users:
        user = operator if demo.email == operator.email else _user(demo.email, password_hash)
        user_open_default_accounts(user=user)
        if demo.spot_deposit:
            deposit_credit(
                user=user,
                amount=demo.spot_deposit,
                operator=operator,
                reason="demo funding",
                idempotency_key=f"demo:{demo.email}",
            )
        if demo.to_futures:
            transfer_create(
                user=user,
                source_kind=AccountKind.SPOT,
                destination_kind=AccountKind.FUTURES,
                amount=demo.to_futures,
                idempotency_key=f"demo:{demo.email}",
            )
    return operator


def _user(email: str, password_hash: Callable[[], str], staff: bool = False) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=None, is_staff=staff)
        user.password = password_hash()
        user.save(update_fields=["password"])
    return user
