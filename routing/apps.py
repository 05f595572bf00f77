from django.apps import AppConfig


class RoutingConfig(AppConfig):
    # Routing's timers (routing.tick) are an entry of CELERY_BEAT_SCHEDULE: beat runs it in production,
    # the embedded default's in-process timer loop (switchboard/timers.py) runs the same entry.
    name = "routing"
    verbose_name = "Routing"
