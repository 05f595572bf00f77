from django.apps import AppConfig


class SupervisorConfig(AppConfig):
    name = "supervisor"
    verbose_name = "Supervision"

    def ready(self) -> None:
        # Imported here, not at the top: both modules import models, which Django cannot load before the
        # app registry is ready (apps.py is imported while the registry is being populated).
        from imsubsystem import selectors as switch_selectors
        from supervisor.selectors import supervision_scope

        # The switch's one visibility rule asks this app which queues and agents a supervisor's teams cover.
        switch_selectors.supervision_scope_register(supervision_scope)
