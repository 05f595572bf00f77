from django.apps import AppConfig


class BotsConfig(AppConfig):
    name = "bots"
    verbose_name = "Automatic responses"

    def ready(self) -> None:
        # Imported here: the receivers import models, which are not loaded before ready().
        from bots import handlers, receivers

        receivers.connect()
        handlers.connect()
