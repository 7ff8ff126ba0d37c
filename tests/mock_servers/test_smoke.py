"""The server starts, says where each provider lives and answers its health check."""

import json
import urllib.request


def test_healthz_lists_every_provider(mock_server):
    mock = mock_server(["openai", "anthropic", "cardgenius", "spapi", "keepa", "drive", "research", "email"])
    with urllib.request.urlopen(mock.base_url + "/healthz", timeout=5) as r:
        body = json.loads(r.read())
    assert body["status"] == "ok"
    assert set(body["providers"]) == {"openai", "anthropic", "cardgenius", "spapi", "keepa", "drive", "research", "email"}
    assert body["providers"]["openai"] == "/openai"
