"""Faults switched on and off through the admin API while the server runs, and the mock's own
Prometheus metrics counting what happened."""

from __future__ import annotations

import concurrent.futures
import json
import time
from typing import Any, Iterator

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness.runner.mockproc import MockProcess, start_mock

HTTP = httpx.Client(timeout=5)  # one client for raw calls: a new one per call costs ~40 ms
ALL = ["openai", "anthropic", "cardgenius", "spapi", "keepa", "drive", "research", "email"]
FAST = [  # fast OpenAI calls, whatever the time scale
    "openai.latency.median=0.02", "openai.latency.p99=0.05", "openai.latency.tokens_per_second=2000",
    "openai.output_tokens.median=10", "openai.output_tokens.p99=30",
]
FAST_ANTHROPIC = [
    "anthropic.models.claude-haiku-4-5.latency.median=0.02", "anthropic.models.claude-haiku-4-5.latency.p99=0.05",
    "anthropic.models.claude-haiku-4-5.latency.tokens_per_second=2000",
    "anthropic.output_tokens.median=10", "anthropic.output_tokens.p99=30",
]
MESSAGES = [{"role": "user", "content": "hi"}]
# one representative call per provider: method, path, headers, JSON body
CALLS: dict[str, tuple[str, str, dict[str, str], Any]] = {
    "openai": ("POST", "/v1/chat/completions", {"Authorization": "Bearer sk-x"},
               {"model": "gpt-5-nano", "messages": MESSAGES}),
    "anthropic": ("POST", "/v1/messages", {"x-api-key": "k", "anthropic-version": "2023-06-01"},
                  {"model": "claude-haiku-4-5", "max_tokens": 50, "messages": MESSAGES}),
    "cardgenius": ("POST", "/v1/recommendations", {"x-api-key": "k"}, {"user_id": 1}),
    "spapi": ("GET", "/catalog/2022-04-01/items/B000TEST01?marketplaceIds=ATVPDKIKX0DER", {"x-amz-access-token": "Atza|x"}, None),
    "keepa": ("GET", "/product?key=k&asin=B000TEST01", {}, None),
    "drive": ("GET", "/drive/v3/files/abc", {"Authorization": "Bearer k"}, None),
    "research": ("POST", "/v1/research", {"Authorization": "Bearer k"}, {"q": "acme"}),
    "email": ("POST", "/v1/emails", {"Authorization": "Bearer k"}, {"to": "a@b.c"}),
}


@pytest.fixture(scope="module")
def shared() -> Iterator[MockProcess]:
    """One server with every provider for the fault tests; each test switches its fault off again.
    SP-API's buckets are widened so repeated calls never meet its (real, tiny) limits."""
    sets = [*FAST, *FAST_ANTHROPIC, "spapi.endpoints.getCatalogItem.rate=1000", "spapi.endpoints.getCatalogItem.burst=1000"]
    mock = start_mock(ALL, time_scale=0.01, sets=sets, seed=1)
    yield mock
    mock.stop()


def _patch(mock: MockProcess, provider: str, changes: dict[str, Any]) -> httpx.Response:
    return HTTP.patch(f"{mock.base_url}/admin/profiles/{provider}", content=json.dumps(changes), timeout=5)


def _call(mock: MockProcess, provider: str, timeout: float = 5.0) -> httpx.Response:
    method, path, headers, body = CALLS[provider]
    return HTTP.request(method, mock.url(provider) + path, headers=headers, json=body, timeout=timeout)


class _Fault:
    """Switch one fault on for the block, and off again whatever happens."""

    def __init__(self, mock: MockProcess, provider: str, kind: str, **extra: Any) -> None:
        self.mock, self.provider, self.kind, self.extra = mock, provider, kind, extra

    def __enter__(self) -> None:
        r = _patch(self.mock, self.provider, {f"faults.{self.kind}": 1.0, **self.extra})
        assert r.status_code == 200, r.text
        assert r.json()["faults"][self.kind] == 1.0

    def __exit__(self, *exc: object) -> None:
        assert _patch(self.mock, self.provider, {f"faults.{self.kind}": 0.0}).status_code == 200


def _metrics(mock: MockProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = HTTP.get(f"{mock.base_url}/metrics", timeout=5).text
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _sample(metrics: dict, name: str, **labels: str) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


# -- each fault kind ------------------------------------------------------------------------

STATUS_FAULTS = [
    ("openai", "error_500", 500), ("openai", "error_503", 503), ("openai", "insufficient_quota", 429),
    ("anthropic", "error_500", 500), ("anthropic", "error_529", 529), ("anthropic", "error_503", 529),
    ("cardgenius", "error_500", 500), ("cardgenius", "error_503", 503),
    ("spapi", "error_500", 500), ("spapi", "error_503", 503),
    ("keepa", "error_500", 500), ("keepa", "error_503", 503),
    ("drive", "error_503", 503), ("research", "error_500", 500), ("email", "error_500", 500),
]


@pytest.mark.parametrize("provider, kind, status", STATUS_FAULTS)
def test_status_faults_answer_in_the_providers_format(shared, provider, kind, status):
    assert _call(shared, provider).status_code == 200
    with _Fault(shared, provider, kind):
        r = _call(shared, provider)
    assert r.status_code == status
    body = r.json()
    if provider == "openai":
        assert set(body["error"]) == {"message", "type", "param", "code"}
    elif provider == "anthropic":
        assert body["type"] == "error" and body["error"]["type"] in ("api_error", "overloaded_error")
    elif provider == "spapi":
        assert body["errors"][0]["code"] in ("InternalFailure", "ServiceUnavailable")
    elif provider == "keepa":
        assert "tokensLeft" in body and body["error"]["type"] == "INTERNAL_SERVER_ERROR"
    else:
        assert body["error"]["code"] == kind
    assert _call(shared, provider).status_code == 200  # off again


@pytest.mark.parametrize("provider", ["openai", "cardgenius", "keepa", "spapi"])
def test_hang_holds_the_connection_past_the_client_timeout(shared, provider):
    # hang_seconds is profile time: 200 s at time_scale 0.01 is 2 s. The client gives up after
    # 0.2 s; anything well short of the 2 s shows it was the client's timeout, not the server
    # letting go (a loaded machine can delay the client's own timer by a few hundred ms), and
    # the server must still hold the request when asked after it.
    with _Fault(shared, provider, "hang", **{"faults.hang_seconds": 200}):
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            _call(shared, provider, timeout=0.2)
        elapsed = time.monotonic() - started
        in_flight = _sample(_metrics(shared), "mock_in_flight_requests", provider=provider)
        assert 0.2 <= elapsed < 1.5, elapsed
        assert in_flight >= 1  # still held by the server


def test_hang_with_the_openai_sdk_is_a_timeout_error(shared):
    client = openai.OpenAI(base_url=f"{shared.url('openai')}/v1", api_key="sk-x", max_retries=0, timeout=0.2)
    with _Fault(shared, "openai", "hang", **{"faults.hang_seconds": 100}):
        with pytest.raises(openai.APITimeoutError):
            client.chat.completions.create(model="gpt-5-nano", messages=MESSAGES)


@pytest.mark.parametrize("provider", ["openai", "anthropic", "cardgenius", "keepa"])
def test_reset_is_a_connection_error(shared, provider):
    with _Fault(shared, provider, "reset"):
        with pytest.raises(httpx.TransportError) as info:
            _call(shared, provider)
    assert not isinstance(info.value, httpx.TimeoutException)


def test_reset_with_the_openai_sdk_is_a_connection_error(shared):
    client = openai.OpenAI(base_url=f"{shared.url('openai')}/v1", api_key="sk-x", max_retries=0)
    with _Fault(shared, "openai", "reset"):
        with pytest.raises(openai.APIConnectionError) as info:
            client.chat.completions.create(model="gpt-5-nano", messages=MESSAGES)
    assert not isinstance(info.value, openai.APITimeoutError)


@pytest.mark.parametrize("provider", ["openai", "anthropic", "cardgenius", "spapi", "keepa", "research"])
def test_malformed_is_a_200_with_truncated_json(shared, provider):
    whole = _call(shared, provider)
    with _Fault(shared, provider, "malformed"):
        r = _call(shared, provider)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.content)
    assert abs(len(r.content) - len(whole.content) / 2) <= 0.1 * len(whole.content)
    assert r.content[:1] == b"{"


def test_malformed_pdf_is_cut_short(shared):
    whole = _call(shared, "drive")
    with _Fault(shared, "drive", "malformed"):
        r = _call(shared, "drive")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    assert len(r.content) < len(whole.content) and not r.content.rstrip().endswith(b"%%EOF")


# -- changing a running server --------------------------------------------------------------

def test_fault_changes_take_effect_while_running(mock_server):
    mock = mock_server(["openai"], time_scale=0.01, sets=FAST, seed=1)
    statuses = [_call(mock, "openai").status_code]
    assert _patch(mock, "openai", {"faults.error_500": 1.0}).status_code == 200
    statuses += [_call(mock, "openai").status_code for _ in range(3)]
    assert _patch(mock, "openai", {"faults.error_500": 0.5, "faults.error_503": 0.5}).status_code == 200
    statuses += [_call(mock, "openai").status_code for _ in range(20)]
    assert _patch(mock, "openai", {"faults.error_500": 0, "faults.error_503": 0}).status_code == 200
    statuses += [_call(mock, "openai").status_code]
    assert statuses[:4] == [200, 500, 500, 500]
    assert set(statuses[4:24]) == {500, 503}
    assert statuses[24] == 200
    profile = HTTP.get(f"{mock.base_url}/admin/profiles/openai", timeout=5).json()
    assert profile["faults"]["error_500"] == 0 and profile["faults"]["error_503"] == 0


def test_limit_changes_take_effect_and_reset_refills(mock_server):
    mock = mock_server(["openai"], time_scale=1.0, sets=FAST, seed=1)
    assert _call(mock, "openai").status_code == 200
    r = _patch(mock, "openai", {"limits.requests_per_minute": 1})
    assert r.status_code == 200 and r.json()["limits"]["requests_per_minute"] == 1
    first, second = _call(mock, "openai"), _call(mock, "openai")
    assert first.status_code == 200 and first.headers["x-ratelimit-limit-requests"] == "1"
    assert second.status_code == 429
    assert HTTP.post(f"{mock.base_url}/admin/reset", timeout=5).status_code == 200
    assert _call(mock, "openai").status_code == 200
    assert _call(mock, "openai").status_code == 429


@pytest.mark.parametrize("changes, field", [
    ({"faults.error_500": 5}, "faults.error_500"),
    ({"faults.error_500": "often"}, "faults.error_500"),
    ({"faults.nonsense": 0.1}, "nonsense"),
    ({"latency.p99": -1}, "latency.p99"),
    ({"faults.error_500": 0.7, "faults.reset": 0.7}, "fault probabilities"),
    ({"limits.requests_per_minute": 0}, "limits.requests_per_minute"),
    ({"faults.error_500.deeper": 1}, "error_500"),
])
def test_bad_patch_is_400_naming_the_field_and_changes_nothing(mock_server, changes, field):
    mock = mock_server(["openai"], time_scale=0.01, sets=FAST, seed=1)
    before = HTTP.get(f"{mock.base_url}/admin/profiles/openai", timeout=5).json()
    r = _patch(mock, "openai", changes)
    assert r.status_code == 400
    assert field in r.json()["error"]
    assert HTTP.get(f"{mock.base_url}/admin/profiles/openai", timeout=5).json() == before
    assert _call(mock, "openai").status_code == 200


def test_patch_that_is_not_an_object_or_names_no_provider(mock_server):
    mock = mock_server(["openai"], time_scale=0.01, sets=FAST, seed=1)
    for content in (b"{not json", b"[1, 2]", b'"faults.error_500=1"'):
        r = HTTP.patch(f"{mock.base_url}/admin/profiles/openai", content=content, timeout=5)
        assert r.status_code == 400 and r.json()["error"]
    r = _patch(mock, "nosuch", {"faults.error_500": 1})
    assert r.status_code == 404 and "openai" in r.json()["error"]


# -- metrics --------------------------------------------------------------------------------

def test_metrics_count_requests_limits_faults_and_in_flight(mock_server):
    mock = mock_server(["openai", "cardgenius"], time_scale=1.0,
                       sets=[*FAST, "openai.limits.requests_per_minute=3",
                             "cardgenius.latency.median=0.01", "cardgenius.latency.p99=0.02"], seed=1)
    statuses = [_call(mock, "openai").status_code for _ in range(2)]
    _patch(mock, "openai", {"faults.error_500": 1.0})
    statuses.append(_call(mock, "openai").status_code)
    _patch(mock, "openai", {"faults.error_500": 0.0})
    statuses += [_call(mock, "openai").status_code for _ in range(2)]  # the bucket of 3 is empty now
    statuses.append(_call(mock, "cardgenius").status_code)
    assert statuses == [200, 200, 500, 429, 429, 200]
    m = _metrics(mock)
    req = "mock_requests_total"
    assert _sample(m, req, provider="openai", endpoint="chat.completions", status="200") == 2
    assert _sample(m, req, provider="openai", endpoint="chat.completions", status="500") == 1
    assert _sample(m, req, provider="openai", endpoint="chat.completions", status="429") == 2
    assert _sample(m, req, provider="cardgenius", endpoint="recommend", status="200") == 1
    assert _sample(m, "mock_rate_limited_total", provider="openai", dimension="requests") == 2
    assert _sample(m, "mock_rate_limited_total", provider="openai", dimension="tokens") == 0
    assert _sample(m, "mock_faults_total", provider="openai", kind="error_500") == 1
    assert _sample(m, "mock_in_flight_requests", provider="openai") == 0
    assert _sample(m, "mock_in_flight_requests", provider="cardgenius") == 0
    assert _sample(m, "mock_tokens_total", provider="openai", kind="output") > 0
    assert 34_000 <= _sample(m, "mock_response_bytes_total", provider="cardgenius") <= 36_000
    assert _sample(m, "mock_request_bytes_total", provider="openai") > 0
    # two successes and one fault slept; refusals (429) never reach the latency model
    assert _sample(m, "mock_injected_latency_seconds_count", provider="openai") == 3


def test_metrics_in_flight_counts_held_requests(mock_server):
    # held 2 s each; the gauge is polled until all three are in (not a fixed sleep that a busy
    # machine can overrun before they are sent, or after they are answered)
    mock = mock_server(["research"], time_scale=1.0,
                       sets=["research.latency.median=2.0", "research.latency.p99=2.0"], seed=1)
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(_call, mock, "research") for _ in range(3)]
        during = 0.0
        while during < 3 and not any(f.done() for f in futures):
            during = _sample(_metrics(mock), "mock_in_flight_requests", provider="research")
            time.sleep(0.02)
        assert [f.result().status_code for f in futures] == [200, 200, 200]
    assert during == 3
    assert _sample(_metrics(mock), "mock_in_flight_requests", provider="research") == 0
