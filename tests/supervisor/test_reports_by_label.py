"""The supervisor's report per label and per close reason: conversations counted under each label they
carry (and their handle time), and under the reason they were closed with, on the page and in its CSV,
within the supervisor's teams only."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from imsubsystem.models import CloseReason, Label
from imsubsystem.models import ConversationStatus as S
from tests.factories import ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def labelled(teams):
    now = timezone.now()
    vip = Label.objects.create(name="=VIP", colour="#aa0000")
    refund = Label.objects.create(name="Refund", colour="#00aa00")
    solved = CloseReason.objects.create(code="solved", name="Solved")

    def conversation(inbox, agent, labels, *, handle_s=None, reason=None):
        closed = handle_s is not None
        made = ConversationFactory(
            inbox=inbox,
            contact=ContactFactory(),
            status=S.CLOSED if closed else S.ASSIGNED,
            assignee=agent,
            queue=inbox.default_queue,
            first_queued_at=now - timedelta(minutes=30),
            assigned_at=now - timedelta(minutes=20),
            closed_at=now - timedelta(minutes=20) + timedelta(seconds=handle_s) if closed else None,
            close_reason=reason,
        )
        made.labels.set(labels)
        return made

    conversation(teams["sales_inbox"], teams["ag_a"], [vip, refund], handle_s=120, reason=solved)
    conversation(teams["sales_inbox"], teams["ag_a"], [vip], handle_s=60, reason=solved)
    conversation(teams["sales_inbox"], teams["ag_a"], [])
    # Another team's: never in sup-a's report.
    conversation(teams["support_inbox"], teams["ag_b"], [refund], handle_s=30)
    return {"vip": vip, "refund": refund, "solved": solved}


def _csv(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_report_per_label_counts_each_label_with_its_handle_time(teams, labelled):
    rows = _csv(client_for(teams["sup_a"]).get("/supervisor/reports.csv", {"dimension": "label"}))
    by_label = {row["label"]: row for row in rows}
    # A name starting with "=" is neutralised for spreadsheets.
    assert set(by_label) == {"'=VIP", "Refund"}
    assert (by_label["'=VIP"]["volume"], by_label["'=VIP"]["resolved"], by_label["'=VIP"]["handle_s"]) == (
        "2",
        "2",
        "90.0",
    )
    assert (by_label["Refund"]["volume"], by_label["Refund"]["handle_s"]) == ("1", "120.0")
    assert by_label["Refund"]["label_id"] == str(labelled["refund"].pk)

    page = client_for(teams["sup_a"]).get("/supervisor/reports/", {"dimension": "label"})
    assert page.status_code == 200
    assert sorted(r["name"] for r in page.context["rows"]) == ["=VIP", "Refund"]


def test_report_per_close_reason(teams, labelled):
    rows = _csv(client_for(teams["sup_a"]).get("/supervisor/reports.csv", {"dimension": "close_reason"}))
    assert [(r["close_reason"], r["volume"]) for r in rows] == [("Solved", "2")]
