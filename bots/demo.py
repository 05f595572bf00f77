"""Demo data for `manage.py seed_demo` (idempotent). Runs after routing.demo and imsubsystem.demo, which
create the Sales and Support queues and the `demo` and `demo-after-hours` web inboxes.

The demo is true at any hour: the `demo` inbox is open every day, all day, so a newcomer on a Saturday
night reaches a person; the `demo-after-hours` inbox is never open, so its bot always shows the
out-of-hours path (when we open, leave a message, first in line at opening). The hours hang on the
flows, not on the queues (a queue's own hours would win over its inbox's, docs/bots.md), so both inboxes
can hand over to Support."""

from __future__ import annotations

from datetime import time

from bots.models import BotFlow, BusinessHours, FaqEntry, FlowStep, WeeklyHours
from imsubsystem.demo import AFTER_HOURS_KEY
from imsubsystem.models import Inbox
from routing.models import Queue

DEMO_HOURS = "Demo office hours"
DEMO_CLOSED_HOURS = "Demo out of hours"
# 00:00-00:00 is the whole day (bots/hours.py).
ALL_DAY = (time(0), time(0))
DEMO_FAQ = [
    (
        "Opening hours",
        "What are your opening hours?\nWhen are you open?\nAre you open on weekends?\nhoraires d'ouverture\n"
        "你们的营业时间是什么时候？\n周末上班吗？",
        "hours, open, opening, weekend, 营业, 时间, 上班, 周末",
        {
            "en": "Our team is here every day, around the clock. When we are closed you can leave a message.",
            "fr": "Notre équipe est là tous les jours, à toute heure. Quand nous sommes fermés, laissez-nous un "
            "message.",
            "zh-Hans": "我们的团队每天全天候在线。非服务时间您也可以给我们留言。",
        },
    ),
    (
        "Delivery time",
        "How long does delivery take?\nWhen will my order arrive?\nshipping time\ndélai de livraison\n"
        "发货需要多长时间？\n多久能收到货？",
        "delivery, shipping, arrive, livraison, 发货, 快递, 收到",
        {
            "en": "Orders ship within one working day and usually arrive in 2-4 working days.",
            "fr": "Les commandes partent sous un jour ouvré et arrivent en général en 2 à 4 jours ouvrés.",
            "zh-Hans": "订单会在一个工作日内发货，通常 2 到 4 个工作日送达。",
        },
    ),
    (
        "Returns",
        "How do I return an item?\nCan I get a refund?\nreturn policy\nretourner un article\n怎么退货？\n可以退款吗？",
        "return, refund, retour, rembourser, 退货, 退款",
        {
            "en": "You can return any item within 30 days for a full refund: start from My orders > Return.",
            "fr": "Vous pouvez retourner un article sous 30 jours pour un remboursement complet : Mes commandes > "
            "Retour.",
            "zh-Hans": "所有商品均可在 30 天内退货并全额退款：请在“我的订单 > 退货”中申请。",
        },
    ),
]


def seed(*, stdout=None) -> None:
    hours, _ = BusinessHours.objects.get_or_create(name=DEMO_HOURS, defaults={"timezone": "UTC"})
    # Open every day, all day. Demo data seeded before (weekdays 08:00-20:00) is brought up to date.
    if {(w.weekday, w.opens, w.closes) for w in hours.weekly.all()} != {(d, *ALL_DAY) for d in range(7)}:
        hours.weekly.all().delete()
        WeeklyHours.objects.bulk_create(
            [WeeklyHours(schedule=hours, weekday=d, opens=ALL_DAY[0], closes=ALL_DAY[1]) for d in range(7)]
        )
    # No weekly hours: never open.
    closed, _ = BusinessHours.objects.get_or_create(name=DEMO_CLOSED_HOURS, defaults={"timezone": "UTC"})
    closed.weekly.all().delete()
    closed.special_days.all().delete()
    queues = {q.name: q for q in Queue.objects.filter(name__in=["Sales", "Support"])}
    # The hours belong to each inbox's flow; demo queues seeded with the demo hours are freed of them.
    Queue.objects.filter(pk__in=[q.pk for q in queues.values()], business_hours_id=hours.pk).update(
        business_hours_id=None
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
                "zh-Hans": "您好！我是 Switchboard 智能助手。关于营业时间、配送或退货的问题都可以问我。",
            },
        },
    )
    if created:
        FlowStep.objects.create(
            flow=flow,
            position=1,
            key="menu",
            kind="question",
            text={
                "en": "Who would you like to talk to?",
                "fr": "À qui souhaitez-vous parler ?",
                "zh-Hans": "您想咨询哪个部门？",
            },
            options=[
                {"label": {"en": "Sales", "fr": "Ventes", "zh-Hans": "销售"}, "value": "sales", "queue": "Sales"},
                {
                    "label": {"en": "Support", "fr": "Assistance", "zh-Hans": "售后支持"},
                    "value": "support",
                    "queue": "Support",
                },
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
                "zh-Hans": "谢谢！正在为您转接我们的团队。",
            },
        )
    elif flow.business_hours_id is None:
        flow.business_hours = hours
        flow.save(update_fields=["business_hours"])
    after_hours = _after_hours_flow_seed(closed)
    if stdout:
        stdout.write(
            f"  bot: flow {flow.name!r} on inbox demo (open every day), {len(DEMO_FAQ)} FAQ entries; "
            + (f"flow {after_hours.name!r} on inbox {AFTER_HOURS_KEY} (always out of hours)" if after_hours else "")
        )


def _after_hours_flow_seed(closed: BusinessHours) -> BotFlow | None:
    """The `demo-after-hours` inbox: a flow that hands over at once, to hours that never open."""
    inbox = Inbox.objects.filter(key=AFTER_HOURS_KEY).first()
    if inbox is None:
        return None
    flow, created = BotFlow.objects.get_or_create(
        inbox=inbox,
        defaults={
            "name": "Out-of-hours assistant",
            "business_hours": closed,
            "welcome": {
                "en": "Hello! This inbox shows what customers see when the team is closed.",
                "fr": "Bonjour ! Cette boîte montre ce que voient les clients quand l'équipe est fermée.",
                "zh-Hans": "您好！这个收件箱展示了团队下班时客户看到的内容。",
            },
        },
    )
    if created:
        FlowStep.objects.create(
            flow=flow,
            position=1,
            key="handover",
            kind="handover",
            text={
                "en": "Let me find someone for you.",
                "fr": "Je vous cherche quelqu'un.",
                "zh-Hans": "我来为您找一位客服。",
            },
        )
    return flow


def describe(*, base: str) -> list[str]:
    """For `manage.py describe_urls`: which demo inbox shows which path."""
    return [
        f"Bot: the widget demo ({base}/widget/demo/demo/) is open every day, all day; "
        f"{base}/widget/demo/{AFTER_HOURS_KEY}/ is always out of hours (leave a message)."
    ]
