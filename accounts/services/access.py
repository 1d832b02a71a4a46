"""Where users register and log in from, kept for voucher-abuse review (R-VC-09, R-LC-06)."""

from __future__ import annotations

from accounts.models import AccessKind, AccessRecord, User


def access_record(*, user: User, kind: AccessKind | str, address: str) -> AccessRecord:
    """Record that ``user`` registered or logged in (``kind``) from ``address``.

    ``address`` is what ``accounts.client_address.client_address`` found for the request;
    callers skip the record when it found none (a request without a peer address).
    """
    return AccessRecord.objects.create(user=user, kind=AccessKind(kind), address=address)
