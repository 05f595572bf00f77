import sys

from django.apps import AppConfig
from django.conf import settings


def _serving() -> bool:
    """True in a server process (daphne, runserver), not in migrate, shell, tests or workers."""
    program = sys.argv[0].rsplit("/", 1)[-1] if sys.argv else ""
    return "pytest" not in sys.modules and (program == "daphne" or "runserver" in sys.argv[1:2])


class BotsConfig(AppConfig):
    name = "bots"
    verbose_name = "Automatic responses"

    def ready(self) -> None:
        from bots import receivers

        receivers.connect()
        # The embedded default has no beat: the watchdog, idle close and queue updates tick in-process.
        if getattr(settings, "ROUTING_INPROCESS_TIMERS", False) and settings.CELERY_TASK_ALWAYS_EAGER and _serving():
            from bots.timers import inprocess_timers_start

            inprocess_timers_start()
