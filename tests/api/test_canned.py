"""Canned responses through the integrator API: listed as the console shows them, written only by the
roles the admin lets write them."""

from __future__ import annotations

import pytest

from imsubsystem.models import CannedResponse
from tests.api import scene
from tests.api.scene import BASE, api_for, error_of, revoked_api_for
from tests.factories import CannedResponseFactory

pytestmark = pytest.mark.django_db
teams = scene.teams


def shortcuts(response) -> list[tuple[str, bool]]:
    assert response.status_code == 200, response.content[:500]
    return sorted((c["shortcut"], c["shared"]) for c in response.json()["results"])


def test_the_list_is_the_consoles(teams):
    CannedResponseFactory(shortcut="hello", text="Hello from the team")
    CannedResponseFactory(shortcut="refund", text="Shared refund")
    mine = CannedResponseFactory(shortcut="refund", text="My refund", owner=teams["ag_a"])
    theirs = CannedResponseFactory(shortcut="bye", text="Their bye", owner=teams["ag_b"])
    # The caller's own hides the shared one with the same shortcut; another user's own never shows.
    assert shortcuts(api_for(teams["ag_a"], "read").get(f"{BASE}/canned-responses")) == [
        ("hello", True),
        ("refund", False),
    ]
    assert shortcuts(api_for(teams["ag_b"], "read").get(f"{BASE}/canned-responses")) == [
        ("bye", False),
        ("hello", True),
        ("refund", True),
    ]
    error_of(api_for(teams["ag_a"], "read").get(f"{BASE}/canned-responses/{theirs.pk}"), 404)
    assert api_for(teams["ag_a"], "read").get(f"{BASE}/canned-responses/{mine.pk}").json()["text"] == "My refund"
    error_of(revoked_api_for(teams["ag_a"]).get(f"{BASE}/canned-responses"), 401)


def test_agents_only_read_as_in_the_admin(teams):
    shared = CannedResponseFactory(shortcut="hello", text="Hi")
    agent = api_for(teams["ag_a"])
    error_of(agent.post_json(f"{BASE}/canned-responses", {"shortcut": "x", "title": "X", "text": "x"}), 403)
    error_of(agent.patch_json(f"{BASE}/canned-responses/{shared.pk}", {"text": "changed"}), 403)
    error_of(agent.delete(f"{BASE}/canned-responses/{shared.pk}"), 403)
    assert CannedResponse.objects.get().text == "Hi"


def test_a_supervisor_makes_edits_and_deletes(teams):
    api = api_for(teams["sup_a"])
    response = api.post_json(
        f"{BASE}/canned-responses", {"shortcut": "thanks", "title": "Thanks", "text": "Thank you!", "shared": True}
    )
    assert response.status_code == 201, response.content
    shared_id = response.json()["id"]
    assert CannedResponse.objects.get(pk=shared_id).owner is None
    own = api.post_json(f"{BASE}/canned-responses", {"shortcut": "mine", "title": "Mine", "text": "Only me"}).json()
    assert own["shared"] is False and CannedResponse.objects.get(pk=own["id"]).owner == teams["sup_a"]
    # Agents see the shared one at once, not the supervisor's own.
    assert shortcuts(api_for(teams["ag_b"], "read").get(f"{BASE}/canned-responses")) == [("thanks", True)]
    response = api.patch_json(f"{BASE}/canned-responses/{shared_id}", {"text": "Many thanks!"})
    assert response.status_code == 200 and response.json()["text"] == "Many thanks!"
    response = api.patch_json(f"{BASE}/canned-responses/{shared_id}", {"translations": {"zh-Hans": "非常感谢！"}})
    assert response.status_code == 200 and response.json()["translations"] == {"zh-Hans": "非常感谢！"}
    assert CannedResponse.objects.get(pk=shared_id).translations == {"zh-Hans": "非常感谢！"}
    assert api.delete(f"{BASE}/canned-responses/{own['id']}").status_code == 204
    assert not CannedResponse.objects.filter(pk=own["id"]).exists()


def test_another_users_own_response_is_not_found_for_writes(teams):
    theirs = CannedResponseFactory(shortcut="bye", text="Their bye", owner=teams["ag_b"])
    api = api_for(teams["sup_a"])
    error_of(api.patch_json(f"{BASE}/canned-responses/{theirs.pk}", {"text": "mine now"}), 404)
    error_of(api.delete(f"{BASE}/canned-responses/{theirs.pk}"), 404)
    assert CannedResponse.objects.get(pk=theirs.pk).text == "Their bye"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"shortcut": "has space", "title": "T", "text": "x"}, "shortcut"),
        ({"shortcut": "ok", "title": "", "text": "x"}, "title"),
        ({"shortcut": "ok", "title": "T"}, "text"),
        ({"shortcut": "ok", "title": "T", "text": "\ud800"}, "text"),
        ({"shortcut": "taken", "title": "T", "text": "x", "shared": True}, "shortcut"),
        ({"shortcut": "ok", "title": "T", "text": "x", "translations": {"Chinese": "您好"}}, "translations"),
        ({"shortcut": "ok", "title": "T", "text": "x", "translations": ["您好"]}, "translations"),
    ],
)
def test_bad_input_is_a_clear_400_and_changes_nothing(teams, body, field):
    CannedResponseFactory(shortcut="taken", text="first")
    error = error_of(api_for(teams["sup_a"]).post_json(f"{BASE}/canned-responses", body), 400)
    assert error["code"] == "invalid" and field in error["errors"], error
    assert CannedResponse.objects.count() == 1


def test_a_read_token_reads_and_may_not_write(teams):
    shared = CannedResponseFactory(shortcut="hello", text="Hi")
    reader = api_for(teams["admin"], "read")
    assert reader.get(f"{BASE}/canned-responses/{shared.pk}").status_code == 200
    error_of(reader.post_json(f"{BASE}/canned-responses", {"shortcut": "x", "title": "X", "text": "x"}), 403)
    error_of(reader.delete(f"{BASE}/canned-responses/{shared.pk}"), 403)
    assert CannedResponse.objects.count() == 1
