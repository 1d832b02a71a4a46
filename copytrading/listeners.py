"""The copy engine's listeners on the futures venue (``copytrading.futures.hooks``), registered at app start.

- A lead trader's fill is watched: the venue records the lead's equity just
  before it (Smart Ratio sizing), notes why an open will not be copied
  (partly filled, R-CT-12; within the frequency limit, R-CT-15; lead
  suspended), and the fan-out is queued when the fill commits.
- After a risk sweep, the followings with a Net Value Guardian holding a copy
  in the swept market are checked and stopped when breached (R-CT-06).
"""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from accounts.models import AccountKind, LedgerAccount
from config.queueing import enqueue_on_commit
from copytrading.futures import hooks
from copytrading.futures.models import Order
from copytrading.models import CopySettings, LeadTrader, LeadTraderStatus, NotFollowedReason
from copytrading.services.guardian import guardian_enforce


def lead_of(account: LedgerAccount) -> LeadTrader | None:
    """The lead trader whose futures account this is, when its fills are copied."""
    if account.kind != AccountKind.FUTURES:
        return None
    lead = LeadTrader.objects.filter(user_id=account.owner_id).first()
    if lead is None or lead.status == LeadTraderStatus.APPROVED:
        return lead
    # Suspended: its opens are not copied, but followers' copies must still follow its closes.
    return (
        lead
        if lead.status == LeadTraderStatus.SUSPENDED and lead.followings.exclude(status="stopped").exists()
        else None
    )


class LeadFills:
    """The fill watcher: a lead's fills are copied to its followings."""

    def watches(self, account: LedgerAccount) -> LeadTrader | None:
        return lead_of(account)

    def note(self, lead: LeadTrader, *, filled: Decimal, requested: Decimal, opens: bool) -> str:
        """Why a lead's open is not copied: partly filled (R-CT-12) or within the frequency limit (R-CT-15)."""
        if not opens:
            return ""
        if lead.status != LeadTraderStatus.APPROVED:
            return NotFollowedReason.LEAD_SUSPENDED
        now = timezone.now()
        last = lead.last_open_at
        LeadTrader.objects.filter(pk=lead.pk).update(last_open_at=now)
        if filled < requested:
            return NotFollowedReason.PARTIAL_FILL
        limit = CopySettings.current().frequency_limit_seconds
        if last is not None and (now - last).total_seconds() < limit:
            return NotFollowedReason.FREQUENCY
        return ""

    def filled(self, lead: LeadTrader, *, order: Order) -> None:
        enqueue_on_commit("copytrading.copy_fanout", order.pk)


LEAD_FILLS = LeadFills()


def guarded_copies_checked(*, slots: list[int], key: str) -> None:
    """A sweep moved the mark under guarded copies: enforce their followings' guardians (R-CT-06)."""
    guardian_enforce(following_ids=slots, key=key)


def register() -> None:
    hooks.register_fill_watcher(LEAD_FILLS)
    hooks.register_guard_listener(guarded_copies_checked)
