from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "CRM"

    def ready(self) -> None:
        from crm.roles import roles_sync  # imports auth's models: not before the app registry is ready

        # Sent once per app after migrate; each app's permissions are created in its own turn, so the
        # sync runs every time and the last one sees them all.
        post_migrate.connect(roles_sync, dispatch_uid="crm.roles_sync")
