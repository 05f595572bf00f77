import factory

from bots.models import BotFlow, BusinessHours, FaqEntry, FlowStep, SpecialDay, WeeklyHours
from tests.factories.imsubsystem import InboxFactory


class BusinessHoursFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BusinessHours
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Hours {n}")
    timezone = "UTC"


class WeeklyHoursFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WeeklyHours

    schedule = factory.SubFactory(BusinessHoursFactory)
    weekday = 0
    opens = "09:00"
    closes = "17:00"


class SpecialDayFactory(factory.django.DjangoModelFactory):
    """A holiday unless opens/closes are given."""

    class Meta:
        model = SpecialDay

    schedule = factory.SubFactory(BusinessHoursFactory)
    date = factory.Faker("date_object")
    name = "Holiday"
    opens = None
    closes = None


class BotFlowFactory(factory.django.DjangoModelFactory):
    """An active flow with no steps: welcome, then FAQ and hand-over words only."""

    class Meta:
        model = BotFlow
        django_get_or_create = ("inbox",)

    inbox = factory.SubFactory(InboxFactory)
    name = factory.LazyAttribute(lambda f: f"Flow of {f.inbox.key}")
    welcome = "Hello! I am the assistant."


class FlowStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FlowStep

    flow = factory.SubFactory(BotFlowFactory)
    position = factory.Sequence(int)
    key = factory.Sequence(lambda n: f"step-{n}")
    kind = "message"
    text = "A message."


class FaqEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FaqEntry

    title = factory.Sequence(lambda n: f"Question {n}")
    phrasings = "What are your opening hours?\nWhen are you open?"
    keywords = "hours, open"
    answer = "We are open Monday to Friday, 08:00-20:00 UTC."
