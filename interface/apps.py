from django.apps import AppConfig


class InterfaceConfig(AppConfig):
    """The interface terminal: the sockets and HTTP APIs of the widget, the agent console and the
    supervisor dashboard, and the pages that serve them; thin over the switch's services (docs/interface.md)."""

    name = "interface"
    verbose_name = "Interface terminal"
