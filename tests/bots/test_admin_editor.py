"""The bots' admin as an admin uses it: the flow editor (a form per step kind, translations and options as
rows, the whole flow checked on save), the preview, the FAQ "try a question" box, business hours as a
weekly grid with holidays. Every test posts the admin forms with the test client, field names as the
pages render them."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, time
from html.parser import HTMLParser

import pytest

from bots import engine, matcher, selectors
from bots.models import BotFlow, BusinessHours, FlowStep
from bots.opening import business_hours_status
from routing.models import Queue
from tests.factories import (
    BotFlowFactory,
    FaqEntryFactory,
    FlowStepFactory,
    InboxFactory,
    QueueFactory,
    SkillFactory,
)

pytestmark = pytest.mark.django_db

FLOW_FIELDS = {
    "name": "Shop flow",
    "is_active": "on",
    "language": "en",
    "max_attempts": 3,
    "faq_enabled": "on",
    "faq_threshold": 70,
    "after_hours_priority": 10,
    "queue_update_every_s": 120,
    "idle_reminder_after_s": 300,
    "idle_close_after_s": 600,
    "survey_enabled": "on",
    "closed_notice": "on",
}


def translations(name: str, rows: list[tuple[str, str]]) -> dict[str, str]:
    """What the translations widget posts: a (language, text) pair per row, and its empty last row."""
    data = {}
    for index, (language, text) in enumerate([*rows, ("", "")]):
        data[f"{name}__lang_{index}"] = language
        data[f"{name}__text_{index}"] = text
    return data


def options(name: str, rows: list[dict]) -> dict[str, str]:
    """What the option rows post: label rows, value, queue id, skills, next step; two empty rows more."""
    data = {f"{name}__rows": str(len(rows) + 2)}
    for index, row in enumerate([*rows, {}, {}]):
        prefix = f"{name}__{index}"
        data.update(translations(f"{prefix}__label", row.get("label", [])))
        for part in ("value", "queue", "skills", "next"):
            data[f"{prefix}__{part}"] = str(row.get(part, ""))
    return data


def flow_post(inbox_id: int, steps: list[dict], **fields) -> dict:
    data = {
        **FLOW_FIELDS,
        "inbox": inbox_id,
        **translations("welcome", [("en", "Welcome!"), ("zh-Hans", "欢迎！")]),
        "steps-TOTAL_FORMS": len(steps),
        "steps-INITIAL_FORMS": 0,
        "steps-MIN_NUM_FORMS": 0,
        "steps-MAX_NUM_FORMS": 1000,
        **fields,
    }
    for index, step in enumerate(steps):
        prefix = f"steps-{index}"
        data.update(translations(f"{prefix}-text", step.pop("text", [])))
        data.update(translations(f"{prefix}-invalid_text", step.pop("invalid_text", [])))
        data.update(options(f"{prefix}-options", step.pop("options", [])))
        data.update({f"{prefix}-skills": "", f"{prefix}-next_step": "", f"{prefix}-capture_field": ""})
        data.update({f"{prefix}-{key}": value for key, value in step.items()})
    return data


def page_errors(response) -> list[str]:
    page = response.content.decode()
    found = re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', page, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", " ", chunk)).strip() for chunk in found]


@pytest.fixture
def shop():
    return {
        "inbox": InboxFactory(key="shop", language="en"),
        "sales": QueueFactory(name="Sales"),
        "support": QueueFactory(name="Support"),
        "billing": SkillFactory(name="billing"),
    }


def every_kind_steps(shop) -> list[dict]:
    return [
        {
            "position": 1,
            "key": "hello",
            "kind": "message",
            "text": [("en", "Hello {name}!"), ("zh-Hans", "您好 {name}！")],
            # Fields a message does not use are emptied, whatever was typed in them.
            "capture_field": "email",
            "skills": "billing",
        },
        {
            "position": 2,
            "key": "menu",
            "kind": "question",
            "text": [("en", "Sales or support?"), ("zh-Hans", "销售还是支持？")],
            "options": [
                {
                    "label": [("en", "Sales"), ("zh-Hans", "销售")],
                    "queue": shop["sales"].pk,
                    "skills": "billing",
                    "next": "mail",
                },
                {"label": [("", "Support")], "queue": shop["support"].pk, "next": "person"},
                {"label": [("en", "Nothing, thanks"), ("zh-Hans", "不用了")], "next": "done"},
            ],
        },
        {
            "position": 3,
            "key": "mail",
            "kind": "capture",
            "capture_field": "email",
            "text": [("", "Your e-mail?")],
            "invalid_text": [("", "That is not an e-mail address.")],
            "next_step": "person",
        },
        {"position": 4, "key": "person", "kind": "handover", "text": [("", "Connecting you.")], "skills": "billing"},
        {"position": 5, "key": "done", "kind": "end", "text": [("", "Bye!")], "queue": shop["sales"].pk},
    ]


def test_admin_builds_a_flow_with_every_step_kind_from_the_typed_fields(admin_client_role, shop):
    response = admin_client_role.post("/admin/bots/botflow/add/", flow_post(shop["inbox"].pk, every_kind_steps(shop)))
    assert response.status_code == 302, page_errors(response)

    flow = BotFlow.objects.get(inbox=shop["inbox"])
    assert flow.welcome == {"en": "Welcome!", "zh-Hans": "欢迎！"}
    steps = {step.key: step for step in flow.steps.all()}
    assert [(s.key, s.kind) for s in flow.steps.all()] == [
        ("hello", "message"),
        ("menu", "question"),
        ("mail", "capture"),
        ("person", "handover"),
        ("done", "end"),
    ]
    assert steps["hello"].text == {"en": "Hello {name}!", "zh-Hans": "您好 {name}！"}
    assert (steps["hello"].capture_field, steps["hello"].skills) == ("", [])
    assert steps["menu"].options == [
        {"label": {"en": "Sales", "zh-Hans": "销售"}, "queue": shop["sales"].pk, "skills": ["billing"], "next": "mail"},
        {"label": "Support", "queue": shop["support"].pk, "next": "person"},
        {"label": {"en": "Nothing, thanks", "zh-Hans": "不用了"}, "next": "done"},
    ]
    assert (steps["mail"].capture_field, steps["mail"].invalid_text) == ("email", "That is not an e-mail address.")
    assert steps["person"].skills == ["billing"]
    assert steps["done"].queue is None

    # The stored flow is what the engine runs, in the customer's language.
    spec = selectors.flow_spec(flow=flow)
    engine.flow_validate(spec)
    ctx = {"language": "zh-hans", "buttons": True, "values": {"name": "李雷"}}
    started = engine.flow_start(spec, ctx)
    said = [action for action in started.actions if action["type"] == "say"]
    assert [a["text"] for a in said] == ["欢迎！", "您好 李雷！", "销售还是支持？"]
    assert [o["label"] for o in said[-1]["options"]] == ["销售", "Support", "不用了"]
    chose = engine.flow_reply(spec, started.state, "销售", ctx)
    assert chose.state["route"] == {"queue_id": shop["sales"].pk, "skills": ["billing"]}

    # The change page shows the rows back: translations, options with their queue chosen.
    page = admin_client_role.get(f"/admin/bots/botflow/{flow.pk}/change/").content.decode()
    assert 'name="steps-0-text__lang_1" value="zh-Hans"' in page
    assert 'name="steps-1-options__0__label__text_1" id="id_steps-1-options__0_label__1" value="销售"' in page
    assert f'<option value="{shop["sales"].pk}" selected>Sales</option>' in page
    assert "bots/flow_editor.js" in page and "Preview the conversation" in page


def test_the_step_form_asks_for_what_its_kind_needs(admin_client_role, shop):
    steps = [
        {"position": 1, "key": "ask", "kind": "question", "text": [("", "Which one?")]},
        {"position": 2, "key": "mail", "kind": "capture", "text": [("", "E-mail?")]},
        {"position": 3, "key": "say", "kind": "message"},
        {"position": 4, "key": "off", "kind": "handover", "skills": "telepathy"},
    ]
    response = admin_client_role.post("/admin/bots/botflow/add/", flow_post(shop["inbox"].pk, steps))
    errors = " | ".join(page_errors(response))
    assert "A question needs at least one option." in errors
    assert "Choose the contact field the answer goes into." in errors
    assert "Write the text the customer sees." in errors
    assert "Unknown skill(s): telepathy." in errors
    assert not BotFlow.objects.exists()


def test_an_option_row_without_a_label_or_with_a_missing_queue_is_refused(admin_client_role, shop):
    steps = [
        {
            "position": 1,
            "key": "ask",
            "kind": "question",
            "text": [("", "Which one?")],
            "options": [{"label": [], "queue": shop["sales"].pk}],
        }
    ]
    response = admin_client_role.post("/admin/bots/botflow/add/", flow_post(shop["inbox"].pk, steps))
    assert "Option 1 needs a label." in " ".join(page_errors(response))
    steps[0]["options"] = [{"label": [("", "Sales")], "queue": 999999}]
    response = admin_client_role.post("/admin/bots/botflow/add/", flow_post(shop["inbox"].pk, steps))
    assert "Option 1: no such queue." in " ".join(page_errors(response))
    assert not BotFlow.objects.exists()


def endless(steps: list[dict]) -> list[dict]:
    """hello -> menu -> (Sales: mail -> hello | Support: hello): no way out but asking for a person."""
    menu, mail = steps[1], steps[2]
    menu["options"] = [{**menu["options"][0], "next": "mail"}, {**menu["options"][1], "next": "hello"}]
    mail["next_step"] = "hello"
    return steps[:3]


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (
            lambda steps: steps[1]["options"][0].update(next="nowhere") or steps,
            "Step 'menu': option next step 'nowhere' does not exist.",
        ),
        (lambda steps: steps[1]["options"].pop(2) and steps, "Step 'done' is never reached"),
        (endless, "Step 'hello' loops without an exit"),
        (lambda steps: steps[3].update(key="menu") or steps, "Please correct the duplicate data for key."),
    ],
)
def test_a_flow_with_a_dangling_or_endless_branch_is_refused(admin_client_role, shop, break_it, message):
    steps = break_it(every_kind_steps(shop))
    response = admin_client_role.post("/admin/bots/botflow/add/", flow_post(shop["inbox"].pk, steps))
    assert response.status_code == 200
    assert message in " ".join(page_errors(response))
    assert not BotFlow.objects.exists() and not FlowStep.objects.exists()


def test_editing_a_saved_flow_keeps_its_steps_when_the_check_fails(admin_client_role, shop):
    response = admin_client_role.post("/admin/bots/botflow/add/", flow_post(shop["inbox"].pk, every_kind_steps(shop)))
    flow = BotFlow.objects.get()
    data = flow_post(shop["inbox"].pk, every_kind_steps(shop))
    data.update({"steps-INITIAL_FORMS": 5})
    for index, step in enumerate(flow.steps.all()):
        data[f"steps-{index}-id"] = step.pk
        data[f"steps-{index}-flow"] = flow.pk
    data["steps-2-DELETE"] = "on"  # the capture: an option still jumps to it
    response = admin_client_role.post(f"/admin/bots/botflow/{flow.pk}/change/", data)
    assert "option next step 'mail' does not exist" in " ".join(page_errors(response))
    assert flow.steps.count() == 5


def build_shop_flow(shop) -> BotFlow:
    flow = BotFlowFactory(inbox=shop["inbox"], welcome={"en": "Welcome!", "zh-Hans": "欢迎！"})
    FlowStepFactory(
        flow=flow,
        position=1,
        key="menu",
        kind="question",
        text={"en": "Sales or support?", "zh-Hans": "销售还是支持？"},
        options=[
            {"label": {"en": "Sales", "zh-Hans": "销售"}, "queue": "Sales", "next": "mail"},
            {"label": {"en": "Support", "zh-Hans": "支持"}, "queue": shop["support"].pk, "skills": ["billing"]},
        ],
    )
    FlowStepFactory(flow=flow, position=2, key="person", kind="handover", text={"en": "Connecting you."})
    FlowStepFactory(
        flow=flow,
        position=3,
        key="mail",
        kind="capture",
        capture_field="email",
        text={"en": "Your e-mail?", "zh-Hans": "您的邮箱？"},
    )
    FlowStepFactory(flow=flow, position=4, key="bye", kind="end", text={"en": "Thanks {email}, bye!"})
    return flow


def conversation_lines(html: str) -> list[list[str]]:
    branches = re.findall(r'<ol class="flow-conversation">(.*?)</ol>', html, re.S)
    return [
        [
            re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", line)).strip()
            for line in re.findall(r"<li[^>]*>(.*?)</li>", b, re.S)
        ]
        for b in branches
    ]


def test_the_preview_walks_every_branch_as_the_customer_sees_it(admin_client_role, shop):
    flow = build_shop_flow(shop)
    response = admin_client_role.get(f"/admin/bots/botflow/{flow.pk}/preview/")
    assert response.status_code == 200
    branches = conversation_lines(response.content.decode())
    assert branches == [
        [
            "Welcome!",
            "Sales or support? Sales Support",
            "Sales",
            "Your e-mail?",
            "ada@example.com",
            "Saved on the contact: email = ada@example.com",
            "Thanks ada@example.com, bye!",
            "The conversation closes.",
        ],
        [
            "Welcome!",
            "Sales or support? Sales Support",
            "Support",
            "Connecting you.",
            "Handed over to a person in Support. Skills: billing.",
        ],
    ]
    # In Chinese, with the options as numbered lines (the other channels).
    response = admin_client_role.get(f"/admin/bots/botflow/{flow.pk}/preview/?language=zh-hans&presentation=numbered")
    first = conversation_lines(response.content.decode())[0]
    assert first[:4] == ["欢迎！", "销售还是支持？ 1. 销售 2. 支持", "销售", "您的邮箱？"]


def test_the_preview_of_a_flow_broken_since_it_was_saved_says_why(admin_client_role, shop):
    flow = build_shop_flow(shop)
    FlowStep.objects.filter(key="mail").delete()
    response = admin_client_role.get(f"/admin/bots/botflow/{flow.pk}/preview/")
    assert response.status_code == 200 and "does not exist" in response.content.decode()


def test_the_faq_try_box_runs_the_matcher_and_shows_scores(admin_client_role, shop):
    hours = FaqEntryFactory(
        title="Opening hours",
        phrasings="What are your opening hours?\nWhen are you open?\n你们几点开门？\n营业时间是什么？",
        keywords="hours, open, 营业",
        answer={"en": "Monday to Friday, 08:00-20:00.", "zh-Hans": "周一至周五 08:00-20:00。"},
    )
    FaqEntryFactory(title="Refunds", phrasings="How do I get a refund?", answer="Within 30 days.")
    BotFlowFactory(inbox=shop["inbox"], faq_threshold=60)
    assert admin_client_role.get("/admin/bots/faqentry/").content.decode().count("/admin/bots/faqentry/try/") == 1

    response = admin_client_role.get("/admin/bots/faqentry/try/", {"question": "when are you open", "language": "en"})
    html = response.content.decode()
    entries = selectors.faq_entries_for(inbox_id=None)
    best = matcher.faq_rank("when are you open", entries)[0]
    assert best.entry_id == hours.pk and best.score >= 70
    assert f'<td class="faq-try-score">{best.score}</td>' in html
    assert "the bot answers with this" in html and "Monday to Friday, 08:00-20:00." in html
    assert "threshold: 70" in html

    # A Chinese question, answered in Chinese, with the inbox's flow threshold.
    response = admin_client_role.get(
        "/admin/bots/faqentry/try/", {"question": "你们几点开门", "language": "zh-hans", "inbox": shop["inbox"].pk}
    )
    html = response.content.decode()
    chinese = matcher.faq_rank("你们几点开门", entries)[0]
    assert chinese.entry_id == hours.pk
    assert f'<td class="faq-try-score">{chinese.score}</td>' in html
    assert "周一至周五 08:00-20:00。" in html and "threshold: 60" in html

    # A question the FAQ does not answer shows how close it came.
    html = admin_client_role.get("/admin/bots/faqentry/try/", {"question": "do you sell bicycles"}).content.decode()
    assert "below the threshold: the bot would not answer" in html


def grid(spans: dict[int, list[tuple[str, str]]]) -> dict[str, str]:
    data = {}
    for day in range(7):
        day_spans = spans.get(day, [])
        for index in range(3):
            opens, closes = day_spans[index] if index < len(day_spans) else ("", "")
            data[f"weekly_grid_{day}_{index}_opens"] = opens
            data[f"weekly_grid_{day}_{index}_closes"] = closes
    return data


def hours_post(spans, holidays=(), queues=(), **fields) -> dict:
    data = {
        "name": "Paris office",
        "timezone": "Europe/Paris",
        **grid(spans),
        "queues": [q.pk for q in queues],
        "special_days-TOTAL_FORMS": len(holidays),
        "special_days-INITIAL_FORMS": 0,
        "special_days-MIN_NUM_FORMS": 0,
        "special_days-MAX_NUM_FORMS": 1000,
        **fields,
    }
    for index, (day, name, opens, closes) in enumerate(holidays):
        data.update(
            {
                f"special_days-{index}-date": day,
                f"special_days-{index}-name": name,
                f"special_days-{index}-opens": opens,
                f"special_days-{index}-closes": closes,
            }
        )
    return data


def paris(*args) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(*args, tzinfo=ZoneInfo("Europe/Paris"))


def test_business_hours_saved_from_the_weekly_grid_are_the_hours_the_bot_keeps(admin_client_role, shop):
    spans = {
        0: [("09:00", "12:00"), ("13:00", "17:00")],  # Monday with a lunch break
        1: [("22:00", "06:00")],  # Tuesday night shift, into Wednesday
        4: [("09:00", "17:00")],
    }
    holidays = [("2026-12-25", "Christmas", "", ""), ("2026-12-24", "Christmas Eve", "09:00", "12:00")]
    response = admin_client_role.post(
        "/admin/bots/businesshours/add/", hours_post(spans, holidays, queues=[shop["support"]])
    )
    assert response.status_code == 302, page_errors(response)
    schedule = BusinessHours.objects.get(name="Paris office")
    assert [(w.weekday, f"{w.opens:%H:%M}", f"{w.closes:%H:%M}") for w in schedule.weekly.all()] == [
        (0, "09:00", "12:00"),
        (0, "13:00", "17:00"),
        (1, "22:00", "06:00"),
        (4, "09:00", "17:00"),
    ]
    assert Queue.objects.get(pk=shop["support"].pk).business_hours_id == schedule.pk
    assert Queue.objects.get(pk=shop["sales"].pk).business_hours_id is None

    status = lambda at: business_hours_status(schedule=selectors.schedule_get(schedule_id=schedule.pk), at=at)  # noqa: E731
    # Monday 7 December 2026: lunch break, then open again at 13:00 Paris time.
    assert status(paris(2026, 12, 7, 12, 30)) == (False, paris(2026, 12, 7, 13, 0).astimezone(UTC))
    assert status(paris(2026, 12, 7, 16, 59)) == (True, None)
    # The night shift: open late Tuesday and early Wednesday, closed Wednesday morning.
    assert status(paris(2026, 12, 8, 23, 0)) == (True, None)
    assert status(paris(2026, 12, 9, 5, 59))[0] is True
    assert status(paris(2026, 12, 9, 6, 0))[0] is False
    # Christmas Eve (a Thursday) opens 09:00-12:00; Christmas (a Friday) is closed, so Monday 09:00 is next.
    assert status(paris(2026, 12, 24, 11, 0)) == (True, None)
    assert status(paris(2026, 12, 25, 10, 0)) == (False, paris(2026, 12, 28, 9, 0).astimezone(UTC))

    # The grid shows the spans back; saving without the queue leaves the queue without hours.
    page = admin_client_role.get(f"/admin/bots/businesshours/{schedule.pk}/change/").content.decode()
    assert (
        'name="weekly_grid_1_0_opens" value="22:00"' in page and 'name="weekly_grid_0_1_closes" value="17:00"' in page
    )
    del spans[4]
    response = admin_client_role.post(f"/admin/bots/businesshours/{schedule.pk}/change/", hours_post(spans))
    assert response.status_code == 302, page_errors(response)
    assert not schedule.weekly.filter(weekday=4).exists()
    assert Queue.objects.get(pk=shop["support"].pk).business_hours_id is None
    assert schedule.special_days.count() == 2


@pytest.mark.parametrize(
    ("spans", "holidays", "message"),
    [
        ({0: [("09:00", "12:00"), ("11:00", "13:00")]}, [], "Monday 09:00-12:00 overlaps Monday 11:00-13:00."),
        ({6: [("22:00", "10:00")], 0: [("09:00", "17:00")]}, [], "overlaps"),
        ({2: [("09:00", "")]}, [], "Wednesday: give both the opening and the closing time of each span."),
        ({}, [("2026-12-25", "Christmas", "", ""), ("2026-12-25", "", "10:00", "12:00")], "both closed all day"),
        ({}, [("2026-12-24", "", "09:00", "12:00"), ("2026-12-24", "", "11:00", "14:00")], "overlaps"),
        ({}, [("2026-12-24", "", "09:00", "")], "Give both the opening and the closing time"),
    ],
)
def test_business_hours_that_do_not_add_up_are_refused(admin_client_role, spans, holidays, message):
    response = admin_client_role.post("/admin/bots/businesshours/add/", hours_post(spans, holidays))
    assert response.status_code == 200
    assert message in " ".join(page_errors(response))
    assert not BusinessHours.objects.exists()


def test_a_grid_day_left_empty_is_closed_and_the_timezone_is_checked(admin_client_role):
    response = admin_client_role.post("/admin/bots/businesshours/add/", hours_post({}, timezone="Asia/Shanghai"))
    assert response.status_code == 302
    schedule = selectors.schedule_get(schedule_id=BusinessHours.objects.get().pk)
    assert not schedule.weekly.exists()
    assert business_hours_status(schedule=schedule, at=datetime(2026, 12, 7, 12, tzinfo=UTC)) == (False, None)
    response = admin_client_role.post("/admin/bots/businesshours/add/", hours_post({}, name="x", timezone="Mars/Base"))
    assert "Unknown timezone" in " ".join(page_errors(response))


def test_special_day_times_and_dates_round_trip(admin_client_role):
    response = admin_client_role.post(
        "/admin/bots/businesshours/add/", hours_post({}, [("2027-01-01", "New Year", "", "")])
    )
    assert response.status_code == 302, page_errors(response)
    day = BusinessHours.objects.get().special_days.get()
    assert (day.date, day.name, day.opens, day.closes) == (date(2027, 1, 1), "New Year", None, None)
    assert time(0) is not None


def test_the_editor_preview_and_try_box_speak_the_admins_chinese(admin_user, client, shop):
    from switchboard.models import StaffPreference

    StaffPreference.objects.create(user=admin_user, language="zh-hans")
    client.force_login(admin_user)
    steps = every_kind_steps(shop)
    steps[1]["options"].pop(2)
    response = client.post("/admin/bots/botflow/add/", flow_post(shop["inbox"].pk, steps))
    assert "步骤 'done' 永远不会被执行：没有任何步骤或选项指向它。" in " ".join(page_errors(response))
    flow = build_shop_flow({**shop, "inbox": InboxFactory(key="zh-shop")})
    page = client.get(f"/admin/bots/botflow/{flow.pk}/preview/?language=zh-hans").content.decode()
    assert "分支 1" in page and "已转到 Support 的人工客服。 技能：billing。" in page
    form = client.get(f"/admin/bots/botflow/{flow.pk}/change/").content.decode()
    assert "预览对话" in form and "语言（留空：所有语言）" in form
    hours = client.get("/admin/bots/businesshours/add/").content.decode()
    assert "星期一" in hours and "每周营业时间" in hours
    assert "试问一个问题" in client.get("/admin/bots/faqentry/").content.decode()


def test_a_text_without_a_language_beside_translations_is_refused(admin_client_role, shop):
    steps = every_kind_steps(shop)
    steps[0]["text"] = [("", "Hello!"), ("zh-Hans", "您好！")]
    data = flow_post(shop["inbox"].pk, steps)
    data.pop("steps-0-kind")  # an unchanged-looking extra form must still be checked, not a server error
    data["steps-0-kind"] = "message"
    response = admin_client_role.post("/admin/bots/botflow/add/", data)
    assert response.status_code == 200
    assert "Give each translation its language" in " ".join(page_errors(response))
    assert not BotFlow.objects.exists()


def test_the_preview_and_the_try_box_keep_the_strict_content_security_policy(admin_client_role, shop):
    from tests.security.test_csp_pages import assert_strict

    flow = build_shop_flow(shop)
    FaqEntryFactory(title="Hours", phrasings="When are you open?", answer="<b>9-5</b>")
    for path in (
        f"/admin/bots/botflow/{flow.pk}/preview/",
        f"/admin/bots/botflow/{flow.pk}/change/",
        "/admin/bots/faqentry/try/?question=open",
        "/admin/bots/businesshours/add/",
    ):
        response = admin_client_role.get(path)
        assert response.status_code == 200, path
        assert_strict(response, path)
    assert "&lt;b&gt;9-5&lt;/b&gt;" in admin_client_role.get("/admin/bots/faqentry/try/?question=open").content.decode()


class _FormFields(HTMLParser):
    """The values a browser would post from a page's main form: inputs, checked boxes, textareas and the
    selected options (the inline's empty template left out)."""

    def __init__(self):
        super().__init__()
        self.data: list[tuple[str, str]] = []
        self._textarea: str | None = None
        self._select: str | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name") or ""
        if "__prefix__" in name:
            return
        if tag == "input" and name and attrs.get("type") not in ("submit", "button", "checkbox"):
            self.data.append((name, attrs.get("value") or ""))
        elif tag == "input" and attrs.get("type") == "checkbox" and "checked" in attrs:
            self.data.append((name, attrs.get("value") or "on"))
        elif tag == "textarea" and name:
            self._textarea, self._text = name, ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in attrs:
            self.data.append((self._select, attrs.get("value") or ""))

    def handle_data(self, data):
        if self._textarea:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea:
            self.data.append((self._textarea, self._text.removeprefix("\n")))
            self._textarea = None
        elif tag == "select":
            self._select = None


def page_form(admin_client_role, path) -> dict[str, list[str]]:
    parser = _FormFields()
    parser.feed(admin_client_role.get(path).content.decode())
    posted: dict[str, list[str]] = {}
    for name, value in parser.data:
        if name in ("csrfmiddlewaretoken", "_selected_action"):
            continue
        posted.setdefault(name, []).append(value)
    return posted


def test_a_saved_flow_comes_back_unchanged_through_its_change_page():
    """The demo flow (options with values, queue names, translations in three languages) opened and saved
    as it is keeps every step as the engine reads it."""
    from django.test import Client

    from bots import demo
    from crm.roles import ADMIN
    from tests.factories import UserFactory

    support = QueueFactory(name="Support")
    QueueFactory(name="Sales")
    InboxFactory(key="demo", kind="web", default_queue=support)
    InboxFactory(key="demo-after-hours", kind="web", default_queue=support)
    demo.seed()
    client = Client()
    client.force_login(UserFactory(username="root", role=ADMIN, is_staff=True, is_superuser=True))
    flow = BotFlow.objects.get(inbox__key="demo")
    before = selectors.flow_spec(flow=flow)
    path = f"/admin/bots/botflow/{flow.pk}/change/"
    response = client.post(path, page_form(client, path))
    assert response.status_code == 302, page_errors(response)
    after = selectors.flow_spec(flow=BotFlow.objects.get(pk=flow.pk))
    assert after == before

    schedule = flow.business_hours
    weekly = list(schedule.weekly.values_list("weekday", "opens", "closes"))
    path = f"/admin/bots/businesshours/{schedule.pk}/change/"
    response = client.post(path, page_form(client, path))
    assert response.status_code == 302, page_errors(response)
    assert list(schedule.weekly.values_list("weekday", "opens", "closes")) == weekly


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"after_hours_priority": 500}, "Use a priority from -100 to 100"),
        ({"idle_reminder_after_s": 0, "idle_close_after_s": 600}, "Closing after the reminder needs a reminder."),
    ],
)
def test_flow_settings_that_cannot_work_are_refused(admin_client_role, shop, fields, message):
    response = admin_client_role.post("/admin/bots/botflow/add/", flow_post(shop["inbox"].pk, [], **fields))
    assert response.status_code == 200 and message in " ".join(page_errors(response))
    assert not BotFlow.objects.exists()
