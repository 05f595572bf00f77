"""Conversations through the integrator API: who sees which (the one visibility rule, 404 for the rest),
the list's filters and cursor, and the actions (assign, transfer, close, reopen) through the switch's and
the supervisor's services, each with its effect in MySQL and each refused for the wrong caller."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from api.tokens import token_revoke
from crm.models import Tag
from imsubsystem import services as switch
from imsubsystem.models import Conversation, Message
from imsubsystem.selectors import user_display_name
from tests.api.scene_conversations import BASE, assigned_conversation, build_teams, waiting_conversation
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # the supervisor's scope is cached for a moment
    yield
    cache.clear()


@pytest.fixture
def scene(db, django_capture_on_commit_callbacks):
    """The teams, and three conversations: ag-a's (Sales), one waiting in Sales, ag-b's (Support)."""
    scene = build_teams()
    commit = django_capture_on_commit_callbacks
    scene["mine"] = assigned_conversation(scene["sales_inbox"], scene["ag_a"], by=scene["admin"], commit=commit)
    scene["waiting"] = waiting_conversation(scene["sales_inbox"], commit=commit)
    scene["theirs"] = assigned_conversation(scene["support_inbox"], scene["ag_b"], by=scene["admin"], commit=commit)
    return scene


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [c["id"] for c in response.json()["results"]]


# --- Who sees what ------------------------------------------------------------------------------------
def test_an_agent_lists_only_their_own(scene, make_api_client):
    assert ids(make_api_client(scene["ag_a"], scope="read").get(f"{BASE}/conversations")) == [scene["mine"].pk]


def test_a_supervisor_lists_their_teams_queues_and_an_admin_everything(scene, make_api_client):
    sales = {scene["mine"].pk, scene["waiting"].pk}
    assert set(ids(make_api_client(scene["sup_a"]).get(f"{BASE}/conversations"))) == sales
    assert set(ids(make_api_client(scene["sup_b"]).get(f"{BASE}/conversations"))) == {scene["theirs"].pk}
    everything = ids(make_api_client(scene["admin"]).get(f"{BASE}/conversations"))
    assert everything == sorted(sales | {scene["theirs"].pk}, reverse=True)  # newest first


@pytest.mark.parametrize(
    ("who", "which", "status"),
    [
        ("ag_a", "mine", 200),
        ("ag_a", "waiting", 404),  # in the agent's queue, but not theirs
        ("ag_a", "theirs", 404),
        ("sup_a", "waiting", 200),
        ("sup_b", "mine", 404),  # a supervisor of another team
        ("admin", "theirs", 200),
    ],
)
def test_reading_one_follows_the_visibility_rule(scene, make_api_client, who, which, status):
    response = make_api_client(scene[who], scope="read").get(f"{BASE}/conversations/{scene[which].pk}")
    assert response.status_code == status
    if status == 200:
        body = response.json()
        assert body["id"] == scene[which].pk and body["status"] == scene[which].status
        assert body["inbox"]["id"] == scene[which].inbox_id and body["queue"]["id"] == scene[which].queue_id
    else:
        # Exactly what an id that does not exist answers: nothing tells the two apart.
        missing = make_api_client(scene[who], scope="read").get(f"{BASE}/conversations/99999999")
        assert (
            response.json()
            == missing.json()
            == {"error": {"code": "not_found", "detail": "No such object, or it is not yours."}}
        )


@pytest.mark.parametrize("raw", ["abc", "1.5", "-1", "99999999999999999999999"])
def test_an_id_that_is_no_id_is_not_found(scene, make_api_client, raw):
    response = make_api_client(scene["admin"]).get(f"{BASE}/conversations/{raw}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_the_conversation_names_its_parts(scene, make_api_client):
    body = make_api_client(scene["admin"]).get(f"{BASE}/conversations/{scene['mine'].pk}").json()
    assert body["assignee"]["id"] == scene["ag_a"].pk
    assert body["contact"]["id"] == scene["mine"].contact_id
    assert body["inbox"] == {"id": scene["sales_inbox"].pk, "kind": "web", "name": scene["sales_inbox"].name}
    assert body["queue"] == {"id": scene["sales"].pk, "name": "Sales"}


# --- Filters and the cursor ---------------------------------------------------------------------------
def test_filters(scene, make_api_client, django_capture_on_commit_callbacks):
    tagged = ContactFactory(tags=[Tag.objects.create(name="vip")])
    vip = waiting_conversation(scene["support_inbox"], contact=tagged, commit=django_capture_on_commit_callbacks).pk
    api = make_api_client(scene["admin"], scope="read")
    mine, waiting, theirs = scene["mine"].pk, scene["waiting"].pk, scene["theirs"].pk

    def listed(query: str) -> set[int]:
        return set(ids(api.get(f"{BASE}/conversations?{query}")))

    assert listed("status=queued") == {waiting, vip}
    assert listed("status=queued&status=assigned") == {mine, waiting, theirs, vip}
    assert listed(f"inbox={scene['support_inbox'].pk}") == {theirs, vip}
    assert listed(f"queue={scene['sales'].pk}") == {mine, waiting}
    assert listed(f"agent={scene['ag_b'].pk}") == {theirs}
    assert listed(f"contact={tagged.pk}") == {vip}
    assert listed("contact_tag=vip") == {vip}
    assert listed("contact_tag=nobody") == set()
    Conversation.objects.filter(pk=mine).update(created_at=timezone.now() - timedelta(days=3))
    since = (timezone.now() - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert listed(f"created_after={since}") == {waiting, theirs, vip}
    assert listed(f"created_before={since}") == {mine}
    # A filter narrows what the caller may see; it never widens it.
    assert set(ids(make_api_client(scene["ag_a"]).get(f"{BASE}/conversations?queue={scene['support'].pk}"))) == set()


@pytest.mark.parametrize(
    "query", ["status=open", "inbox=x", "queue=1.5", "agent=", "created_after=yesterday", "contact_tag=" + "x" * 65]
)
def test_a_bad_filter_is_invalid_in_the_one_error_shape(scene, make_api_client, query):
    response = make_api_client(scene["admin"]).get(f"{BASE}/conversations?{query}")
    if query == "agent=":  # an empty filter is no filter
        assert response.status_code == 200
        return
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and error["errors"]


def test_the_cursor_walks_the_whole_list_once(scene, make_api_client, django_capture_on_commit_callbacks):
    for _ in range(3):
        waiting_conversation(scene["sales_inbox"], commit=django_capture_on_commit_callbacks)
    api = make_api_client(scene["admin"], scope="read")
    seen, url = [], f"{BASE}/conversations?limit=2"
    while url:
        response = api.get(url)
        body = response.json()
        assert len(body["results"]) <= 2
        seen += [c["id"] for c in body["results"]]
        url = body["next"]
    assert seen == sorted(Conversation.objects.values_list("pk", flat=True), reverse=True)


# --- Tokens ---------------------------------------------------------------------------------------------
def endpoints(scene) -> list[tuple[str, str, dict]]:
    pk = scene["mine"].pk
    return [
        ("get", f"{BASE}/conversations", {}),
        ("get", f"{BASE}/conversations/{pk}", {}),
        ("get", f"{BASE}/conversations/{pk}/messages", {}),
        ("post", f"{BASE}/conversations/{pk}/assign", {"agent_id": scene["ag_a2"].pk}),
        ("post", f"{BASE}/conversations/{pk}/transfer", {"queue_id": scene["support"].pk}),
        ("post", f"{BASE}/conversations/{pk}/close", {"reason": "done"}),
        ("post", f"{BASE}/conversations/{pk}/reopen", {}),
        ("post", f"{BASE}/conversations/{pk}/messages", {"text": "hello"}),
    ]


def state(conversation) -> tuple:
    row = Conversation.objects.filter(pk=conversation.pk).values("status", "queue_id", "assignee_id", "last_seq").get()
    return row, Message.objects.filter(conversation=conversation).count()


def test_a_revoked_token_is_refused_everywhere(scene, make_api_client):
    api = make_api_client(scene["admin"])
    token_revoke(token=api.token)
    before = state(scene["mine"])
    for method, url, body in endpoints(scene):
        response = api.get(url) if method == "get" else api.post_json(url, body)
        assert response.status_code == 401, (url, response.content)
        assert response.json()["error"] == {"code": "auth_failed", "detail": "The key is revoked.", "reason": "revoked"}
    assert state(scene["mine"]) == before


def test_a_read_token_reads_and_every_write_is_refused(scene, make_api_client):
    api = make_api_client(scene["admin"], scope="read")
    before = state(scene["mine"])
    for method, url, body in endpoints(scene):
        if method == "get":
            assert api.get(url).status_code == 200, url
        else:
            response = api.post_json(url, body)
            assert response.status_code == 403, (url, response.content)
            assert response.json()["error"] == {"code": "forbidden", "detail": "This token may only read."}
    assert state(scene["mine"]) == before


@pytest.mark.parametrize("who", ["ag_b", "sup_b"])
def test_every_endpoint_answers_not_found_for_a_conversation_that_is_not_yours(scene, make_api_client, who):
    api = make_api_client(scene[who])
    before = state(scene["mine"])
    for method, url, body in endpoints(scene)[1:]:
        response = api.get(url) if method == "get" else api.post_json(url, body)
        assert response.status_code == 404, (url, response.content)
        assert response.json()["error"]["code"] == "not_found"
    assert state(scene["mine"]) == before


# --- Assign ---------------------------------------------------------------------------------------------
def test_a_supervisor_assigns_to_an_agent_of_their_team(scene, make_api_client, django_capture_on_commit_callbacks):
    conversation = scene["waiting"]
    with django_capture_on_commit_callbacks(execute=True):
        response = make_api_client(scene["sup_a"]).post_json(
            f"{BASE}/conversations/{conversation.pk}/assign", {"agent_id": scene["ag_a2"].pk}
        )
    assert response.status_code == 200, response.content
    conversation.refresh_from_db()
    assert (conversation.status, conversation.assignee_id) == ("assigned", scene["ag_a2"].pk)
    assert Message.objects.filter(conversation=conversation, private=True, text__startswith="Transferred to").exists()


def test_an_admin_assigns_anywhere(scene, make_api_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = make_api_client(scene["admin"]).post_json(
            f"{BASE}/conversations/{scene['theirs'].pk}/assign", {"agent_id": scene["ag_a"].pk}
        )
    assert response.status_code == 200, response.content
    assert Conversation.objects.get(pk=scene["theirs"].pk).assignee_id == scene["ag_a"].pk


def test_assigning_is_for_supervisors_and_inside_their_teams(scene, make_api_client):
    before = state(scene["mine"])
    # An agent may see their conversation but not assign it.
    response = make_api_client(scene["ag_a"]).post_json(
        f"{BASE}/conversations/{scene['mine'].pk}/assign", {"agent_id": scene["ag_a2"].pk}
    )
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    # A supervisor may not hand their conversation to another team's agent (who is "not found" to them).
    response = make_api_client(scene["sup_a"]).post_json(
        f"{BASE}/conversations/{scene['mine'].pk}/assign", {"agent_id": scene["ag_b"].pk}
    )
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    response = make_api_client(scene["sup_a"]).post_json(f"{BASE}/conversations/{scene['mine'].pk}/assign", {})
    assert response.status_code == 400 and "agent_id" in response.json()["error"]["errors"]
    assert state(scene["mine"]) == before


# --- Transfer -------------------------------------------------------------------------------------------
def test_an_agent_transfers_their_conversation_to_a_queue_with_a_note(
    scene, make_api_client, django_capture_on_commit_callbacks
):
    conversation = scene["mine"]
    seq_before = conversation.last_seq
    with django_capture_on_commit_callbacks(execute=True):
        response = make_api_client(scene["ag_a"]).post_json(
            f"{BASE}/conversations/{conversation.pk}/transfer",
            {"queue_id": scene["support"].pk, "note": "Wants a refund <b>now</b>"},
        )
    assert response.status_code == 200, response.content
    conversation.refresh_from_db()
    assert (conversation.status, conversation.queue_id, conversation.assignee_id) == (
        "queued",
        scene["support"].pk,
        None,
    )
    notes = list(
        Message.objects.filter(conversation=conversation, seq__gt=seq_before)
        .order_by("seq")
        .values_list("sender_kind", "private", "text")
    )
    assert notes == [
        ("system", True, f"Transferred to Support by {user_display_name(scene['ag_a'])}."),
        ("agent", True, "Wants a refund <b>now</b>"),
    ]
    # The same service as the console's: the note is the one the receiving agent's offer shows.
    assert conversation.transfer_note.text == "Wants a refund <b>now</b>"
    # Passed on: the agent may no longer see it.
    assert make_api_client(scene["ag_a"]).get(f"{BASE}/conversations/{conversation.pk}").status_code == 404


@pytest.mark.parametrize(
    "body",
    [{}, {"queue_id": 1, "agent_id": 2}, {"queue_id": "x"}, {"queue_id": 0}, {"agent_id": 1, "note": 5 * "x" * 1000}],
)
def test_a_bad_transfer_is_invalid_and_changes_nothing(scene, make_api_client, body):
    before = state(scene["mine"])
    response = make_api_client(scene["ag_a"]).post_json(f"{BASE}/conversations/{scene['mine'].pk}/transfer", body)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid"
    assert state(scene["mine"]) == before


def test_a_transfer_to_an_unknown_queue_is_refused_and_changes_nothing(scene, make_api_client):
    before = state(scene["mine"])
    response = make_api_client(scene["ag_a"]).post_json(
        f"{BASE}/conversations/{scene['mine'].pk}/transfer", {"queue_id": 999999, "note": "lost"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_queue"
    assert state(scene["mine"]) == before


# --- Close and reopen ---------------------------------------------------------------------------------
def test_close_with_a_reason_then_reopen(scene, make_api_client, django_capture_on_commit_callbacks):
    conversation = scene["mine"]
    api = make_api_client(scene["ag_a"])
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post_json(f"{BASE}/conversations/{conversation.pk}/close", {"reason": "Refund sent."})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "closed" and body["wrap_up"] == "Refund sent." and body["closed_at"]
    # Closed twice: refused.
    again = api.post_json(f"{BASE}/conversations/{conversation.pk}/close", {})
    assert again.status_code == 409 and again.json()["error"]["code"] == "illegal_transition"
    # Messages into a closed conversation are refused too.
    refused = api.post_json(f"{BASE}/conversations/{conversation.pk}/messages", {"text": "one more thing"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "conversation_closed"

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post_json(f"{BASE}/conversations/{conversation.pk}/reopen")
    assert response.status_code == 200, response.content
    conversation.refresh_from_db()
    assert conversation.status == "queued" and conversation.closed_at is None
    assert conversation.open_slot == f"{conversation.inbox_id}:{conversation.contact_id}"
    last = Message.objects.filter(conversation=conversation).order_by("-seq").first()
    reopened = ("system", True, f"Reopened by {user_display_name(scene['ag_a'])}.", 2)
    assert (last.sender_kind, last.private, last.text, last.seq) == reopened


def test_an_open_conversation_is_not_reopened(scene, make_api_client):
    response = make_api_client(scene["ag_a"]).post_json(f"{BASE}/conversations/{scene['mine'].pk}/reopen")
    assert response.status_code == 409 and response.json()["error"]["code"] == "illegal_transition"


def test_no_reopen_while_the_customer_has_another_open_conversation_in_the_inbox(
    scene, make_api_client, django_capture_on_commit_callbacks, settings
):
    settings.IM_REOPEN_WINDOW_S = 0  # the customer's next conversation is a new one
    conversation = scene["mine"]
    with django_capture_on_commit_callbacks(execute=True):
        switch.conversation_close(conversation_id=conversation.pk)
    newer = waiting_conversation(
        scene["sales_inbox"], contact=conversation.contact, commit=django_capture_on_commit_callbacks
    )
    assert newer.pk != conversation.pk
    before = state(conversation)
    response = make_api_client(scene["admin"]).post_json(f"{BASE}/conversations/{conversation.pk}/reopen")
    assert response.status_code == 409
    assert "another open conversation" in response.json()["error"]["detail"]
    assert state(conversation) == before


def test_the_schema_describes_every_conversation_operation(db):
    from django.test import Client

    paths = Client().get(f"{BASE}/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"]
    for path in ["", "/{id}", "/{id}/assign", "/{id}/transfer", "/{id}/close", "/{id}/reopen"]:
        assert f"{BASE}/conversations{path}" in paths
    assert set(paths[f"{BASE}/conversations/{{conversation_id}}/messages"]) >= {"get", "post"}


# --- Mentions ---------------------------------------------------------------------------------------------
def test_a_note_mentioning_a_colleague_lets_them_see_the_conversation_but_not_act_on_it(
    scene, make_api_client, django_capture_on_commit_callbacks
):
    from imsubsystem.models import Notification

    conversation = scene["mine"]
    colleague = make_api_client(scene["ag_a2"])
    assert colleague.get(f"{BASE}/conversations/{conversation.pk}").status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        response = make_api_client(scene["ag_a"]).post_json(
            f"{BASE}/conversations/{conversation.pk}/messages",
            {"text": "@ag-a2 a second opinion?", "private": True, "mentions": [scene["ag_a2"].pk]},
        )
    assert response.status_code == 201, response.content
    notification = Notification.objects.get()
    assert (notification.user_id, notification.actor_id, notification.message_id) == (
        scene["ag_a2"].pk,
        scene["ag_a"].pk,
        response.json()["id"],
    )
    assert colleague.get(f"{BASE}/conversations/{conversation.pk}").status_code == 200
    assert colleague.get(f"{BASE}/conversations/{conversation.pk}/messages").status_code == 200
    before = state(conversation)
    messages = Message.objects.count()
    for path, body in (
        ("close", {}),
        ("transfer", {"queue_id": scene["support"].pk}),
        ("messages", {"text": "Hello customer"}),
    ):
        answer = colleague.post_json(f"{BASE}/conversations/{conversation.pk}/{path}", body)
        assert answer.status_code == 404, (path, answer.content)
    assert state(conversation) == before and Message.objects.count() == messages
    answer = colleague.post_json(
        f"{BASE}/conversations/{conversation.pk}/messages", {"text": "Agreed", "private": True}
    )
    assert answer.status_code == 201


@pytest.mark.parametrize("mentions", [[999999], ["x"], "1", [10**30]])
def test_a_note_mentioning_someone_unknown_is_refused_and_stores_nothing(scene, make_api_client, mentions):
    from imsubsystem.models import Notification

    before = Message.objects.count()
    response = make_api_client(scene["ag_a"]).post_json(
        f"{BASE}/conversations/{scene['mine'].pk}/messages", {"text": "@x", "private": True, "mentions": mentions}
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"
    assert Message.objects.count() == before and not Notification.objects.exists()
