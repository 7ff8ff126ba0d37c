"""The strictness table (docs/provider-fidelity.md, "Strict validation"): each request the real
API refuses gets the real status, error type/code and param from the mock, and the same
request passes with ``strict: false``.

One mock serves every case; a case that did not fail would fail its assertion, not be skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterator

import httpx
import pytest

from harness.runner.mockproc import MockProcess, start_mock

FAST = ["openai.latency.median=0.01", "openai.latency.p99=0.02", "openai.latency.tokens_per_second=100000",
        "anthropic.latency.median=0.01", "anthropic.latency.p99=0.02", "anthropic.latency.tokens_per_second=100000",
        "spapi.latency.median=0.001", "spapi.latency.p99=0.002", "keepa.latency.median=0.001", "keepa.latency.p99=0.002",
        "spapi.endpoints.0.rate=1000", "spapi.endpoints.0.burst=1000", "spapi.endpoints.1.rate=1000",
        "spapi.endpoints.1.burst=1000", "spapi.endpoints.2.rate=1000", "spapi.endpoints.2.burst=1000",
        "spapi.endpoints.3.rate=1000", "spapi.endpoints.3.burst=1000"]
OA = {"Authorization": "Bearer sk-strict"}
AN = {"x-api-key": "sk-ant-strict", "anthropic-version": "2023-06-01"}
SP = {"x-amz-access-token": "Atza|strict"}
USER = [{"role": "user", "content": "hi"}]
MP = "marketplaceIds=ATVPDKIKX0DER"


@dataclass
class Case:
    """One refused request and the real answer (status, OpenAI type/code/param, Anthropic type,
    SP-API code, Keepa status)."""

    id: str
    provider: str
    method: str
    path: str
    body: Any = None
    status: int = 400
    type: str | None = None
    code: str | None = None
    param: str | None = None
    message: str | None = None  # a part of the real message
    headers: dict[str, str] = field(default_factory=dict)


def oa(id: str, body: dict[str, Any], status: int = 400, code: str | None = None, param: str | None = None,
       message: str | None = None, path: str = "/v1/chat/completions") -> Case:
    body = {"model": "gpt-5-nano", "messages": USER, **body}
    return Case(id, "openai", "POST", path, body, status, "invalid_request_error", code, param, message)


def an(id: str, body: dict[str, Any], message: str, status: int = 400, type: str = "invalid_request_error",
       path: str = "/v1/messages") -> Case:
    body = {"model": "claude-sonnet-4-5-20250929", "max_tokens": 100, "messages": USER, **body}
    return Case(id, "anthropic", "POST", path, body, status, type, None, None, message)


CASES = [
    # -- OpenAI chat completions ---------------------------------------------------------------
    oa("oa-reasoning-max-tokens", {"max_tokens": 1000}, code="unsupported_parameter", param="max_tokens",
       message="Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."),
    oa("oa-reasoning-temperature", {"temperature": 0.2}, code="unsupported_value", param="temperature",
       message="Unsupported value: 'temperature' does not support 0.2 with this model. Only the default (1) value is supported."),
    oa("oa-reasoning-top-p", {"top_p": 0.5}, code="unsupported_parameter", param="top_p"),
    oa("oa-reasoning-effort-value", {"reasoning_effort": "extreme"}, code="invalid_value", param="reasoning_effort"),
    oa("oa-effort-on-non-reasoning", {"model": "gpt-4o-mini", "reasoning_effort": "low"},
       code="unsupported_parameter", param="reasoning_effort"),
    oa("oa-max-tokens-above-model", {"model": "gpt-4o", "max_tokens": 1_000_000}, param="max_tokens",
       message="max_tokens is too large: 1000000. This model supports at most 16384 completion tokens"),
    oa("oa-max-completion-tokens-above-model", {"max_completion_tokens": 200_000}, param="max_completion_tokens",
       message="max_completion_tokens is too large: 200000. This model supports at most 128000 completion tokens"),
    oa("oa-context-length", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "word " * 130_000}]},
       code="context_length_exceeded", param="messages", message="This model's maximum context length is 128000 tokens."),
    oa("oa-unknown-argument", {"foo_bar": 1}, message="Unrecognized request argument supplied: foo_bar"),
    oa("oa-bad-role", {"messages": [{"role": "wizard", "content": "hi"}]}, code="invalid_value",
       param="messages[0].role", message="Invalid value: 'wizard'. Supported values are: 'system', 'assistant', 'user', "
       "'function', 'tool', and 'developer'."),
    oa("oa-missing-content", {"messages": [{"role": "user"}]}, code="missing_required_parameter",
       param="messages[0].content", message="Missing required parameter: 'messages[0].content'."),
    oa("oa-content-type", {"messages": [{"role": "user", "content": 42}]}, code="invalid_type",
       param="messages[0].content"),
    oa("oa-content-part-type", {"messages": [{"role": "user", "content": [{"type": "video", "url": "x"}]}]},
       code="invalid_value", param="messages[0].content[0].type"),
    oa("oa-temperature-range", {"model": "gpt-4o-mini", "temperature": 5}, code="decimal_above_max_value",
       param="temperature", message="Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 5 instead."),
    oa("oa-n-range", {"n": 200}, code="integer_above_max_value", param="n"),
    oa("oa-tool-choice-without-tools", {"tool_choice": "required"}, param="tool_choice",
       message="'tool_choice' is only allowed when 'tools' are specified."),
    oa("oa-tool-message-first", {"messages": [{"role": "tool", "content": "x", "tool_call_id": "call_1"}]},
       param="messages.[0].role", message="messages with role 'tool' must be a response to a preceeding message with 'tool_calls'."),
    oa("oa-json-object-without-json", {"response_format": {"type": "json_object"}}, param="messages",
       message="'messages' must contain the word 'json' in some form"),
    oa("oa-stream-options-without-stream", {"stream_options": {"include_usage": True}}, param="stream_options"),
    oa("oa-embedding-model-on-chat", {"model": "text-embedding-3-small"}, status=404, param="model",
       message="This is not a chat model"),
    # -- Anthropic messages ----------------------------------------------------------------------
    an("an-max-tokens-above-model", {"max_tokens": 100_000},
       "max_tokens: 100000 > 64000, which is the maximum allowed number of output tokens for claude-sonnet-4-5-20250929"),
    an("an-system-role", {"messages": [{"role": "system", "content": "be brief"}, *USER]},
       'messages: Unexpected role "system". The Messages API accepts a top-level `system` parameter'),
    an("an-unknown-field", {"foo_bar": 1}, "foo_bar: Extra inputs are not permitted"),
    an("an-bad-role", {"messages": [{"role": "wizard", "content": "hi"}]}, "messages.0.role: Input should be 'user' or 'assistant'"),
    an("an-missing-content", {"messages": [{"role": "user"}]}, "messages.0.content: Field required"),
    an("an-empty-content", {"messages": [{"role": "user", "content": ""}]},
       "messages.0: all messages must have non-empty content except for the optional final assistant message"),
    an("an-temperature-range", {"temperature": 5}, "temperature: Input should be less than or equal to 1"),
    an("an-tool-choice-without-tools", {"tool_choice": {"type": "any"}}, "tool_choice"),
    an("an-prompt-too-long", {"messages": [{"role": "user", "content": "word " * 170_000}]}, "prompt is too long:"),
    an("an-count-tokens-unknown-field", {"max_tokens": None, "foo": 1}, "Extra inputs are not permitted",
       path="/v1/messages/count_tokens"),
    # -- SP-API ---------------------------------------------------------------------------------
    Case("sp-catalog-no-marketplace", "spapi", "GET", "/catalog/2022-04-01/items/B0088PUEPK", status=400, code="InvalidInput"),
    Case("sp-catalog-bad-asin", "spapi", "GET", f"/catalog/2022-04-01/items/xx?{MP}", status=404, code="NOT_FOUND",
         message="Requested item, xx, not found in marketplace(s) ATVPDKIKX0DER."),
    Case("sp-catalog-bad-marketplace", "spapi", "GET", "/catalog/2022-04-01/items/B0088PUEPK?marketplaceIds=XX",
         status=400, code="InvalidInput", message="Requested MarketplaceId is invalid, unsupported, or does not exist."),
    Case("sp-search-no-query", "spapi", "GET", f"/catalog/2022-04-01/items?{MP}", status=400, code="InvalidInput"),
    Case("sp-search-21-identifiers", "spapi", "GET",
         f"/catalog/2022-04-01/items?{MP}&identifiersType=ASIN&identifiers=" + ",".join(f"B0{i:08d}" for i in range(21)),
         status=400, code="InvalidInput"),
    Case("sp-offers-no-condition", "spapi", "GET", "/products/pricing/v0/items/B0088PUEPK/offers?MarketplaceId=ATVPDKIKX0DER",
         status=400, code="InvalidInput"),
    # -- Keepa ----------------------------------------------------------------------------------
    Case("keepa-101-asins", "keepa", "GET", "/product?key=k1&domain=1&asin=" + ",".join(f"B0{i:08d}" for i in range(101)),
         status=400, type="REQUEST_REJECTED"),
    Case("keepa-bad-domain", "keepa", "GET", "/product?key=k1&domain=7&asin=B0088PUEPK", status=400, type="REQUEST_REJECTED"),
    Case("keepa-no-key", "keepa", "GET", "/product?domain=1&asin=B0088PUEPK", status=400, type="REQUEST_REJECTED"),
]


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProcess]:
    proc = start_mock(["openai", "anthropic", "spapi", "keepa"], time_scale=0.01, sets=FAST, seed=5)
    yield proc
    proc.stop()


def _send(mock: MockProcess, case: Case) -> httpx.Response:
    headers = {"openai": OA, "anthropic": AN, "spapi": SP, "keepa": {}}[case.provider]
    body = case.body
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if v is not None}
    return httpx.request(case.method, mock.url(case.provider) + case.path, headers=headers,
                         content=None if body is None else json.dumps(body).encode(), timeout=30)


def test_the_table_has_at_least_25_cases_across_four_providers():
    assert len(CASES) >= 25
    assert {c.provider for c in CASES} == {"openai", "anthropic", "spapi", "keepa"}
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_refused_as_the_real_api_refuses(mock: MockProcess, case: Case) -> None:
    r = _send(mock, case)
    assert r.status_code == case.status, r.text
    body = r.json()
    if case.provider == "openai":
        err = body["error"]
        assert set(err) == {"message", "type", "param", "code"}
        assert (err["type"], err["code"], err["param"]) == (case.type, case.code, case.param)
        text = err["message"]
        assert "retry-after" not in r.headers  # not a rate limit: the SDKs must not retry it
    elif case.provider == "anthropic":
        assert body["type"] == "error" and body["error"]["type"] == case.type
        assert body["request_id"] == r.headers["request-id"]
        text = body["error"]["message"]
    elif case.provider == "spapi":
        assert set(body) == {"errors"} and body["errors"][0]["code"] == case.code
        text = body["errors"][0]["message"]
    else:
        assert body["error"]["type"] == case.type and "tokensLeft" in body
        text = body["error"]["message"]
    if case.message:
        assert case.message in text


def test_anthropic_body_over_32_mb_is_413_request_too_large(mock: MockProcess) -> None:
    big = json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 10,
                      "messages": [{"role": "user", "content": "x" * (33 * 1024 * 1024)}]}).encode()
    r = httpx.post(mock.url("anthropic") + "/v1/messages", headers=AN, content=big, timeout=60)
    assert r.status_code == 413
    assert r.json()["error"]["type"] == "request_too_large"
    assert "retry-after" not in r.headers


def test_well_formed_requests_still_pass(mock: MockProcess) -> None:
    ok = [
        oa("ok", {"max_completion_tokens": 50, "reasoning_effort": "low", "temperature": 1}),
        oa("ok", {"model": "gpt-4o-mini", "max_tokens": 50, "temperature": 0.2, "n": 2}),
        an("ok", {"system": "be brief", "temperature": 0.5}, ""),
        Case("ok", "spapi", "GET", f"/catalog/2022-04-01/items/B0088PUEPK?{MP}"),
    ]
    for case in ok:
        r = _send(mock, case)
        assert r.status_code == 200, (case, r.text)
    two = _send(mock, ok[1]).json()
    # n choices are returned and billed: usage counts every choice
    assert len(two["choices"]) == 2 and [c["index"] for c in two["choices"]] == [0, 1]
    assert two["usage"]["completion_tokens"] == sum(len(c["message"]["content"].split()) for c in two["choices"])


def test_strict_false_gives_the_old_leniency() -> None:
    proc = start_mock(["openai", "anthropic"], time_scale=0.01,
                      sets=[*FAST[:6], "openai.strict=false", "anthropic.strict=false"], seed=5)
    try:
        by_id = {c.id: c for c in CASES}
        for name in ("oa-reasoning-max-tokens", "oa-unknown-argument", "an-system-role", "an-unknown-field"):
            assert _send(proc, by_id[name]).status_code == 200, name
    finally:
        proc.stop()
