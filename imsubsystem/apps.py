from django.apps import AppConfig


class ImsubsystemConfig(AppConfig):
    name = "imsubsystem"
    verbose_name = "IM switch"

    def ready(self) -> None:
        from crm.hooks import contact_merging, contact_panels
        from imsubsystem import routing_hooks, selectors
        from imsubsystem.crm_hooks import on_contact_merging
        from imsubsystem.panels import contact_conversations
        from media.selectors import conversation_access_register

        routing_hooks.connect()
        # Serving a file asks the one visibility rule again (rights may have changed since the link).
        conversation_access_register(selectors.viewer_may_see_conversation)
        contact_merging.subscribe(on_contact_merging, uid="imsubsystem.on_contact_merging")
        contact_panels.subscribe(contact_conversations, uid="imsubsystem.contact_conversations")
