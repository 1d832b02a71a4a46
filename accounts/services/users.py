"""Sign-up."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from accounts.models import User
from accounts.services.accounts import user_open_default_accounts
from config.errors import InvalidInput, ServiceError


def user_register(*, email: str, password: str) -> User:
    """Create a follower with its spot and futures accounts.

    The password goes through Django's validators; an email already in use is refused.
    """
    email = User.objects.normalize_email((email or "").strip()).lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput("email", "enter a valid email address") from None
    candidate = User(email=email)
    try:
        validate_password(password, user=candidate)
    except ValidationError as exc:
        raise ServiceError("password: " + " ".join(exc.messages), fields={"password": list(exc.messages)}) from None
    with transaction.atomic():
        if User.objects.filter(email=email).exists():
            raise InvalidInput("email", "a user with this email already exists", code="email_taken")
        user = User.objects.create_user(email=email, password=password)
        user_open_default_accounts(user=user)
    return user
