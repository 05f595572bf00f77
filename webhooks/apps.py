from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    label = "webhooks"
    verbose_name = "Outgoing webhooks"

    def ready(self) -> None:
        # Imported once the app registry is ready: the receivers read models.
        from webhooks import receivers

        receivers.connect()
