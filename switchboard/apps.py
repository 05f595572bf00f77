from contextlib import suppress

from django.apps import AppConfig
from django.db.models.signals import class_prepared

from switchboard.field_labels import label_fields

# Before any model is loaded (Django imports every app's config first): the fields' translated labels.
class_prepared.connect(label_fields, dispatch_uid="switchboard.field_labels")


class SwitchboardConfig(AppConfig):
    """The project's own parts: what runs a server process of the embedded default (the timer loop),
    the demo as a whole (seed_demo, describe_urls) and the project-wide pages. It may import every app;
    no app imports it (pyproject.toml); config/asgi.py and config/urls.py reach it."""

    name = "switchboard"
    label = "switchboard"
    verbose_name = "Switchboard"

    def ready(self) -> None:
        from core.metrics import REGISTRY
        from switchboard.metrics import SHARED_STATE

        with suppress(ValueError):  # registered already: ready() ran before in this process
            REGISTRY.register(SHARED_STATE)
