from django.apps import AppConfig


class ImsubsystemConfig(AppConfig):
    name = "imsubsystem"
    verbose_name = "IM switch"
