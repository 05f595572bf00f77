from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "imsubsystem.gateway"
    label = "gateway"
    verbose_name = "Unified gateway"

    def ready(self) -> None:
        from imsubsystem.gateway import receivers

        receivers.connect()
