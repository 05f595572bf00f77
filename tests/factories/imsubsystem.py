import factory

from imsubsystem.models import CannedResponse, Conversation, Inbox
from tests.factories.crm import ContactFactory
from tests.factories.routing import QueueFactory


class InboxFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Inbox
        django_get_or_create = ("key",)

    kind = "web"
    key = factory.Sequence(lambda n: f"inbox-{n}")
    name = factory.LazyAttribute(lambda i: f"Inbox {i.key}")
    default_queue = factory.SubFactory(QueueFactory)
    config = factory.LazyFunction(lambda: {"allowed_origins": ["https://shop.example"]})
    credentials = factory.LazyFunction(dict)


class ConversationFactory(factory.django.DjangoModelFactory):
    """A conversation row as it stands (no routing work item: use the services for that)."""

    class Meta:
        model = Conversation

    contact = factory.SubFactory(ContactFactory)
    inbox = factory.SubFactory(InboxFactory)
    queue = factory.LazyAttribute(lambda c: c.inbox.default_queue)
    status = "assigned"
    open_slot = factory.LazyAttribute(lambda c: None if c.status == "closed" else f"{c.inbox.pk}:{c.contact.pk}")
    first_queued_at = None
    queued_at = None
    assigned_at = None
    # One leg: the customer's wait counts from the queueing and ends at the assignment.
    waiting_since = factory.LazyAttribute(lambda c: c.queued_at)
    waited = factory.LazyAttribute(
        lambda c: c.assigned_at - c.first_queued_at if c.assigned_at and c.first_queued_at else None
    )


class CannedResponseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CannedResponse

    shortcut = factory.Sequence(lambda n: f"reply{n}")
    title = factory.Faker("sentence", nb_words=3)
    text = factory.Faker("sentence")
