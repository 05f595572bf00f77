from django.core.management.base import BaseCommand
from tqdm import tqdm

from routing.services import routing_rebuild


class Command(BaseCommand):
    help = "Rebuild the routing backend (Redis) from MySQL: queues, agents and their load, every waiting item."

    def handle(self, *args, **options):
        with tqdm(total=0, unit="item", desc="routing", file=self.stderr, disable=options["verbosity"] == 0) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            counts = routing_rebuild(progress=progress)
        message = "Rebuilt: {queues} queues, {agents} agents, {items} items; {offers_withdrawn} offers made again."
        self.stdout.write(self.style.SUCCESS(message.format(**counts)))
