import sys

from django.apps import AppConfig
from django.conf import settings


def _serving() -> bool:
    """True in a server process (daphne, runserver), not in migrate, shell, tests or workers."""
    program = sys.argv[0].rsplit("/", 1)[-1] if sys.argv else ""
    return "pytest" not in sys.modules and (program == "daphne" or "runserver" in sys.argv[1:2])


class RoutingConfig(AppConfig):
    name = "routing"
    verbose_name = "Routing"

    def ready(self) -> None:
        # The embedded default has no beat: offer expiry, overflow and re-evaluation tick in-process.
        inprocess = getattr(settings, "ROUTING_INPROCESS_TIMERS", False) and settings.CELERY_TASK_ALWAYS_EAGER
        if inprocess and _serving():
            from routing.timers import inprocess_timers_start

            inprocess_timers_start()
