"""Load the demo data of CONTRACT.md. Idempotent; each app seeds its own part (switchboard/demo.py)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from switchboard.demo import DEMO_STEPS


class Command(BaseCommand):
    help = "Create the demo users, queues, contacts, inboxes, FAQ entries and canned responses (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Allow seeding in the production profile.")

    def handle(self, *args, force=False, **options):
        if settings.PRODUCTION and not force:
            raise CommandError("Refusing to load demo data into the production profile without --force.")
        for step in DEMO_STEPS:
            self.stdout.write(f"Seeding {step.__name__}")
            with transaction.atomic():
                step.seed(stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
