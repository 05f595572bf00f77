from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "gateway"
    label = "gateway"
    verbose_name = "Unified gateway"

    def ready(self) -> None:
        from gateway import receivers

        receivers.connect()
