"""Every route of the API, classified once: who may call each method, and which methods move money.

Tests read this table (tests/config/test_api_routes.py): a route under
``/api/v1/`` that is not listed here, or a listed method the view does not
serve, fails them; every method is then called as the table says it may be
(anonymous, another user, a non-operator) and every money-moving method
without an ``Idempotency-Key``. A new route must therefore be classified here
before it can ship.

- ``PUBLIC``: anyone, no login.
- ``AUTHENTICATED``: any logged-in user, acting on its own data only.
- ``OBJECT``: a logged-in user, on an object named in the path that must be
  its own; anyone else's answers 404.
- ``OPERATOR``: staff holding the route's permission; anyone else gets 403.

``money`` lists the methods that move money: they need an Idempotency-Key
(their views mix in ``accounts.idempotency.MoneyMovingApi``), previews included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Access(StrEnum):
    PUBLIC = "public"
    AUTHENTICATED = "authenticated"
    OBJECT = "object"
    OPERATOR = "operator"


@dataclass(frozen=True)
class Route:
    methods: dict[str, Access]
    money: frozenset[str] = field(default_factory=frozenset)


def route(*, money: tuple[str, ...] = (), **methods: Access) -> Route:
    return Route(methods=dict(methods), money=frozenset(money))


PUBLIC, AUTHENTICATED, OBJECT, OPERATOR = Access.PUBLIC, Access.AUTHENTICATED, Access.OBJECT, Access.OPERATOR

ROUTES: dict[str, Route] = {
    # auth and the user's own money
    "api-register": route(POST=PUBLIC),
    "api-token": route(POST=PUBLIC, DELETE=AUTHENTICATED),
    "api-me": route(GET=AUTHENTICATED),
    "api-accounts": route(GET=AUTHENTICATED),
    "api-account-records": route(GET=OBJECT),
    "api-transfers": route(POST=AUTHENTICATED, money=("POST",)),
    "api-withdrawals": route(GET=AUTHENTICATED, POST=AUTHENTICATED, money=("POST",)),
    # markets, orders, positions
    "api-markets": route(GET=PUBLIC),
    "api-market-prices": route(GET=PUBLIC),
    "api-market-settings": route(GET=AUTHENTICATED, PUT=AUTHENTICATED),
    "api-orders": route(GET=AUTHENTICATED, POST=AUTHENTICATED, money=("POST",)),
    "api-positions": route(GET=AUTHENTICATED),
    "api-position-close": route(POST=OBJECT, money=("POST",)),
    "api-position-margin": route(POST=OBJECT, money=("POST",)),
    "api-position-tpsl": route(POST=OBJECT, money=("POST",)),
    # lead traders and the public trader pages
    "api-lead-traders": route(POST=AUTHENTICATED),
    "api-lead-trader-me": route(GET=AUTHENTICATED),
    "api-lead-trader-income": route(GET=AUTHENTICATED),
    "api-traders": route(GET=PUBLIC),
    "api-traders-leaderboard": route(GET=PUBLIC),
    "api-trader": route(GET=PUBLIC),
    "api-trader-stats": route(GET=PUBLIC),
    "api-trader-equity": route(GET=PUBLIC),
    # followings
    "api-followings": route(GET=AUTHENTICATED, POST=AUTHENTICATED, money=("POST",)),
    "api-following": route(GET=OBJECT, PATCH=OBJECT),
    "api-following-funds": route(POST=OBJECT, money=("POST",)),
    "api-following-withdrawals": route(POST=OBJECT, money=("POST",)),
    "api-following-stop": route(POST=OBJECT, money=("POST",)),
    "api-following-decisions": route(GET=OBJECT),
    "api-following-records": route(GET=OBJECT),
    "api-following-stats": route(GET=OBJECT),
    "api-following-equity": route(GET=OBJECT),
    # vouchers: claiming is app-only (R-VC-02); a claim reserves a campaign's money
    "api-voucher-campaigns": route(GET=AUTHENTICATED),
    "api-voucher-claims": route(POST=AUTHENTICATED, money=("POST",)),
    "api-vouchers": route(GET=AUTHENTICATED),
    "api-voucher": route(GET=OBJECT),
    # Loss-coverage vouchers (R-LC-01): read-only, web or app; granted by operators, applied automatically.
    "api-voucher-loss-coverage": route(GET=AUTHENTICATED),
    # Payout (experience) vouchers: claimed in the app only; claiming moves no money (the amount stays reserved).
    "api-voucher-payouts": route(GET=AUTHENTICATED),
    "api-voucher-payout-claim": route(POST=OBJECT),
    # operators
    "api-ops-deposits": route(POST=OPERATOR, money=("POST",)),
    "api-ops-withdrawal-approve": route(POST=OPERATOR, money=("POST",)),
    "api-ops-withdrawal-reject": route(POST=OPERATOR, money=("POST",)),
    "api-ops-prices": route(POST=OPERATOR, money=("POST",)),
    "api-ops-markets": route(GET=OPERATOR, POST=OPERATOR),
    "api-ops-market": route(PATCH=OPERATOR),
    "api-ops-jobs": route(GET=OPERATOR),
    # A manual run of a periodic job may pay (funding, the daily profit share): keyed like any money move.
    "api-ops-job-runs": route(GET=OPERATOR, POST=OPERATOR, money=("POST",)),
    "api-ops-lead-trader-approve": route(POST=OPERATOR),
    "api-ops-lead-trader-suspend": route(POST=OPERATOR),
    # Voucher campaigns: publish, pause and end move no money; a funding does (R-VC-09).
    "api-ops-campaigns": route(GET=OPERATOR, POST=OPERATOR),
    "api-ops-campaign": route(GET=OPERATOR, PATCH=OPERATOR),
    "api-ops-campaign-publish": route(POST=OPERATOR),
    "api-ops-campaign-pause": route(POST=OPERATOR),
    "api-ops-campaign-end": route(POST=OPERATOR),
    "api-ops-campaign-fundings": route(POST=OPERATOR, money=("POST",)),
    "api-ops-campaign-flags": route(GET=OPERATOR),
    # Payout review: holding and releasing move no money; rejecting and a voucher-abuse ban release reservations.
    "api-ops-payouts": route(GET=OPERATOR),
    "api-ops-payout-hold": route(POST=OPERATOR),
    "api-ops-payout-release": route(POST=OPERATOR),
    "api-ops-payout-reject": route(POST=OPERATOR, money=("POST",)),
    "api-ops-voucher-bans": route(POST=OPERATOR, money=("POST",)),
}
