"""Row locks of vouchers, in one order: the campaign row, then its vouchers by id, then ledger rows
(user accounts before platform accounts, by id, through ``accounts.lock_objects``)."""

from __future__ import annotations

from collections.abc import Iterable

from vouchers.models import Campaign, Voucher


def lock_campaign(campaign_id: int) -> Campaign:
    return Campaign.objects.select_for_update().get(pk=campaign_id)


def lock_vouchers(voucher_ids: Iterable[int], **state) -> list[Voucher]:
    """The listed vouchers (still in ``state``, if given), locked in id order."""
    return list(
        Voucher.objects.filter(pk__in=sorted(set(voucher_ids)), **state)
        .select_related("campaign")
        .order_by("pk")
        .select_for_update(of=("self",))
    )
