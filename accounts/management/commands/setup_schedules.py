from django.core.management.base import BaseCommand

from config.schedules import JOBS, register_schedules


class Command(BaseCommand):
    help = "Register the platform's periodic jobs in the beat database (idempotent; keeps operators' edits)."

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="Restore every job to its coded schedule.")

    def handle(self, *args, reset: bool = False, **options):
        changed = register_schedules(reset=reset)
        self.stdout.write(f"{len(JOBS)} scheduled jobs; created or reset: {', '.join(changed) or 'none'}")
