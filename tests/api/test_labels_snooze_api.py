"""Labels, close reasons and snooze through the integrator API: the `label` filter, the `labels`,
`snooze` and `unsnooze` actions and `reason_code` on close, each refused for a caller who may not see the
conversation (404, as if it did not exist) and for bad input (400, nothing changed)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from imsubsystem.models import CloseReason, Conversation, Label
from tests.api.scene_conversations import BASE, assigned_conversation, build_teams

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def scene(db, django_capture_on_commit_callbacks):
    scene = build_teams()
    commit = django_capture_on_commit_callbacks
    scene["mine"] = assigned_conversation(scene["sales_inbox"], scene["ag_a"], by=scene["admin"], commit=commit)
    scene["theirs"] = assigned_conversation(scene["support_inbox"], scene["ag_b"], by=scene["admin"], commit=commit)
    scene["vip"] = Label.objects.create(name="VIP", colour="#aa0000")
    scene["refund"] = Label.objects.create(name="Refund", colour="#00aa00")
    return scene


def test_label_a_conversation_and_filter_the_list_by_label(scene, make_api_client):
    api = make_api_client(scene["ag_a"])
    mine = scene["mine"].pk
    response = api.post_json(f"{BASE}/conversations/{mine}/labels", {"label_ids": [scene["vip"].pk]})
    assert response.status_code == 200, response.content
    assert response.json()["labels"] == [{"id": scene["vip"].pk, "name": "VIP", "colour": "#aa0000"}]
    admin = make_api_client(scene["admin"])
    listed = admin.get(f"{BASE}/conversations", {"label": scene["vip"].pk}).json()["results"]
    assert [c["id"] for c in listed] == [mine]
    assert admin.get(f"{BASE}/conversations", {"label": scene["refund"].pk}).json()["results"] == []
    assert admin.get(f"{BASE}/conversations", {"label": "vip"}).status_code == 400
    labels = api.get(f"{BASE}/labels").json()["results"]
    assert [label["name"] for label in labels] == ["Refund", "VIP"]


def test_labels_refused_for_another_teams_agent_and_for_an_unknown_label(scene, make_api_client):
    theirs = scene["theirs"].pk
    api = make_api_client(scene["ag_a"])
    response = api.post_json(f"{BASE}/conversations/{theirs}/labels", {"label_ids": [scene["vip"].pk]})
    assert response.status_code == 404
    response = api.post_json(f"{BASE}/conversations/{scene['mine'].pk}/labels", {"label_ids": [987654]})
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid")
    response = api.post_json(f"{BASE}/conversations/{scene['mine'].pk}/labels", {"label_ids": "x"})
    assert response.status_code == 400
    assert not Conversation.objects.get(pk=scene["mine"].pk).labels.exists()
    assert not Conversation.objects.get(pk=theirs).labels.exists()


def test_close_with_a_reason_code_and_free_text(scene, make_api_client, django_capture_on_commit_callbacks):
    CloseReason.objects.create(code="solved", name="Solved")
    api = make_api_client(scene["ag_a"])
    mine = scene["mine"].pk
    response = api.post_json(f"{BASE}/conversations/{mine}/close", {"reason_code": "unknown"})
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post_json(f"{BASE}/conversations/{mine}/close", {"reason_code": "solved", "reason": "Fixed"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["close_reason"], body["wrap_up"]) == ("closed", "solved", "Fixed")
    assert [r["code"] for r in api.get(f"{BASE}/close-reasons").json()["results"]] == ["solved"]


def test_snooze_and_unsnooze(scene, make_api_client, django_capture_on_commit_callbacks):
    api = make_api_client(scene["ag_a"])
    mine = scene["mine"].pk
    past = (timezone.now() - timedelta(minutes=1)).isoformat()
    response = api.post_json(f"{BASE}/conversations/{mine}/snooze", {"until": past})
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid")
    response = api.post_json(f"{BASE}/conversations/{scene['theirs'].pk}/snooze", {})
    assert response.status_code == 404
    assert Conversation.objects.get(pk=scene["theirs"].pk).snoozed_at is None

    until = timezone.now() + timedelta(hours=2)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post_json(f"{BASE}/conversations/{mine}/snooze", {"until": until.isoformat()})
    assert response.status_code == 200, response.content
    assert response.json()["snoozed"] is True and response.json()["snoozed_until"]
    assert [c["id"] for c in api.get(f"{BASE}/conversations", {"snoozed": "true"}).json()["results"]] == [mine]
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post_json(f"{BASE}/conversations/{mine}/unsnooze", {})
    assert response.status_code == 200
    assert (response.json()["snoozed"], response.json()["snoozed_until"]) == (False, None)
