from django.apps import AppConfig


class ImsubsystemConfig(AppConfig):
    name = "imsubsystem"
    verbose_name = "IM switch"

    def ready(self) -> None:
        # Imported here: the subscribers import models, which cannot load before the app registry is ready.
        from crm.hooks import contact_merging, contact_message_search, contact_panels
        from imsubsystem import routing_hooks
        from imsubsystem.crm_hooks import on_contact_merging, on_contact_message_search
        from imsubsystem.hooks import message_stored
        from imsubsystem.media_hooks import on_conversation_access
        from imsubsystem.panels import contact_conversations
        from imsubsystem.services.snooze import on_message_stored
        from media.hooks import conversation_access

        routing_hooks.connect()
        # A customer's message wakes their snoozed conversation, in the message's own transaction.
        message_stored.subscribe(on_message_stored, uid="imsubsystem.snooze_on_message_stored")
        # Serving a file asks the one visibility rule again (rights may have changed since the link).
        conversation_access.subscribe(on_conversation_access, uid="imsubsystem.on_conversation_access")
        contact_merging.subscribe(on_contact_merging, uid="imsubsystem.on_contact_merging")
        contact_panels.subscribe(contact_conversations, uid="imsubsystem.contact_conversations")
        contact_message_search.subscribe(on_contact_message_search, uid="imsubsystem.on_contact_message_search")
