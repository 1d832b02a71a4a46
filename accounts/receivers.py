"""Signal receivers of the accounts app, connected in ``AccountsConfig.ready()``."""

from __future__ import annotations

from django.http import HttpRequest

from accounts.client_address import client_address
from accounts.models import AccessKind, User
from accounts.services.access import access_record


def record_web_login(sender, *, request: HttpRequest | None, user: User, **kwargs) -> None:
    """Record the client address of a login through a Django login view (the web app, the admin).

    The API's token login never calls ``django.contrib.auth.login``, so it does not reach here:
    it records its own login. A login without a real request (the test client's
    ``force_login``) has no peer address and is not recorded.
    """
    address = client_address(request) if request is not None else ""
    if address:
        access_record(user=user, kind=AccessKind.LOGIN, address=address)
