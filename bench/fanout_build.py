"""The fan-out benchmark's data: one lead trader, N followers with mixed settings, and what each should get.

Used by ``bench/fanout.py``; the groups of settings and their expected
outcomes are listed in bench/README.md.
"""

from __future__ import annotations

import math
import random
import sys
from decimal import Decimal

CHUNK = 5000  # followers created per transaction
SYMBOL, OTHER_SYMBOL = "BTCUSDT", "ETHUSDT"
LEAD_EQUITY = Decimal("1000000")
LEAD_QTY = Decimal("1")  # 60,000 USDT at 10x: a follower with 1,000 USDT copies the minimum 0.001 BTC
SLIPPAGE_MOVE = Decimal("0.0015")  # the mark between the lead's fill and the fan-out
CLOSE_MOVE = Decimal("0.001")  # and before the lead's close
SLOT_TIER_EQUITY = 100_000

# (group, weight in %, the reason its open is refused with; "" = followed)
GROUPS: list[tuple[str, int, str]] = [
    ("plain", 37, ""),
    ("isolated", 15, ""),
    ("fixed_leverage", 10, ""),
    ("sl_tp", 5, ""),
    ("guardian", 5, ""),
    ("capped", 5, ""),  # max_position_value cuts the copy down
    ("new_pair", 1, ""),  # follows only ETH but auto-follows new pairs: the lead's first BTC trade joins
    ("pair", 4, "pair_not_followed"),  # follows only ETH, no auto-follow
    ("interrupted", 3, "following_interrupted"),  # equity below the 50 USDT minimum
    ("insufficient", 7, "insufficient_balance"),  # the copy rounds below 0.001 BTC
    ("slippage", 5, "slippage"),  # 0.1 % allowed, the mark moved 0.15 %
    ("position_value", 3, "max_position_value"),  # an ETH copy already worth more than the cap
]
FOLLOWED_SLIPPAGE = [Decimal(s) for s in ("0.002", "0.005", "0.005", "0.01", "0.02", "0.03")]


# --- the lead and its followers --------------------------------------------------------------


def _money(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal("0.01"))


def _spec(i: int, rng: random.Random) -> dict:
    """Follower ``i``: its group, sub-account balance and following settings."""
    if i < len(GROUPS):  # every group appears even at a small N
        group, _w, reason = GROUPS[i]
    else:
        group, _w, reason = rng.choices(GROUPS, weights=[w for _g, w, _r in GROUPS])[0]
    balance = _money(math.exp(rng.uniform(math.log(1000), math.log(20000))))
    settings: dict = {"slippage_ratio": rng.choice(FOLLOWED_SLIPPAGE)}
    if group == "isolated":
        settings["margin_mode"] = "isolated"
    elif group == "fixed_leverage":
        settings.update(leverage_mode="fixed", fixed_leverage=rng.randint(1, 10))
    elif group == "sl_tp":
        settings.update(stop_loss_ratio=Decimal("0.5"), take_profit_ratio=Decimal("1"))
    elif group == "guardian":
        settings["guardian_min_net_value"] = (balance / 2).quantize(Decimal("0.01"))
    elif group == "capped":
        balance = _money(rng.uniform(5000, 20000))
        settings["max_position_value"] = _money(rng.uniform(100, 250))
    elif group == "new_pair":
        settings["pairs"] = [OTHER_SYMBOL]
    elif group == "pair":
        settings.update(pairs=[OTHER_SYMBOL], auto_follow_new_pairs=False)
    elif group == "interrupted":
        balance = _money(rng.uniform(10, 49.99))
    elif group == "insufficient":
        balance = _money(rng.uniform(50, 999.99))
    elif group == "slippage":
        settings["slippage_ratio"] = Decimal("0.001")
    elif group == "position_value":
        settings["max_position_value"] = Decimal("200")
    return {"group": group, "reason": reason, "balance": balance, "settings": settings}


def lead_create(n: int, *, tag: str):
    """An approved lead with LEAD_EQUITY in its futures account; the slot tiers raised so n followers fit."""
    from django.utils import timezone

    from accounts.models import AccountKind, User
    from accounts.services.accounts import account_open, platform_account
    from accounts.services.ledger import Leg, entry_post
    from copytrading.models import CopySettings, LeadTrader, LeadTraderStatus

    settings = CopySettings.current()
    tiers = [t for t in settings.follower_slot_tiers if t[0] < SLOT_TIER_EQUITY]
    top = max([int(t[1]) for t in settings.follower_slot_tiers if t[0] >= SLOT_TIER_EQUITY] + [n])
    settings.follower_slot_tiers = [*tiers, [SLOT_TIER_EQUITY, top]]
    settings.save(update_fields=["follower_slot_tiers"])

    user = User.objects.create(email=f"lead-{tag}@bench.invalid", password="!")
    wallet = account_open(owner=user, kind=AccountKind.FUTURES)
    custody = platform_account(kind=AccountKind.EXTERNAL_CUSTODY)
    entry_post(
        kind="bench_funding",
        idempotency_key=f"bench-fanout:{tag}:lead",
        legs=[Leg(wallet.pk, LEAD_EQUITY), Leg(custody.pk, -LEAD_EQUITY)],
        reference="bench",
        reason="copy fan-out benchmark funding",
    )
    lead = LeadTrader.objects.create(
        user=user,
        nickname=f"bench-{tag}"[:40],
        profit_share_ratio=Decimal("0.1"),
        status=LeadTraderStatus.APPROVED,
        status_reason="benchmark",
        decided_at=timezone.now(),
    )
    return lead, wallet


def followers_create(n: int, lead, other_market, *, seed: int, tag: str, progress: bool) -> list[dict]:
    """Create n followers of ``lead`` in bulk; return their specs with following, sub-account and margin ids.

    Per follower: a user, its Smart Ratio sub-account (FOLLOW, ref "smart:<lead>"), that
    account's isolated-margin account (POSITION_MARGIN, ref = the sub-account's id, as
    order_place and the fan-out would open it), the Following row; the "position_value"
    group also an open cross ETH copy of the same lead worth 300 USDT. The money comes
    from external custody by one balanced compound entry per chunk through ``entry_post``.
    """
    from django.db import transaction
    from tqdm import tqdm

    from accounts.models import AccountKind, LedgerAccount, User
    from accounts.services.accounts import platform_account
    from accounts.services.ledger import Leg, entry_post
    from copytrading.futures import margin as m
    from copytrading.futures.models import MarginMode, Position, PositionSide
    from copytrading.models import Following, FollowMode

    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not a secret
    custody = platform_account(kind=AccountKind.EXTERNAL_CUSTODY)
    specs = [_spec(i, rng) for i in range(n)]
    eth_qty, eth_price = Decimal("0.1"), other_market.mark_price
    with tqdm(total=n, unit="follower", desc="followers", disable=not progress, file=sys.stderr) as bar:
        for start in range(0, n, CHUNK):
            chunk = specs[start : start + CHUNK]
            with transaction.atomic():
                users = User.objects.bulk_create(
                    [User(email=f"fan-{tag}-{start + j}@bench.invalid", password="!") for j in range(len(chunk))],
                    batch_size=2000,
                )
                subs = LedgerAccount.objects.bulk_create(
                    [LedgerAccount(owner=u, kind=AccountKind.FOLLOW, ref=f"smart:{lead.pk}") for u in users],
                    batch_size=2000,
                )
                margins = LedgerAccount.objects.bulk_create(
                    [
                        LedgerAccount(owner=u, kind=AccountKind.POSITION_MARGIN, ref=str(s.pk))
                        for u, s in zip(users, subs, strict=True)
                    ],
                    batch_size=2000,
                )
                followings = Following.objects.bulk_create(
                    [
                        Following(
                            follower=u,
                            lead=lead,
                            mode=FollowMode.SMART,
                            sub_account=s,
                            invested=sp["balance"],
                            **sp["settings"],
                        )
                        for u, s, sp in zip(users, subs, chunk, strict=True)
                    ],
                    batch_size=2000,
                )
                Position.objects.bulk_create(
                    [
                        Position(
                            account=s,
                            market=other_market,
                            slot=f.pk,
                            side=PositionSide.LONG,
                            qty=eth_qty,
                            entry_price=eth_price,
                            leverage=10,
                            margin_mode=MarginMode.CROSS,
                            margin=m.initial_margin(qty=eth_qty, price=eth_price, leverage=10),
                            liquidation_price=m.cross_liquidation_price(
                                legs=[m.Leg(1, eth_qty, eth_price)],
                                cushion=sp["balance"],
                                mmr=other_market.maintenance_margin_rate,
                                tick=other_market.price_tick,
                            ),
                        )
                        for s, f, sp in zip(subs, followings, chunk, strict=True)
                        if sp["group"] == "position_value"
                    ]
                )
                legs = [Leg(s.pk, sp["balance"]) for s, sp in zip(subs, chunk, strict=True)]
                legs.append(Leg(custody.pk, -sum(sp["balance"] for sp in chunk)))
                entry_post(
                    kind="bench_funding",
                    idempotency_key=f"bench-fanout:{tag}:{start}",
                    legs=legs,
                    reference="bench",
                    reason="copy fan-out benchmark funding",
                )
                for sp, f, s, mg in zip(chunk, followings, subs, margins, strict=True):
                    sp.update(following=f.pk, sub=s.pk, margin=mg.pk)
            bar.update(len(chunk))
    return specs


def plan_outcomes(specs: list[dict], order, market, price: Decimal, token_used: Decimal) -> None:
    """Add to each spec the open's expected outcome: reason, or quantity (the token limit taken in id order)."""
    from copytrading.futures import margin as m

    for sp in sorted(specs, key=lambda s: s["following"]):
        sp["expected_reason"], sp["expected_qty"] = sp["reason"], None
        if sp["reason"]:
            continue
        qty, limited_by = LEAD_QTY * sp["balance"] / order.lead_equity, "insufficient_balance"
        cap = sp["settings"].get("max_position_value")
        if cap is not None and cap / price < qty:
            qty, limited_by = cap / price, "max_position_value"
        qty = m.round_step_down(qty, market.qty_step)
        if qty < market.min_qty:
            sp["expected_reason"] = limited_by
            continue
        if market.token_follow_limit is not None and token_used + qty * price > market.token_follow_limit:
            sp["expected_reason"] = "token_limit"
            continue
        token_used += qty * price
        sp["expected_qty"] = qty
