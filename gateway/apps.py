from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "gateway"
    label = "gateway"
    verbose_name = "Unified gateway"

    def ready(self) -> None:
        # Imported once the app registry is ready: the receivers connect to the switch's signals.
        from gateway import receivers

        receivers.connect()
