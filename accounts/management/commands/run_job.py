from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from accounts.jobs import job_at_parse, job_run_execute, job_run_request
from accounts.models import JobRunStatus, JobRunVia, User
from config.errors import ServiceError
from config.schedules import JOBS


class Command(BaseCommand):
    help = (
        "Run a periodic job now, or with --at for the period its crontab last fired at or before that time "
        "(a run beat missed); the run is recorded. Jobs that move money need --by a Finance operator and --reason."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help=f"The job: {', '.join(job.name for job in JOBS)}.")
        parser.add_argument("--at", help="ISO time with offset, e.g. 2026-11-22T16:00:00+00:00 (default: now).")
        parser.add_argument("--by", metavar="EMAIL", help="The operator running it (required if it moves money).")
        parser.add_argument("--reason", default="", help="Why (required if it moves money).")

    def handle(self, *args, name: str, at: str | None, by: str | None, reason: str, **options):
        actor = None
        if by:
            actor = User.objects.filter(email=by.strip().lower()).first()
            if actor is None:
                raise CommandError(f"--by: no user with the email {by!r}")
        try:
            run = job_run_request(
                name=name,
                at=job_at_parse(at) if at else None,
                actor=actor,
                reason=reason,
                via=JobRunVia.COMMAND,
            )
        except ServiceError as exc:
            raise CommandError(exc.detail) from None
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from None
        period, asked = run.period.isoformat(), run.at.isoformat()
        self.stdout.write(f"run #{run.pk}: {run.job} for the period {period}, asked for {asked}")
        run = job_run_execute(run_id=run.pk)
        if run.status != JobRunStatus.SUCCEEDED:
            raise CommandError(f"run #{run.pk} failed: {run.error}")
        self.stdout.write(self.style.SUCCESS(f"run #{run.pk} succeeded: {run.result}"))
