"""Rebuild the message search's tokens of stored messages (docs/imsubsystem.md, "Search"): the backfill
after the upgrade that added the search, and a repair after any raw change to message text."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from imsubsystem.models import Message
from imsubsystem.services.search import REINDEX_BATCH, messages_reindex


class Command(BaseCommand):
    help = (
        "Write the search tokens of every stored message again, in batches of one transaction each, "
        "with a progress bar. Safe while the server runs; start again with --after-id to resume."
    )

    def add_arguments(self, parser):
        parser.add_argument("--after-id", type=int, default=0, help="Start after this message id (resume).")
        parser.add_argument("--batch-size", type=int, default=REINDEX_BATCH, help="Messages per transaction.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (logs, cron).")

    def handle(self, *args, after_id: int, batch_size: int, no_progress: bool, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        total = Message.objects.filter(pk__gt=after_id).count()
        last = [after_id]
        with tqdm(total=total, unit="msg", disable=no_progress, file=self.stderr) as bar:

            def progress(count: int, last_id: int) -> None:
                bar.update(count)
                bar.set_postfix(last_id=last_id, refresh=False)
                last[0] = last_id

            done = messages_reindex(after_id=after_id, batch_size=batch_size, progress=progress)
        self.stdout.write(f"Indexed {done} messages (last id {last[0]}).")
