"""Demo data for `manage.py seed_demo` (idempotent). Runs after routing.demo and imsubsystem.demo, which
create the Sales and Support queues and the `demo` web inbox."""

from __future__ import annotations

from datetime import time

from bots.models import BotFlow, BusinessHours, FaqEntry, FlowStep, WeeklyHours

DEMO_HOURS = "Demo office hours"
DEMO_FAQ = [
    (
        "Opening hours",
        "What are your opening hours?\nWhen are you open?\nAre you open on weekends?\nhoraires d'ouverture",
        "hours, open, opening, weekend",
        {
            "en": "Our team is here Monday to Friday, 08:00-20:00 UTC. Outside those hours you can leave a message.",
            "fr": "Notre équipe est là du lundi au vendredi, de 8h à 20h UTC. En dehors, laissez-nous un message.",
        },
    ),
    (
        "Delivery time",
        "How long does delivery take?\nWhen will my order arrive?\nshipping time\ndélai de livraison",
        "delivery, shipping, arrive, livraison",
        {
            "en": "Orders ship within one working day and usually arrive in 2-4 working days.",
            "fr": "Les commandes partent sous un jour ouvré et arrivent en général en 2 à 4 jours ouvrés.",
        },
    ),
    (
        "Returns",
        "How do I return an item?\nCan I get a refund?\nreturn policy\nretourner un article",
        "return, refund, retour, rembourser",
        {
            "en": "You can return any item within 30 days for a full refund: start from My orders > Return.",
            "fr": "Vous pouvez retourner un article sous 30 jours pour un remboursement complet : Mes commandes > "
            "Retour.",
        },
    ),
]


def seed(*, stdout=None) -> None:
    from imsubsystem.models import Inbox
    from routing.models import Queue

    hours, created = BusinessHours.objects.get_or_create(name=DEMO_HOURS, defaults={"timezone": "UTC"})
    if created:
        for weekday in range(5):
            WeeklyHours.objects.create(schedule=hours, weekday=weekday, opens=time(8), closes=time(20))
    queues = {q.name: q for q in Queue.objects.filter(name__in=["Sales", "Support"])}
    Queue.objects.filter(pk__in=[q.pk for q in queues.values()], business_hours_id__isnull=True).update(
        business_hours_id=hours.pk
    )

    for title, phrasings, keywords, answer in DEMO_FAQ:
        FaqEntry.objects.get_or_create(
            title=title, inbox=None, defaults={"phrasings": phrasings, "keywords": keywords, "answer": answer}
        )

    inbox = Inbox.objects.filter(key="demo").first()
    if inbox is None:
        return
    flow, created = BotFlow.objects.get_or_create(
        inbox=inbox,
        defaults={
            "name": "Website assistant",
            "business_hours": hours,
            "welcome": {
                "en": "Hello! I am the Switchboard assistant. Ask me about opening hours, delivery or returns.",
                "fr": "Bonjour ! Je suis l'assistant Switchboard. Posez-moi vos questions sur les horaires, la "
                "livraison ou les retours.",
            },
        },
    )
    if created:
        FlowStep.objects.create(
            flow=flow,
            position=1,
            key="menu",
            kind="question",
            text={"en": "Who would you like to talk to?", "fr": "À qui souhaitez-vous parler ?"},
            options=[
                {"label": {"en": "Sales", "fr": "Ventes"}, "value": "sales", "queue": "Sales"},
                {"label": {"en": "Support", "fr": "Assistance"}, "value": "support", "queue": "Support"},
            ],
        )
        FlowStep.objects.create(
            flow=flow,
            position=2,
            key="handover",
            kind="handover",
            text={
                "en": "Thank you! I am passing you to our team now.",
                "fr": "Merci ! Je vous passe notre équipe.",
            },
        )
    if stdout:
        stdout.write(f"  bot: flow {flow.name!r} on inbox demo, {len(DEMO_FAQ)} FAQ entries, {DEMO_HOURS} (UTC)")
