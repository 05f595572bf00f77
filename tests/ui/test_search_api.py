"""The console's search box endpoints (interface/api_agent/search.py) and the REST API's /search, over the
switch's search (imsubsystem/selectors/search.py): the one visibility rule, filters read through one list,
forged values refused, Chinese words, contacts, snippets marked, pages by cursor."""

from __future__ import annotations

import pytest

from crm.roles import AGENT, SUPERVISOR
from imsubsystem import selectors, services
from imsubsystem.models import ConversationStatus, Label
from imsubsystem.selectors import search as search_module
from supervisor.models import Team
from tests.factories import ContactFactory, ConversationFactory, UserFactory
from tests.factories.routing import QueueFactory

API = "/api/v1/agent/"


def _conversation(agent, *texts, queue=None, status="assigned", contact=None):
    extra = {"queue": queue} if queue is not None else {}
    conversation = ConversationFactory(
        assignee=agent, status=status, **extra, **({"contact": contact} if contact else {})
    )
    for text in texts:
        services.message_send(conversation_id=conversation.pk, sender_kind="customer", text=text)
    return conversation


@pytest.fixture
def scene(db):
    sales, support = QueueFactory(name="Sales"), QueueFactory(name="Support")
    mine = UserFactory(username="agent-mine", role=AGENT)
    other = UserFactory(username="agent-other", role=AGENT)
    boss = UserFactory(username="super-sales", role=SUPERVISOR)
    team = Team.objects.create(name="Sales team")
    team.supervisors.set([boss])
    team.queues.set([sales])
    alice = ContactFactory(name="Alice Refundson")
    own = _conversation(mine, "I want a refund for order 778", "我想申请退款，订单号12345", queue=sales, contact=alice)
    theirs = _conversation(other, "Refund please, <b>now</b>", "退款什么时候到账", queue=support)
    return {"mine": mine, "other": other, "boss": boss, "own": own, "theirs": theirs, "sales": sales, "alice": alice}


def _get(client, user, **params):
    client.force_login(user)
    return client.get(API + "search", params)


def test_an_agent_finds_only_their_own_conversations(client, scene):
    answer = _get(client, scene["mine"], q="refund").json()
    assert [c["id"] for c in answer["conversations"]] == [scene["own"].pk]
    found = answer["conversations"][0]
    assert found["mine"] is True
    assert found["message"]["snippet"] == {"text": "I want a refund for order 778", "marks": [[9, 15]]}
    # Another team's conversation is not found, by any of its words.
    assert _get(client, scene["mine"], q="到账").json()["conversations"] == []
    other = _get(client, scene["other"], q="refund").json()
    assert [c["id"] for c in other["conversations"]] == [scene["theirs"].pk]
    assert other["conversations"][0]["message"]["snippet"]["text"] == "Refund please, <b>now</b>"


def test_a_supervisor_finds_their_teams_queue_and_an_admin_everything(client, scene, admin_user):
    boss = _get(client, scene["boss"], q="退款").json()
    assert [c["id"] for c in boss["conversations"]] == [scene["own"].pk]
    assert boss["conversations"][0]["mine"] is False
    everything = _get(client, admin_user, q="退款").json()
    assert [c["id"] for c in everything["conversations"]] == [scene["theirs"].pk, scene["own"].pk]


def test_chinese_words_of_two_and_four_characters_with_marks(client, scene):
    for query, marks in (("退款", [[4, 6]]), ("申请退款", [[2, 6]]), ("订单号 12345", [[7, 15]])):
        answer = _get(client, scene["mine"], q=query).json()
        assert [c["id"] for c in answer["conversations"]] == [scene["own"].pk], query
        assert answer["conversations"][0]["message"]["snippet"] == {"text": "我想申请退款，订单号12345", "marks": marks}
    assert _get(client, scene["mine"], q="退款单").json()["conversations"] == []


def test_a_query_without_a_two_character_word_is_refused(client, scene):
    for query in ("退", "a", "", "x" * 201):
        response = _get(client, scene["mine"], q=query)
        assert response.status_code == 400, query
        assert response.json()["error"]["code"] == "invalid"
    assert _get(client, scene["mine"], q="退").json()["error"]["reason"] == "query_too_short"


@pytest.mark.parametrize(
    "forged",
    [
        {"status": "deleted"},
        {"inbox": "1 OR 1=1"},
        {"queue": "-3"},
        {"agent": "٣"},
        {"agent": str(2**64)},
        {"since": "yesterday"},
        {"until": "2026-02-30"},
        {"since": "2026-03-02", "until": "2026-03-01"},
        {"cursor": "0"},
        {"limit": "201"},
        {"label": "vip"},
        {"label": "0"},
    ],
)
def test_forged_filters_are_refused(client, scene, forged):
    response = _get(client, scene["mine"], q="refund", **forged)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_filters_narrow_within_what_the_user_may_see(client, scene, admin_user):
    own, theirs = scene["own"], scene["theirs"]

    def ids(**filters):
        return [c["id"] for c in _get(client, admin_user, q="refund", **filters).json()["conversations"]]

    assert ids() == [theirs.pk, own.pk]
    assert ids(queue=scene["sales"].pk) == [own.pk]
    assert ids(agent=scene["other"].pk) == [theirs.pk]
    assert ids(inbox=theirs.inbox_id) == [theirs.pk]
    assert ids(status="closed") == []
    assert ids(status="assigned") == [theirs.pk, own.pk]
    assert ids(since="2000-01-01", until="2000-01-02") == []
    # A filter naming another team's queue finds nothing for an agent: filters only narrow.
    assert [
        c["id"] for c in _get(client, scene["mine"], q="refund", agent=scene["other"].pk).json()["conversations"]
    ] == []


def test_the_label_filter_and_the_labels_of_each_conversation_found(client, scene, admin_user):
    own, theirs = scene["own"], scene["theirs"]
    vip = Label.objects.create(name="VIP", colour="#aa0000")
    old = Label.objects.create(name="Old", is_active=False)
    own.labels.set([vip, old])

    def found(user, **filters):
        return _get(client, user, q="refund", **filters).json()["conversations"]

    assert [c["id"] for c in found(admin_user, label=vip.pk)] == [own.pk]
    assert [c["id"] for c in found(admin_user, label=old.pk)] == [own.pk]
    by_id = {c["id"]: c for c in found(admin_user)}
    assert by_id[own.pk]["labels"] == [
        {"id": old.pk, "name": "Old", "colour": "#6b7280"},
        {"id": vip.pk, "name": "VIP", "colour": "#aa0000"},
    ]
    assert by_id[theirs.pk]["labels"] == []
    # Filters only narrow: another's labelled conversation stays out of sight.
    theirs.labels.set([vip])
    assert [c["id"] for c in found(scene["mine"], label=vip.pk)] == [own.pk]
    assert found(scene["mine"], label=999_999) == []
    client.force_login(scene["mine"])
    filters = client.get(API + "search/filters").json()["filters"]
    label = next(f for f in filters if f["name"] == "label")
    assert label["kind"] == "id"
    assert label["options"] == [{"value": old.pk, "label": "Old"}, {"value": vip.pk, "label": "VIP"}]


def _contacts(client, user, query):
    client.force_login(user)
    return client.get(API + "search/contacts", {"q": query}).json()["contacts"]


def test_contacts_are_found_by_their_fields_and_by_message_text(client, scene):
    assert _get(client, scene["mine"], q="Refundson").json()["conversations"] == []
    by_name = _contacts(client, scene["mine"], "Refundson")
    assert [c["id"] for c in by_name] == [scene["alice"].pk]
    assert by_name[0]["url"] == scene["alice"].get_absolute_url()
    # The CRM's contact search finds message text through the same message search.
    assert scene["own"].contact_id in [c["id"] for c in _contacts(client, scene["mine"], "12345")]
    assert scene["theirs"].contact_id not in [c["id"] for c in _contacts(client, scene["mine"], "到账")]
    assert _contacts(client, scene["mine"], "  ") == []
    client.force_login(scene["mine"])
    assert client.get(API + "search/contacts", {"q": "x" * 201}).status_code == 400


def test_pages_by_cursor_and_a_bounded_window(client, scene, monkeypatch):
    mine = scene["mine"]
    for n in range(5):
        _conversation(mine, f"refund number {n}")
    first = _get(client, mine, q="refund", limit=2).json()
    assert len(first["conversations"]) == 2 and first["next_cursor"]
    seen = [c["id"] for c in first["conversations"]]
    cursor = first["next_cursor"]
    while cursor:
        page = _get(client, mine, q="refund", limit=2, cursor=cursor).json()
        seen += [c["id"] for c in page["conversations"]]
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 6
    # A window smaller than what the user may not see: a page ends early with a cursor to go on.
    monkeypatch.setattr(search_module, "SCAN_WINDOW", 2)
    other = scene["other"]
    for n in range(3):
        _conversation(other, f"refund elsewhere {n}")
    page = selectors.conversations_search(user=mine, query="refund", limit=10)
    assert page["conversations"] == [] and page["next_cursor"]
    found = []
    cursor = None
    for _ in range(10):
        page = selectors.conversations_search(user=mine, query="refund", limit=10, cursor=cursor)
        found += [c["id"] for c in page["conversations"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(found) == 6


def test_the_filters_the_console_builds_its_controls_from(client, scene):
    client.force_login(scene["mine"])
    filters = client.get(API + "search/filters").json()["filters"]
    assert [f["name"] for f in filters] == [spec.name for spec in selectors.SEARCH_FILTERS]
    status = next(f for f in filters if f["name"] == "status")
    assert [o["value"] for o in status["options"]] == list(ConversationStatus.values)
    queue = next(f for f in filters if f["name"] == "queue")
    assert {"value": scene["sales"].pk, "label": "Sales"} in queue["options"]


def test_the_console_endpoints_need_a_console_role(client, db):
    assert client.get(API + "search", {"q": "refund"}).status_code in (401, 403)
    nobody = UserFactory(username="nobody")
    nobody.groups.clear()
    client.force_login(nobody)
    assert client.get(API + "search", {"q": "refund"}).status_code == 403


def test_two_words_counted_at_the_cap_still_read_a_bounded_window(scene, monkeypatch):
    for n in range(4):
        _conversation(scene["other"], f"refund order {n}")
    monkeypatch.setattr(search_module, "RAREST_PROBE", 2)
    monkeypatch.setattr(search_module, "FIRST_WINDOW", 3)
    monkeypatch.setattr(search_module, "SCAN_WINDOW", 3)
    # Both words are in more messages than counted: the newest 3 rows are the page's window, all of them
    # another agent's, so the page is empty and says where to go on; the next one finds the agent's own.
    page = selectors.conversations_search(user=scene["mine"], query="refund order", limit=10)
    assert page["conversations"] == [] and page["next_cursor"]
    found = selectors.conversations_search(user=scene["mine"], query="refund order", cursor=page["next_cursor"])
    assert [c["id"] for c in found["conversations"]] == [scene["own"].pk]


def test_the_console_searches_share_one_budget_per_user(client, scene, monkeypatch):
    """Conversations and contacts draw on one budget per user; past it, 429 with Retry-After, and another
    user's searches still answer."""
    from interface.api_agent import search as search_views

    monkeypatch.setattr(search_views, "SEARCHES_PER_MINUTE", 3)
    client.force_login(scene["mine"])
    assert client.get(API + "search", {"q": "refund"}).status_code == 200
    assert client.get(API + "search/contacts", {"q": "refund"}).status_code == 200
    assert client.get(API + "search", {"q": "refund"}).status_code == 200
    refused = client.get(API + "search/contacts", {"q": "refund"})
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited" and refused["Retry-After"] == "60"
    assert client.get(API + "search", {"q": "refund"}).status_code == 429
    assert _get(client, scene["other"], q="refund").status_code == 200
