"""The vouchers benchmark's data: N copy traders holding coverage vouchers, an open copy each, and pending payouts.

Used by ``bench/vouchers.py``; what it builds is described in bench/README.md.

Per user: a Smart Ratio following of one lead (FOLLOW sub-account, ref
"smart:<lead>"; its isolated-margin account, ref = the sub-account's id; the
``Following``), one open isolated BTCUSDT copy position in the following's slot,
one or two claimed coverage vouchers (liquidation, first-loss or both) and one
voucher of an earlier campaign already triggered, with its pending payout.
Every 100th position (exactly 1 %) is a 50x long that a 3 % fall liquidates.

The money, so that ``ledger_audit()`` and the campaign budget identity hold
throughout: each campaign is funded once through ``campaign_fund`` (marketing →
available); per chunk, one compound entry from external custody pays the
sub-accounts and margin accounts, one compound ``voucher_reserve`` entry moves the
face value of the chunk's vouchers from available to reserved (per campaign), and
one ``voucher_release`` entry gives back what the earlier campaign's triggered
vouchers do not pay (face value − payout), as the trigger does.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

CHUNK = 5000  # users created per transaction
SYMBOL = "BTCUSDT"
LIQUIDATION_FACE = Decimal("100")
FIRST_LOSS_FACE = Decimal("50")
EARLIER_FACE = Decimal("80")  # the earlier first-loss campaign whose triggered vouchers wait for the daily run
VALIDITY_DAYS = 7
SYNTHETIC_CLOSE_BASE = 10**12  # the earlier campaign's vouchers name closes the benchmark does not build
# Voucher groups: (name, weight in %, kinds held). The doomed 1 % cycle through them in order.
GROUPS = [
    ("liquidation", 40, ("liquidation",)),
    ("first_loss", 40, ("first_loss",)),
    ("both", 20, ("liquidation", "first_loss")),
]


@dataclass
class Built:
    """What the builder made, for the checks: ids by user index, and the campaigns."""

    campaigns: dict[str, object] = field(default_factory=dict)  # "liquidation", "first_loss", "earlier"
    users: list[int] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    followings: list[int] = field(default_factory=list)
    doomed: list[int] = field(default_factory=list)  # user indexes
    kinds: list[tuple[str, ...]] = field(default_factory=list)
    vouchers: list[dict[str, int]] = field(default_factory=list)  # user index → {kind: voucher id}
    payouts: list[int] = field(default_factory=list)  # the earlier campaign's pending payouts
    payout_amounts: list[Decimal] = field(default_factory=list)
    serviced: dict[str, int] = field(default_factory=dict)  # kind → the voucher claimed through voucher_claim
    claimed_at: list[datetime] = field(default_factory=list)


def _dec(value: float, places: str = "0.00000001") -> Decimal:
    return Decimal(repr(value)).quantize(Decimal(places), rounding=ROUND_DOWN)


def _position_spec(i: int, k: int, rng: random.Random, market, p0: Decimal) -> dict:
    """Position ``i``: the first index of every hundred (k of them) is a doomed 50x long, all isolated.

    Doomed: entry 0.995–1 P0, margin qE/50, so the liquidation price lies above 0.975 P0 and a
    tick to 0.97 P0 liquidates it (at a trading loss, so a first-loss voucher can use it too).
    Others: entry 0.99–1.01 P0, leverage ≤ 20x, margin qE/L: a long's liquidation price lies
    below 0.96 P0, a short's above 1.04 P0; neither the crash nor the warm-up tick reaches them.
    """
    from copytrading.futures import margin as m

    doomed = i % 100 == 0 and i // 100 < k
    if doomed:
        side, leverage, entry_factor = "long", 50, rng.uniform(0.995, 1.0)
    else:
        side = "long" if rng.random() < 0.5 else "short"
        leverage, entry_factor = rng.choice((1, 2, 3, 5, 10, 20)), rng.uniform(0.99, 1.01)
    entry = m.round_price(p0 * _dec(entry_factor), market.price_tick, up=False)
    qty = max(m.round_step_down(_dec(rng.uniform(200, 20000)) / entry, market.qty_step), market.min_qty)
    margin = m.initial_margin(qty=qty, price=entry, leverage=leverage)
    liquidation = m.isolated_liquidation_price(
        sign=1 if side == "long" else -1,
        qty=qty,
        entry=entry,
        margin=margin,
        mmr=market.maintenance_margin_rate,
        tick=market.price_tick,
    )
    free = _dec(float(margin) * rng.uniform(0.1, 1.0), "0.01")  # what the sub-account holds besides
    if doomed:
        group = GROUPS[(i // 100) % len(GROUPS)]
    else:
        group = rng.choices(GROUPS, weights=[w for _n, w, _k in GROUPS])[0]
    return {
        "doomed": doomed,
        "side": side,
        "leverage": leverage,
        "entry": entry,
        "qty": qty,
        "margin": margin,
        "free": free,
        "liquidation": liquidation,
        "kinds": group[2],
        "claimed_ago": timedelta(hours=24 + rng.uniform(0, 12)),
        "payout": _dec(rng.uniform(1, float(EARLIER_FACE)), "0.01"),
        "triggered_ago": timedelta(minutes=rng.uniform(60, 20 * 60)),  # before the day the run issues
    }


def campaigns_create(n_specs: list[dict], *, now: datetime, tag: str) -> dict:
    """The operator, the three campaigns (created, funded once each through ``campaign_fund``, published)."""
    from accounts.models import User
    from vouchers.services.campaigns import campaign_create, campaign_fund, campaign_publish

    operator = User.objects.create(email=f"vouchers-operator-{tag}@bench.invalid", password="!")
    need = {
        "liquidation": LIQUIDATION_FACE * sum("liquidation" in sp["kinds"] for sp in n_specs),
        "first_loss": FIRST_LOSS_FACE * sum("first_loss" in sp["kinds"] for sp in n_specs),
        "earlier": EARLIER_FACE * len(n_specs),
    }
    faces = {"liquidation": LIQUIDATION_FACE, "first_loss": FIRST_LOSS_FACE, "earlier": EARLIER_FACE}
    campaigns = {}
    for name, kind in (("liquidation", "liquidation"), ("first_loss", "first_loss"), ("earlier", "first_loss")):
        budget = need[name] + faces[name] * 10  # room for a few more claims
        campaign = campaign_create(
            actor=operator,
            reason="benchmark",
            name=f"bench {name} {tag}"[:120],
            kind=kind,
            face_value=faces[name],
            budget=budget,
            promotion_starts_at=now - timedelta(days=10),
            promotion_ends_at=now + timedelta(days=10),
            claim_deadline=now + timedelta(days=10),
            validity_days=VALIDITY_DAYS,
        )
        campaign_fund(campaign=campaign, amount=budget, actor=operator, reason="benchmark", idempotency_key="bench")
        campaigns[name] = campaign_publish(campaign=campaign, actor=operator, reason="benchmark")
    return campaigns


def build(n: int, *, seed: int, progress: bool) -> Built:
    """Create the users, followings, positions, vouchers and payouts of the benchmark; return their ids."""
    from django.db import transaction
    from django.utils import timezone
    from tqdm import tqdm

    from accounts.models import AccountKind, LedgerAccount, User
    from accounts.services.accounts import platform_account
    from accounts.services.ledger import Leg, entry_post
    from bench.fanout_build import lead_create
    from config.clock import platform_day_start
    from config.db import copy_insert
    from copytrading.futures.models import MarginMode, Market, Position, PositionSide
    from copytrading.models import Following, FollowMode
    from vouchers.ledger import campaign_accounts
    from vouchers.models import Payout, PayoutState, Voucher, VoucherState
    from vouchers.services.claims import voucher_claim

    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not a secret
    tag = f"{seed}-{timezone.now().timestamp():.6f}".replace(".", "")
    market = Market.objects.get(symbol=SYMBOL)
    p0, k = market.mark_price, n // 100
    now = timezone.now()
    day_start = platform_day_start(now)
    specs = [_position_spec(i, k, rng, market, p0) for i in range(n)]
    lead, _wallet = lead_create(n, tag=tag)
    campaigns = campaigns_create(specs, now=now, tag=tag)
    accounts = {name: campaign_accounts(c) for name, c in campaigns.items()}
    custody = platform_account(kind=AccountKind.EXTERNAL_CUSTODY)
    faces = {"liquidation": LIQUIDATION_FACE, "first_loss": FIRST_LOSS_FACE}
    # The first holder of each kind claims through the service; the checks compare the bulk-built ones with it.
    serviced = {kind: next(i for i, sp in enumerate(specs) if kind in sp["kinds"]) for kind in faces}
    out = Built(campaigns=campaigns)

    with tqdm(total=n, unit="user", desc="users", disable=not progress, file=sys.stderr) as bar:
        for start in range(0, n, CHUNK):
            chunk = specs[start : start + CHUNK]
            with transaction.atomic():
                users = User.objects.bulk_create(
                    [User(email=f"vch-{tag}-{start + j}@bench.invalid", password="!") for j in range(len(chunk))],
                    batch_size=2000,
                )
                subs = [LedgerAccount(owner=u, kind=AccountKind.FOLLOW, ref=f"smart:{lead.pk}") for u in users]
                copy_insert(LedgerAccount, subs, assign_ids=True)
                margins = [
                    LedgerAccount(owner=u, kind=AccountKind.POSITION_MARGIN, ref=str(s.pk))
                    for u, s in zip(users, subs, strict=True)
                ]
                copy_insert(LedgerAccount, margins, assign_ids=True)
                followings = [
                    Following(
                        follower=u, lead=lead, mode=FollowMode.SMART, sub_account=s, invested=sp["free"] + sp["margin"]
                    )
                    for u, s, sp in zip(users, subs, chunk, strict=True)
                ]
                copy_insert(Following, followings, assign_ids=True)
                positions = [
                    Position(
                        account=s,
                        market=market,
                        slot=f.pk,
                        side=PositionSide.LONG if sp["side"] == "long" else PositionSide.SHORT,
                        qty=sp["qty"],
                        entry_price=sp["entry"],
                        leverage=sp["leverage"],
                        margin_mode=MarginMode.ISOLATED,
                        margin=sp["margin"],
                        liquidation_price=sp["liquidation"],
                    )
                    for s, f, sp in zip(subs, followings, chunk, strict=True)
                ]
                copy_insert(Position, positions, assign_ids=True)
                legs = [Leg(s.pk, sp["free"]) for s, sp in zip(subs, chunk, strict=True)]
                legs += [Leg(mg.pk, sp["margin"]) for mg, sp in zip(margins, chunk, strict=True)]
                legs.append(Leg(custody.pk, -sum(leg.amount for leg in legs)))
                entry_post(
                    kind="bench_funding",
                    idempotency_key=f"bench-vouchers:{tag}:{start}:funding",
                    legs=legs,
                    reference="bench",
                    reason="vouchers benchmark funding",
                )

                # Claimed coverage vouchers, as voucher_claim makes them (one of each kind through it).
                vouchers, reserved = [], {name: Decimal(0) for name in faces}
                by_user: list[dict[str, Voucher]] = []
                claims_now: list[tuple[int, str]] = []
                for j, (u, sp) in enumerate(zip(users, chunk, strict=True)):
                    claimed_at = now - sp["claimed_ago"]
                    mine = {}
                    for kind in sp["kinds"]:
                        if serviced[kind] == start + j:
                            claims_now.append((j, kind))
                            continue
                        v = Voucher(
                            campaign=campaigns[kind],
                            user=u,
                            kind=kind,
                            face_value=faces[kind],
                            claimed_at=claimed_at,
                            valid_until=claimed_at + timedelta(days=VALIDITY_DAYS),
                            claim_key=f"bench-{kind}",
                        )
                        vouchers.append(v)
                        mine[kind] = v
                        reserved[kind] += faces[kind]
                    by_user.append(mine)
                # The earlier campaign: claimed, triggered, its payout pending (triggered before today).
                earlier = []
                for j, (u, sp) in enumerate(zip(users, chunk, strict=True)):
                    triggered_at = day_start - sp["triggered_ago"]
                    earlier.append(
                        Voucher(
                            campaign=campaigns["earlier"],
                            user=u,
                            kind="first_loss",
                            face_value=EARLIER_FACE,
                            state=VoucherState.TRIGGERED,
                            claimed_at=triggered_at - timedelta(days=2),
                            valid_until=triggered_at + timedelta(days=VALIDITY_DAYS - 2),
                            claim_key="bench-earlier",
                            ended_at=triggered_at,
                            trigger_close_id=SYNTHETIC_CLOSE_BASE + start + j,
                            reimbursement=sp["payout"],
                        )
                    )
                copy_insert(Voucher, vouchers + earlier, assign_ids=True)
                payouts = [
                    Payout(
                        voucher=v,
                        campaign=campaigns["earlier"],
                        user=u,
                        amount=sp["payout"],
                        state=PayoutState.PENDING,
                        triggered_at=v.ended_at,
                    )
                    for v, u, sp in zip(earlier, users, chunk, strict=True)
                ]
                copy_insert(Payout, payouts, assign_ids=True)
                reserve = []
                for name, amount in (*reserved.items(), ("earlier", EARLIER_FACE * len(chunk))):
                    if amount:
                        reserve += [Leg(accounts[name].available.pk, -amount), Leg(accounts[name].reserved.pk, amount)]
                entry_post(
                    kind="voucher_reserve",
                    idempotency_key=f"bench-vouchers:{tag}:{start}:reserve",
                    legs=reserve,
                    reference="bench",
                    reason="vouchers claimed (benchmark)",
                )
                unused = EARLIER_FACE * len(chunk) - sum(sp["payout"] for sp in chunk)
                entry_post(
                    kind="voucher_release",
                    idempotency_key=f"bench-vouchers:{tag}:{start}:release",
                    legs=[Leg(accounts["earlier"].reserved.pk, -unused), Leg(accounts["earlier"].available.pk, unused)],
                    reference="bench",
                    reason="triggered below face value (benchmark)",
                )
                for j, kind in claims_now:
                    sp = chunk[j]
                    v = voucher_claim(
                        user=users[j],
                        campaign=campaigns[kind],
                        idempotency_key=f"bench-{kind}",
                        now=now - sp["claimed_ago"],
                    )
                    by_user[j][kind] = v
                    out.serviced[kind] = v.pk

                out.users += [u.pk for u in users]
                out.positions += [p.pk for p in positions]
                out.followings += [f.pk for f in followings]
                out.kinds += [sp["kinds"] for sp in chunk]
                out.doomed += [start + j for j, sp in enumerate(chunk) if sp["doomed"]]
                out.vouchers += [{kind: v.pk for kind, v in mine.items()} for mine in by_user]
                out.payouts += [p.pk for p in payouts]
                out.payout_amounts += [sp["payout"] for sp in chunk]
                out.claimed_at += [now - sp["claimed_ago"] for sp in chunk]
            bar.update(len(chunk))
    return out


# --- loss coverage -------------------------------------------------------------------------------

LOSS_FACE = Decimal("50")
LOSS_PARTIAL_SHARE = 0.3  # vouchers partly used by their close, then expired (the rest released)
SYNTHETIC_LOSS_CLOSE_BASE = 2 * 10**12  # the compensations name manual closes the benchmark does not build


@dataclass
class LossBuilt:
    campaign: object = None
    compensations: list[int] = field(default_factory=list)
    users: list[int] = field(default_factory=list)  # the user of each compensation
    amounts: list[Decimal] = field(default_factory=list)
    spots: dict[int, int] = field(default_factory=dict)  # user → spot account
    banned: set[int] = field(default_factory=set)


def loss_build(user_ids: list[int], *, seed: int, progress: bool, banned_every: int = 100) -> LossBuilt:
    """One pending compensation per user, from a loss-coverage campaign granted to each; return the ids.

    Per user: its spot account (every user has one; the run credits it), one loss-coverage
    voucher of the campaign's face value, and one pending ``Compensation`` of a manual close
    before today (UTC): 70 % of the vouchers used up by it (loss ≥ face value, amount = face
    value), 30 % partly used (amount = loss < face value) and expired since, their remainder
    released. Money: the campaign funded once through ``campaign_fund``; per chunk one
    ``voucher_reserve`` entry (available → reserved, the face values granted) and one
    ``voucher_release`` entry (the expired remainders back), so reserved = Σ pending
    compensations. Every ``banned_every``-th user is disabled for voucher abuse through
    ``account_disable_for_abuse`` before its close (the ban withholds pending compensation
    at once, so its compensation came after): the run must withhold it.
    """
    from django.db import transaction
    from django.utils import timezone
    from tqdm import tqdm

    from accounts.models import AccountKind, LedgerAccount, User
    from accounts.services.ledger import Leg, entry_post
    from config.db import copy_insert
    from vouchers.ledger import campaign_accounts
    from vouchers.models import Compensation, LossCoverageVoucher
    from vouchers.models.loss_coverage import CompensationState, LossCoverageState
    from vouchers.services.abuse import account_disable_for_abuse
    from vouchers.services.campaigns import campaign_create, campaign_fund, campaign_publish
    from vouchers.services.loss_coverage import utc_day_start

    rng = random.Random(seed + 7)  # noqa: S311 - reproducible test data, not a secret
    now = timezone.now()
    day_start = utc_day_start(now)
    tag = f"{seed}-{now.timestamp():.6f}".replace(".", "")
    operator = User.objects.create(email=f"loss-operator-{tag}@bench.invalid", password="!")
    budget = LOSS_FACE * (len(user_ids) + 10)
    campaign = campaign_create(
        actor=operator,
        reason="benchmark",
        name=f"bench loss coverage {tag}"[:120],
        kind="loss_coverage",
        face_value=LOSS_FACE,
        budget=budget,
        promotion_starts_at=now - timedelta(days=20),
        promotion_ends_at=now + timedelta(days=10),
        claim_deadline=now + timedelta(days=10),
        validity_days=VALIDITY_DAYS,
    )
    campaign_fund(campaign=campaign, amount=budget, actor=operator, reason="benchmark", idempotency_key="bench")
    campaign = campaign_publish(campaign=campaign, actor=operator, reason="benchmark")
    accounts = campaign_accounts(campaign)
    out = LossBuilt(campaign=campaign)
    # Banned first: a ban withholds pending compensation at once, so these closes came after it.
    for u in user_ids[banned_every - 1 :: banned_every]:
        account_disable_for_abuse(user=User(pk=u), actor=operator, reason="benchmark: voucher abuse")
        out.banned.add(u)
    with tqdm(
        total=len(user_ids), unit="compensation", desc="loss coverage", disable=not progress, file=sys.stderr
    ) as bar:
        for start in range(0, len(user_ids), CHUNK):
            chunk = user_ids[start : start + CHUNK]
            with transaction.atomic():
                spots = [LedgerAccount(owner_id=u, kind=AccountKind.SPOT) for u in chunk]
                copy_insert(LedgerAccount, spots, assign_ids=True)
                vouchers, compensations = [], []
                for j, u in enumerate(chunk):
                    if rng.random() < LOSS_PARTIAL_SHARE:  # partly used, then expired
                        granted = now - timedelta(days=10, hours=rng.uniform(0, 12))
                        closed = granted + timedelta(days=rng.uniform(1, 6))
                        loss = _dec(rng.uniform(1.01, float(LOSS_FACE) - 0.01), "0.01")
                        amount, state, ended = loss, LossCoverageState.EXPIRED, granted + timedelta(days=VALIDITY_DAYS)
                    else:  # used up by its close
                        granted = now - timedelta(days=3, hours=rng.uniform(0, 12))
                        closed = day_start - timedelta(minutes=rng.uniform(60, 20 * 60))
                        loss = _dec(rng.uniform(float(LOSS_FACE), 500), "0.01")
                        amount, state, ended = LOSS_FACE, LossCoverageState.USED_UP, closed
                    v = LossCoverageVoucher(
                        campaign=campaign,
                        user_id=u,
                        total_amount=LOSS_FACE,
                        remaining=LOSS_FACE - amount,
                        state=state,
                        granted_at=granted,
                        expires_at=granted + timedelta(days=VALIDITY_DAYS),
                        granted_by=operator,
                        reason="benchmark",
                        grant_key="bench",
                        ended_at=ended,
                    )
                    vouchers.append(v)
                    compensations.append((v, u, loss, amount, closed, SYNTHETIC_LOSS_CLOSE_BASE + start + j))
                copy_insert(LossCoverageVoucher, vouchers, assign_ids=True)
                rows = [
                    Compensation(
                        voucher=v,
                        campaign=campaign,
                        user_id=u,
                        close_id=close_id,
                        position_id=close_id,
                        loss=loss,
                        amount=amount,
                        state=CompensationState.PENDING,
                        closed_at=closed,
                    )
                    for v, u, loss, amount, closed, close_id in compensations
                ]
                copy_insert(Compensation, rows, assign_ids=True)
                granted_total = LOSS_FACE * len(chunk)
                entry_post(
                    kind="voucher_reserve",
                    idempotency_key=f"bench-loss:{tag}:{start}:reserve",
                    legs=[Leg(accounts.available.pk, -granted_total), Leg(accounts.reserved.pk, granted_total)],
                    reference="bench",
                    reason="loss-coverage vouchers granted (benchmark)",
                )
                released = sum(v.remaining for v in vouchers if v.state == LossCoverageState.EXPIRED)
                if released:
                    entry_post(
                        kind="voucher_release",
                        idempotency_key=f"bench-loss:{tag}:{start}:release",
                        legs=[Leg(accounts.reserved.pk, -released), Leg(accounts.available.pk, released)],
                        reference="bench",
                        reason="loss-coverage vouchers expired (benchmark)",
                    )
                out.compensations += [c.pk for c in rows]
                out.users += list(chunk)
                out.amounts += [c.amount for c in rows]
                out.spots.update({s.owner_id: s.pk for s in spots})
            bar.update(len(chunk))
    return out
