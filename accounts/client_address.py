"""The address of the client behind a request, as far as the platform's own proxies vouch for it.

``X-Forwarded-For`` is a list anyone can start: a client may send one with any
addresses it likes, and each proxy on the way appends the address it received
the request from. Only the entries our own proxies (``settings.TRUSTED_PROXIES``)
appended are believed, so they are read from the right: starting at the peer
(``REMOTE_ADDR``), while the current hop is one of our proxies, the entry before
it names who connected to that proxy. The first hop that is not our proxy is the
client. With no trusted proxies the header is ignored entirely.

Addresses feed voucher-abuse review (R-VC-09, R-LC-06): everyone behind one proxy
must not look like one person, and nobody may choose the address it is seen from.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    networks = []
    for proxy in proxies:
        try:
            networks.append(ipaddress.ip_network(proxy.strip(), strict=False))
        except ValueError:
            raise ImproperlyConfigured(f"TRUSTED_PROXIES: {proxy!r} is not an IP address or network") from None
    return tuple(networks)


def _parse(value: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    # A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d: the same client as a.b.c.d.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(request: HttpRequest) -> str:
    """The client's IP address (normalised text), or "" when the peer's own address is unusable.

    Walks ``X-Forwarded-For`` from the right only through hops inside ``TRUSTED_PROXIES``;
    a malformed entry ends the walk at the last good hop.
    """
    hop = _parse(request.META.get("REMOTE_ADDR") or "")
    if hop is None:
        return ""
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    if not networks:
        return str(hop)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    entries = forwarded.split(",") if forwarded.strip() else []
    for entry in reversed(entries):
        if not any(hop in network for network in networks):
            break
        previous = _parse(entry)
        if previous is None:
            break
        hop = previous
    return str(hop)
