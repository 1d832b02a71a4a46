"""Recording ledger audits."""

import logging

from accounts.models import LedgerAuditRun
from accounts.selectors import ledger_audit

logger = logging.getLogger(__name__)


def ledger_audit_record() -> LedgerAuditRun:
    """Run the ledger audit and store its report; log an error when it finds a violation."""
    report = ledger_audit()
    run = LedgerAuditRun.objects.create(ok=report.ok, report=report.as_dict())
    if not report.ok:
        logger.error("ledger audit %s found violations: %s", run.pk, report.as_dict())
    return run
