"""Loss-coverage vouchers on manual futures trading: operators grant them (``grants``), losing closes on the
main futures account use them (``apply``), the 00:05 UTC run credits the compensations and unused amounts
expire (``credit``). (R-LC-01 … R-LC-06, R-VC-09)

Money (R-VC-09): a grant moves the voucher's total amount from the campaign's
available account to its reserved account. Applying a voucher moves no money:
what a close uses passes from the voucher's remaining amount to a pending
``Compensation``, both reserved. The daily run pays pending compensations from the
reserved account to the user's spot account (entry kind ``loss_compensation``, one
of the identity's payout kinds), or withholds them from users disabled for voucher
abuse and releases their amount to available; expiry releases what remains. So at
every moment the reserved balance is Σ remaining of active vouchers + Σ pending
compensations (``loss_coverage_reserved``), beside what the coverage vouchers reserve.

Row locks follow ``vouchers.lock_objects``: the campaign row, then vouchers (or
compensations) by id, then ledger rows — every ledger row a transaction needs is
locked in one ``lock_accounts`` call (user accounts, then platform ones, by id).
"""

from vouchers.services.loss_coverage.apply import MIN_LOSS, loss_coverage_apply, loss_coverage_settle
from vouchers.services.loss_coverage.credit import (
    CREDIT_BATCH,
    EXPIRY_BATCH,
    compensations_credit_due,
    compensations_withhold,
    loss_coverage_expire_due,
    loss_coverage_reserved,
    utc_day_start,
)
from vouchers.services.loss_coverage.grants import (
    GRANT_BATCH,
    GrantReport,
    Progress,
    loss_coverage_grant,
    loss_coverage_grant_many,
)

__all__ = [
    "CREDIT_BATCH",
    "EXPIRY_BATCH",
    "GRANT_BATCH",
    "MIN_LOSS",
    "GrantReport",
    "Progress",
    "compensations_credit_due",
    "compensations_withhold",
    "loss_coverage_apply",
    "loss_coverage_expire_due",
    "loss_coverage_grant",
    "loss_coverage_grant_many",
    "loss_coverage_reserved",
    "loss_coverage_settle",
    "utc_day_start",
]
