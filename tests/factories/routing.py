import factory

from routing.models import AgentProfile, AgentSkill, AgentStatus, Queue, Skill
from tests.factories.crm import UserFactory


class SkillFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Skill
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"skill{n}")


class QueueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Queue
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Queue {n}")
    offer_timeout_s = 30
    sticky_window_s = 0


class AgentProfileFactory(factory.django.DjangoModelFactory):
    """An agent with a profile; `queues=[...]` and `skills={"name": level}` or `skills=["name"]`."""

    class Meta:
        model = AgentProfile
        django_get_or_create = ("user",)
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    status = AgentStatus.OFFLINE
    default_capacity = 3

    @factory.post_generation
    def queues(self, create, extracted, **kwargs):
        if create and extracted:
            self.queues.set(extracted)

    @factory.post_generation
    def skills(self, create, extracted, **kwargs):
        if create and extracted:
            levels = extracted if isinstance(extracted, dict) else dict.fromkeys(extracted, 1)
            for name, level in levels.items():
                AgentSkill.objects.update_or_create(
                    agent=self, skill=SkillFactory(name=name), defaults={"level": level}
                )
