"""The supervisor pages in Simplified Chinese for a zh-Hans viewer, English for everyone else; the CSV export
keeps its machine-readable English header in every language (the integrator API's CSV is the same bytes)."""

from __future__ import annotations

import csv
import io

from django.core.management import call_command
from django.test import Client

from imsubsystem.models import Conversation
from imsubsystem.models import ConversationStatus as S
from tests.factories import ContactFactory, ConversationFactory

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}


def setup_module(module):
    call_command("compilemessages", ignore_patterns=[".venv"], verbosity=0)


def supervisor(teams) -> Client:
    client = Client()
    client.force_login(teams["sup_a"])
    return client


def test_the_pages_speak_the_viewers_language(teams):
    client = supervisor(teams)
    page = client.get("/supervisor/", **ZH).content.decode()
    assert '<html lang="zh-hans">' in page
    assert "主管监控台" in page and "Supervisor dashboard" not in page
    # The page's catalog is loaded before its scripts, its address naming the language (a cached English
    # catalog is never reused for Chinese).
    assert page.index("/jsi18n/?l=zh-hans") < page.index("supervisor/dashboard.js")
    assert "Supervisor dashboard" in client.get("/supervisor/").content.decode()

    reports = client.get("/supervisor/reports/", **ZH).content.decode()
    assert "会话量" in reports and "导出 CSV" in reports and "按天" in reports
    staffing = client.get("/supervisor/staffing/", **ZH).content.decode()
    assert "星期一" in staffing and "半小时明细表" in staffing
    assert "进线量：还没有进线" in staffing


def test_form_errors_in_chinese(teams):
    response = supervisor(teams).get("/supervisor/reports/", {"start": "2026-03-10", "end": "2026-03-01"}, **ZH)
    assert "起始日晚于截止日。" in response.content.decode()


def test_the_csv_header_stays_english_in_every_language(teams):
    ConversationFactory(inbox=teams["sales_inbox"], contact=ContactFactory(), status=S.QUEUED)
    from django.utils import timezone

    Conversation.objects.update(first_queued_at=timezone.now(), queued_at=timezone.now())
    client = supervisor(teams)
    english = client.get("/supervisor/reports.csv")
    chinese = client.get("/supervisor/reports.csv", **ZH)
    assert chinese.status_code == 200 and chinese.content == english.content
    header = next(csv.reader(io.StringIO(chinese.content.decode())))
    assert header[:4] == ["period_start", "queue_id", "queue", "volume"]


def test_the_transcript_in_chinese(teams):
    conversation = ConversationFactory(inbox=teams["sales_inbox"], contact=ContactFactory(name="陈静"), status=S.QUEUED)
    page = supervisor(teams).get(f"/supervisor/conversations/{conversation.pk}/", **ZH).content.decode()
    assert f"会话 #{conversation.pk}" in page and "排队中" in page and "只读" in page
