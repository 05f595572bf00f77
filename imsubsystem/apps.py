from django.apps import AppConfig


class ImsubsystemConfig(AppConfig):
    name = "imsubsystem"
    verbose_name = "IM switch"

    def ready(self) -> None:
        from crm.signals import contact_merging
        from imsubsystem import routing_hooks
        from imsubsystem.signals import on_contact_merging

        routing_hooks.connect()
        contact_merging.connect(on_contact_merging, dispatch_uid="imsubsystem.on_contact_merging")
