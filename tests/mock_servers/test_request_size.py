"""Request-size limits through the official SDKs: a body past the real API's documented limit is
refused with the real edge's 413 before the mock parses (or authenticates) it.

Anthropic: 32 MB for Messages and count_tokens, 256 MB for Message Batches, body
``{"error": {"type": "request_too_large", ...}}`` from Cloudflare (SDK: ``ContentTooLargeError``).
OpenAI: 512 MB per request, Cloudflare's HTML 413 page (SDK: ``APIStatusError``, status 413).
The limits are lowered with ``--set`` so that a test sends kilobytes, not hundreds of megabytes;
one Anthropic case uses the shipped 32 MB.
"""

from __future__ import annotations

import json

import anthropic
import httpx
import openai
import pytest

from mock_servers.app import load_profiles
from mock_servers.rules import rules_for

SMALL = ["anthropic.max_request_bytes=100000", "anthropic.batch.max_bytes=200000",
         "openai.max_request_bytes=100000"]
FAST = ["anthropic.latency.median=0.02", "anthropic.latency.p99=0.03", "anthropic.latency.tokens_per_second=50000",
        "openai.latency.median=0.02", "openai.latency.p99=0.03", "openai.latency.tokens_per_second=50000",
        "openai.output_tokens.median=10", "openai.output_tokens.p99=20"]
MODEL = "claude-haiku-4-5"
CLOUDFLARE_BODY = {"error": {"type": "request_too_large", "message": "Request exceeds the maximum size"}}


@pytest.fixture(scope="module")
def mock():
    from harness.runner.mockproc import start_mock

    proc = start_mock(["openai", "anthropic"], time_scale=0.01, sets=SMALL + FAST, seed=3)
    yield proc
    proc.stop()


def _anthropic(mock) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=mock.url("anthropic"), api_key="sk-ant-size", max_retries=0)


def _text(n: int) -> str:
    return "x" * n


def test_shipped_limits_are_the_documented_ones() -> None:
    profiles = load_profiles(["openai", "anthropic"])
    an, oa = profiles["anthropic"], profiles["openai"]
    assert rules_for(an).request_size_limit(an, "/v1/messages") == 32 * 1024**2
    assert rules_for(an).request_size_limit(an, "/v1/messages/count_tokens") == 32 * 1024**2
    assert rules_for(an).request_size_limit(an, "/v1/messages/batches") == 256 * 1024**2
    assert rules_for(an).smallest_request_size_limit(an) == 32 * 1024**2
    assert rules_for(oa).request_size_limit(oa, "/v1/chat/completions") == 512 * 1024**2
    lenient = load_profiles(["anthropic"], overrides=["anthropic.strict=false"])["anthropic"]
    assert rules_for(lenient).request_size_limit(lenient, "/v1/messages") is None


def test_anthropic_messages_past_the_limit_is_content_too_large(mock) -> None:
    client = _anthropic(mock)
    with pytest.raises(anthropic.ContentTooLargeError) as info:
        client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": _text(120_000)}])
    err = info.value
    assert isinstance(err, anthropic.APIStatusError) and err.status_code == 413
    assert err.body == CLOUDFLARE_BODY
    assert "request-id" not in err.response.headers  # the edge answers, not the API
    # just under the limit is served
    ok = client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": _text(90_000)}])
    assert ok.type == "message"


def test_anthropic_count_tokens_past_the_limit(mock) -> None:
    with pytest.raises(anthropic.ContentTooLargeError) as info:
        _anthropic(mock).messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": _text(120_000)}])
    assert info.value.body == CLOUDFLARE_BODY


def test_anthropic_batches_have_their_own_larger_limit(mock) -> None:
    client = _anthropic(mock)

    def reqs(n_bytes: int) -> list[dict]:
        return [{"custom_id": f"c{i}", "params": {"model": MODEL, "max_tokens": 10,
                                                   "messages": [{"role": "user", "content": _text(n_bytes // 3)}]}}
                for i in range(3)]

    # 150 kB: past the Messages limit (100 kB here), within the batch limit (200 kB here)
    batch = client.messages.batches.create(requests=reqs(150_000))
    assert batch.request_counts.processing == 3
    with pytest.raises(anthropic.ContentTooLargeError) as info:
        client.messages.batches.create(requests=reqs(250_000))
    assert info.value.body == CLOUDFLARE_BODY


def test_refused_before_auth_and_parsing(mock) -> None:
    """Cloudflare answers first: no key and a body that is not JSON still get the 413."""
    junk = b"{not json" + b"x" * 120_000
    r = httpx.post(mock.url("anthropic") + "/v1/messages", content=junk, timeout=10,
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json() == CLOUDFLARE_BODY
    r = httpx.post(mock.url("openai") + "/v1/chat/completions", content=junk, timeout=10)
    assert r.status_code == 413 and r.headers["content-type"].startswith("text/html")


def test_openai_past_the_limit_is_the_edges_html_413(mock) -> None:
    client = openai.OpenAI(base_url=mock.url("openai") + "/v1", api_key="sk-size", max_retries=0)
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": _text(120_000)}])
    err = info.value
    assert err.status_code == 413 and not isinstance(err, openai.RateLimitError)
    assert err.response.headers["content-type"].startswith("text/html")
    assert "<title>413 Request Entity Too Large</title>" in err.response.text and "cloudflare" in err.response.text
    ok = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": _text(50_000)}])
    assert ok.choices[0].message.content


def test_a_413_is_not_retried_nor_a_rate_limit(mock) -> None:
    """A 413 is permanent: with retries on, each SDK sends the request once and raises its own
    class (not RateLimitError); no bucket counts it."""
    sent: list[str] = []
    hooks = {"request": [lambda request: sent.append(str(request.url))]}
    an = anthropic.Anthropic(base_url=mock.url("anthropic"), api_key="sk-ant-size", max_retries=3,
                             http_client=anthropic.DefaultHttpxClient(event_hooks=hooks, timeout=10))
    with pytest.raises(anthropic.ContentTooLargeError):
        an.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": _text(120_000)}])
    oa = openai.OpenAI(base_url=mock.url("openai") + "/v1", api_key="sk-size", max_retries=3,
                       http_client=openai.DefaultHttpxClient(event_hooks=hooks, timeout=10))
    with pytest.raises(openai.APIStatusError) as info:
        oa.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": _text(120_000)}])
    assert info.value.status_code == 413 and not isinstance(info.value, openai.RateLimitError)
    assert len(sent) == 2, sent  # one each
    metrics = httpx.get(mock.base_url + "/metrics", timeout=5).text
    assert "mock_rate_limited_total{" not in metrics


def test_admin_change_of_the_limit_takes_effect(mock_server) -> None:
    mock = mock_server(["anthropic"], time_scale=0.01, sets=FAST[:3], seed=2)
    client = _anthropic(mock)
    ok = client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": _text(5000)}])
    assert ok.type == "message"
    r = httpx.patch(mock.base_url + "/admin/profiles/anthropic", content=json.dumps({"max_request_bytes": 2000}),
                    timeout=5)
    assert r.status_code == 200
    with pytest.raises(anthropic.ContentTooLargeError):
        client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": _text(5000)}])
    httpx.patch(mock.base_url + "/admin/profiles/anthropic", content=json.dumps({"strict": False}), timeout=5)
    lenient = client.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": _text(5000)}])
    assert lenient.type == "message"
