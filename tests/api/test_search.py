"""`GET /search` of the integrator API: the console's search (tests/ui/test_search_api.py) with a bearer key."""

from __future__ import annotations

from django.test import Client

from imsubsystem.models import Label
from tests.ui.test_search_api import scene  # noqa: F401 - the same conversations

REST = "/api/rest/v1/"


def test_the_rest_api_answers_the_same_search(scene, make_api_client):  # noqa: F811
    api = make_api_client(scene["mine"])
    answer = api.get(REST + "search", {"q": "申请退款"}).json()
    assert [c["id"] for c in answer["conversations"]] == [scene["own"].pk]
    assert answer["next_cursor"] is None
    refused = api.get(REST + "search", {"q": "退"})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid"
    assert api.get(REST + "search", {"q": "refund", "status": "nope"}).status_code == 400
    assert api.get(REST + "search", {"q": "到账"}).json()["conversations"] == []


def test_the_rest_api_filters_by_label_and_shows_labels(scene, make_api_client):  # noqa: F811
    label = Label.objects.create(name="Refunds", colour="#00aa00")
    scene["own"].labels.add(label)
    api = make_api_client(scene["mine"])
    answer = api.get(REST + "search", {"q": "refund", "label": label.pk}).json()
    assert [c["id"] for c in answer["conversations"]] == [scene["own"].pk]
    assert answer["conversations"][0]["labels"] == [{"id": label.pk, "name": "Refunds", "colour": "#00aa00"}]
    assert api.get(REST + "search", {"q": "refund", "label": label.pk + 1}).json()["conversations"] == []
    assert api.get(REST + "search", {"q": "refund", "label": "x"}).status_code == 400
    schema = Client().get(REST + "schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    search = schema["paths"]["/api/rest/v1/search"]["get"]
    assert "label" in [p["name"] for p in search["parameters"]]
