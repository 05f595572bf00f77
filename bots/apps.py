from django.apps import AppConfig


class BotsConfig(AppConfig):
    name = "bots"
    verbose_name = "Automatic responses"

    def ready(self) -> None:
        from bots import receivers

        receivers.connect()
