import json
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError

from accounts.selectors import ledger_audit


class Command(BaseCommand):
    help = "Prove the ledger: entries balance, cached balances equal postings, no user is negative, all sums to zero."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the full report as JSON.")

    def handle(self, *args, **options):
        report = ledger_audit()
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
        self.stdout.write(f"entries {report.entries}, postings {report.postings}, accounts {report.accounts}")
        checks = [
            ("every entry balances", not report.unbalanced_entries, report.unbalanced_entries),
            ("cached balances equal postings", not report.balance_mismatches, report.balance_mismatches),
            ("held amounts equal active holds", not report.held_mismatches, report.held_mismatches),
            ("no user account is negative", not report.negative_user_accounts, report.negative_user_accounts),
            (
                "the system sums to zero",
                all(Decimal(v) == 0 for v in report.system_totals.values()),
                report.system_totals,
            ),
        ]
        checks += [(name, not problems, problems) for name, problems in report.app_checks.items()]
        for label, ok, detail in checks:
            self.stdout.write(f"  [{'ok' if ok else 'FAIL'}] {label}" + ("" if ok else f": {detail}"))
        if not report.ok:
            raise CommandError("ledger audit failed")
        self.stdout.write(self.style.SUCCESS("ledger audit clean"))
