"""Wire details: gzip for large bodies when the client accepts it, JSON errors in each
provider's format where aiohttp would send text (413 past 64 MiB), CORS preflights, and
Anthropic's organization header and rounded token headers.
"""

from __future__ import annotations

import re

import httpx
import pytest

from harness.runner.mockproc import start_mock

SP = {"x-amz-access-token": "Atza|wire"}
SEARCH = "/catalog/2022-04-01/items?marketplaceIds=ATVPDKIKX0DER&keywords=tv"
FAST = ["spapi.latency.median=0.001", "spapi.latency.p99=0.002", "spapi.endpoints.1.rate=1000",
        "spapi.endpoints.1.burst=1000", "openai.latency.median=0.02", "openai.latency.p99=0.03",
        "openai.latency.tokens_per_second=5000", "openai.output_tokens.median=20", "openai.output_tokens.p99=30",
        "anthropic.latency.median=0.05", "anthropic.latency.p99=0.06", "anthropic.latency.tokens_per_second=50000"]


@pytest.fixture(scope="module")
def mock():
    proc = start_mock(["openai", "anthropic", "spapi"], time_scale=0.01, sets=FAST, seed=9)
    yield proc
    proc.stop()


def test_large_bodies_are_gzip_when_accepted(mock):
    body = {"model": "text-embedding-3-small", "input": "a television"}
    with httpx.Client(timeout=10, headers={"Authorization": "Bearer sk-w"}) as http:
        gz = http.post(mock.url("openai") + "/v1/embeddings", json=body, headers={"Accept-Encoding": "gzip"})
        plain = http.post(mock.url("openai") + "/v1/embeddings", json=body, headers={"Accept-Encoding": "identity"})
        sp = http.get(mock.url("spapi") + SEARCH, headers={**SP, "Accept-Encoding": "gzip"})
    assert gz.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert gz.json() == plain.json()
    assert gz.num_bytes_downloaded < plain.num_bytes_downloaded * 0.7
    # SP-API bodies go as they are: the profile's response_bytes are their wire size
    assert sp.status_code == 200 and "content-encoding" not in sp.headers
    # a small chat answer goes as it is
    chat = httpx.post(mock.url("openai") + "/v1/chat/completions", timeout=10,
                      headers={"Authorization": "Bearer sk-w", "Accept-Encoding": "gzip"},
                      json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
    assert chat.status_code == 200 and "content-encoding" not in chat.headers


def test_body_over_64_mib_is_a_json_413_in_the_providers_format(mock):
    big = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"' + b"x" * (65 * 1024 * 1024) + b'"}]}'
    r = httpx.post(mock.url("openai") + "/v1/chat/completions", content=big, timeout=60,
                   headers={"Authorization": "Bearer sk-w", "Content-Type": "application/json"})
    assert r.status_code == 413 and r.headers["content-type"].startswith("application/json")
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["type"] == "invalid_request_error"


def test_wrong_method_on_a_known_path_is_each_providers_own_answer(mock):
    with httpx.Client(timeout=10, headers={"Authorization": "Bearer sk-w", "x-api-key": "sk-ant-w", **SP}) as http:
        oa = http.get(mock.url("openai") + "/v1/chat/completions")
        an = http.get(mock.url("anthropic") + "/v1/messages")
        sp = http.delete(mock.url("spapi") + "/catalog/2022-04-01/items")
        unknown = http.get(mock.url("anthropic") + "/v1/nothing-here")
    # OpenAI routes on method and path: a wrong method is its "Invalid URL" 404
    assert oa.status_code == 404 and "allow" not in oa.headers
    assert oa.json()["error"] == {"message": "Invalid URL (GET /v1/chat/completions)", "type": "invalid_request_error",
                                  "param": None, "code": None}
    assert an.status_code == 405 and an.headers["allow"] == "POST"
    assert an.json()["type"] == "error" and an.json()["error"]["type"] == "invalid_request_error"
    assert sp.status_code == 405 and set(sp.headers["allow"].split(", ")) == {"GET", "HEAD"}
    assert sp.json()["errors"][0]["code"] == "MethodNotAllowed"
    assert unknown.status_code == 404 and unknown.json()["error"]["type"] == "not_found_error"


def test_keepa_wrong_method_is_a_405_in_its_envelope():
    proc = start_mock(["keepa"], time_scale=0.01, seed=9)
    try:
        r = httpx.post(proc.url("keepa") + "/product/?key=k&domain=1&asin=B0088PUEPK", timeout=10)
    finally:
        proc.stop()
    assert r.status_code == 405 and set(r.headers["allow"].split(", ")) == {"GET", "HEAD"}
    assert r.json()["error"]["type"] == "METHOD_NOT_ALLOWED" and "tokensLeft" in r.json()


def test_options_preflight_is_answered(mock):
    r = httpx.options(mock.url("openai") + "/v1/chat/completions", timeout=5)
    assert r.status_code == 204 and r.headers["access-control-allow-origin"] == "*"


def test_anthropic_organization_header_and_rounded_token_headers(mock):
    r = httpx.post(mock.url("anthropic") + "/v1/messages", timeout=10,
                   headers={"x-api-key": "sk-ant-w", "anthropic-version": "2023-06-01"},
                   json={"model": "claude-sonnet-4-5", "max_tokens": 321,
                         "messages": [{"role": "user", "content": "x" * 1234}]})
    assert r.status_code == 200
    assert re.fullmatch(r"[0-9a-f-]{36}", r.headers["anthropic-organization-id"])
    assert r.headers["request-id"].startswith("req_")
    for dim in ("input-tokens", "output-tokens", "tokens"):
        assert int(r.headers[f"anthropic-ratelimit-{dim}-remaining"]) % 1000 == 0  # rounded to the thousand
    assert r.headers["anthropic-ratelimit-requests-remaining"] == "49"  # requests stay exact
