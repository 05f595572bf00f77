"""`GET /search` of the integrator API: the console's search (tests/ui/test_search_api.py) with a bearer key."""

from __future__ import annotations

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
