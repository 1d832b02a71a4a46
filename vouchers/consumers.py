"""The vouchers' consumer of the venue's "position closed" events (``copytrading.futures.events``)."""

from __future__ import annotations

from copytrading.futures.events import register_batch_consumer
from vouchers.services.loss_coverage import loss_coverage_apply
from vouchers.services.triggers import closes_decide


@register_batch_consumer("vouchers.triggers")
def triggers_on_closes(payloads: list[dict]) -> None:
    """Losing and liquidated copy closes trigger the coverage vouchers of the users holding them (R-VC-04 … 06)."""
    closes_decide(payloads=payloads)


@register_batch_consumer("vouchers.loss_coverage")
def loss_coverage_on_closes(payloads: list[dict]) -> None:
    """Losing closes on users' main futures accounts use their loss-coverage vouchers (R-LC-02 … R-LC-04).

    The batch names the users; their closes are read from the venue and walked in (closed_at, close id)
    order, so "first" does not depend on which event arrives first (R-VC-06)."""
    loss_coverage_apply(payloads=payloads)
