from django.apps import AppConfig


class SupervisorConfig(AppConfig):
    name = "supervisor"
    verbose_name = "Supervision"

    def ready(self) -> None:
        # Imported here, not at the top: both modules import models, which Django cannot load before the
        # app registry is ready (apps.py is imported while the registry is being populated).
        from imsubsystem.hooks import supervision_scope
        from supervisor.receivers import on_scope_wanted

        # The switch's one visibility rule asks this app which queues and agents a supervisor's teams cover.
        supervision_scope.subscribe(on_scope_wanted, uid="supervisor.on_scope_wanted")
