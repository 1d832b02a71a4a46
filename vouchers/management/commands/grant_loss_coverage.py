"""`manage.py grant_loss_coverage CAMPAIGN_ID FILE.csv --by EMAIL --reason TEXT`: grant loss-coverage vouchers
to the users listed in a CSV file. (R-LC-01, R-VC-09, R-OP-01)

The file holds one user id per row in its first column and may start with a
``user_id`` header. The whole file is checked before anything is granted, so a bad
file changes nothing. Grants run in batches, each its own transaction; the key
defaults to the file's content, so running the same file again grants nobody
twice (``--key`` names another grant run of the same users, where the campaign's
per-user limit allows it). The report counts granted, already granted, unknown ids
and refusals with their reasons.
"""

from __future__ import annotations

import csv
import hashlib
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.models import User
from config.errors import ServiceError
from vouchers.models import Campaign
from vouchers.services.loss_coverage import loss_coverage_grant_many

HEADER = "user_id"
GRANT_PERMISSION = "vouchers.change_campaign"
# Refusals listed one by one; the rest are counted.
SHOWN = 20


def read_user_ids(path: Path) -> list[int]:
    """The user ids of the file, in order; raise ``CommandError`` naming the first bad line."""
    ids: list[int] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            for fields in reader:
                value = fields[0].strip() if fields else ""
                if not value:
                    continue
                if not ids and value.lower() == HEADER:
                    continue
                if not value.isascii() or not value.isdigit() or int(value) == 0:
                    raise CommandError(f"line {reader.line_num}: {value!r} is not a user id")
                ids.append(int(value))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CommandError(f"cannot read {path}: {exc}") from exc
    if not ids:
        raise CommandError(f"{path} holds no user ids (one per row, optionally under a {HEADER!r} header)")
    return ids


class Command(BaseCommand):
    help = (
        "Grant loss-coverage vouchers of a live loss-coverage campaign to the user ids of a CSV file "
        "(one per row); each grant reserves the campaign's face value. Needs --by a campaign operator and --reason."
    )

    def add_arguments(self, parser):
        parser.add_argument("campaign", type=int, help="The campaign's id.")
        parser.add_argument("file", type=Path, help="CSV file of user ids, one per row (optional user_id header).")
        parser.add_argument("--by", metavar="EMAIL", required=True, help="The operator granting them.")
        parser.add_argument("--reason", required=True, help="Why (recorded with every voucher).")
        parser.add_argument("--key", help="The grant run's key (default: derived from the file's content).")

    def handle(self, *args, campaign: int, file: Path, by: str, reason: str, key: str | None, **options):
        actor = User.objects.filter(email=by.strip().lower()).first()
        if actor is None:
            raise CommandError(f"--by: no user with the email {by!r}")
        if not (actor.is_active and actor.is_staff and actor.has_perm(GRANT_PERMISSION)):
            raise CommandError(f"--by: {actor.email} is not a campaign operator ({GRANT_PERMISSION})")
        target = Campaign.objects.filter(pk=campaign).first()
        if target is None:
            raise CommandError(f"no campaign {campaign}")
        ids = read_user_ids(file)
        key = key or "csv:" + hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:32]

        with tqdm(total=len(ids), unit="user", file=sys.stderr, disable=None) as bar:

            def progress(done: int, total: int) -> None:
                bar.update(done - bar.n)

            try:
                report = loss_coverage_grant_many(
                    campaign=target, user_ids=ids, actor=actor, reason=reason, key=key, progress=progress
                )
            except ServiceError as exc:
                raise CommandError(exc.detail) from None

        self.stdout.write(
            f"campaign {target.pk} ({target.name}), key {key}: granted {len(report.granted)}, "
            f"already granted {len(report.already)}, unknown {len(report.unknown)}, refused {len(report.refused)}"
        )
        if report.unknown:
            shown = ", ".join(map(str, report.unknown[:SHOWN]))
            more = f" and {len(report.unknown) - SHOWN} more" if len(report.unknown) > SHOWN else ""
            self.stdout.write(self.style.WARNING(f"unknown user ids: {shown}{more}"))
        for uid, why in list(report.refused.items())[:SHOWN]:
            self.stdout.write(self.style.WARNING(f"refused user {uid}: {why}"))
        if len(report.refused) > SHOWN:
            self.stdout.write(self.style.WARNING(f"… and {len(report.refused) - SHOWN} more refused"))
