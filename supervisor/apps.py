from django.apps import AppConfig


class SupervisorConfig(AppConfig):
    name = "supervisor"
    verbose_name = "Supervision"

    def ready(self) -> None:
        from imsubsystem import selectors as switch_selectors
        from supervisor.selectors import supervision_scope

        # The switch's one visibility rule asks this app which queues and agents a supervisor's teams cover.
        switch_selectors.supervision_scope_register(supervision_scope)
