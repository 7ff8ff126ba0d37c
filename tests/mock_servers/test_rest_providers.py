"""The REST-like mocks as their clients see them: SP-API (and LWA), Keepa, CardGenius, Drive,
and seed 004's research and e-mail APIs, with their own headers, limits and error formats.

Bad input never reaches a traceback or a bare 500: every provider answers in its own format.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from typing import Any

import httpx
import pytest

HTTP = httpx.Client(timeout=5)  # one client for raw calls: a new one per call costs ~40 ms
ALL = ["openai", "anthropic", "cardgenius", "spapi", "keepa", "drive", "research", "email"]
SPAPI_FAST = ["spapi.latency.median=0.01", "spapi.latency.p99=0.02"]
KEEPA_FAST = ["keepa.latency.median=0.01", "keepa.latency.p99=0.02"]
TOKEN = {"x-amz-access-token": "Atza|mock-token"}
CATALOG = "/catalog/2022-04-01/items/B000TEST01?marketplaceIds=ATVPDKIKX0DER"  # the real API needs marketplaceIds
QUOTA_EXCEEDED = {"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource.",
                              "details": ""}]}


def _get(url: str, **kwargs: Any) -> httpx.Response:
    return HTTP.get(url, timeout=5, **kwargs)


def _post(url: str, **kwargs: Any) -> httpx.Response:
    return HTTP.post(url, timeout=5, **kwargs)


def _burst(requests: list[tuple[str, str, dict[str, Any]]]) -> list[httpx.Response]:
    """Send requests all at once; answers in the same order."""
    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=10) as c:
            return await asyncio.gather(*(c.request(m, url, **kw) for m, url, kw in requests))

    return asyncio.run(run())


# -- SP-API ---------------------------------------------------------------------------------

def test_lwa_token_endpoint_issues_an_access_token(mock_server):
    mock = mock_server(["spapi"], time_scale=0.01, seed=1)
    form = {"grant_type": "refresh_token", "refresh_token": "Atzr|refresh", "client_id": "amzn1.application-oa2-client.x",
            "client_secret": "secret"}
    r = _post(f"{mock.url('spapi')}/auth/o2/token", data=form)
    assert r.status_code == 200
    body = r.json()
    assert body["access_token"].startswith("Atza|") and len(body["access_token"]) > 10
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["refresh_token"] == "Atzr|refresh"
    # the token works on an operation
    assert _get(mock.url("spapi") + CATALOG, headers={"x-amz-access-token": body["access_token"]}).status_code == 200


def test_lwa_token_endpoint_errors(mock_server):
    mock = mock_server(["spapi"], time_scale=0.01, seed=1)
    url = f"{mock.url('spapi')}/auth/o2/token"
    r = _post(url, data={"grant_type": "password", "client_id": "c", "client_secret": "s"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    r = _post(url, data={"grant_type": "client_credentials", "scope": "sellingpartnerapi::notifications"})
    assert r.status_code == 401 and r.json() == {"error_description": "Client authentication failed",
                                                 "error": "invalid_client"}
    r = _post(url, data={"grant_type": "refresh_token", "refresh_token": "invalid-x", "client_id": "c",
                         "client_secret": "s"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_get_catalog_item_headers(mock_server):
    mock = mock_server(["spapi"], time_scale=1.0, sets=SPAPI_FAST, seed=1)
    r = _get(mock.url("spapi") + CATALOG, headers=TOKEN)
    assert r.status_code == 200
    assert r.headers["x-amzn-RateLimit-Limit"] == "2.0"
    uuid.UUID(r.headers["x-amzn-RequestId"])
    assert "retry-after" not in r.headers and "x-amzn-RateLimit-Remaining" not in r.headers
    body = r.json()
    assert body["asin"] == "B000TEST01"
    assert body["summaries"][0]["marketplaceId"] == "ATVPDKIKX0DER"
    assert "padding" not in body  # no filler: the size follows from what was asked
    summaries_only = len(r.content)
    r = _get(mock.url("spapi") + CATALOG + "&includedData=summaries,attributes,salesRanks", headers=TOKEN)
    assert set(r.json()) == {"asin", "summaries", "attributes", "salesRanks"}
    assert 2700 <= len(r.content) <= 3300 and len(r.content) > 3 * summaries_only  # the profile's 3,000 (+-10%)


def test_third_request_in_a_burst_is_quota_exceeded(mock_server):
    # time_scale 1: getCatalogItem refills 2 per second, so three quick calls find the bucket (burst 2) empty
    mock = mock_server(["spapi"], time_scale=1.0, sets=SPAPI_FAST, seed=1)
    statuses, last = [], None
    for _ in range(3):
        last = _get(mock.url("spapi") + CATALOG, headers=TOKEN)
        statuses.append(last.status_code)
    assert statuses == [200, 200, 429]
    assert last.json() == QUOTA_EXCEEDED
    uuid.UUID(last.headers["x-amzn-RequestId"])
    assert "retry-after" not in last.headers  # SP-API sends none
    # other operations have their own buckets; another token has its own too
    assert _get(f"{mock.url('spapi')}/products/pricing/v0/items/B000TEST01/offers?MarketplaceId=ATVPDKIKX0DER&ItemCondition=New", headers=TOKEN).status_code == 200
    assert _get(mock.url("spapi") + CATALOG, headers={"x-amz-access-token": "Atza|other"}).status_code == 200


def test_get_item_offers_half_a_request_per_second(mock_server):
    mock = mock_server(["spapi"], time_scale=1.0, sets=SPAPI_FAST, seed=1)
    url = f"{mock.url('spapi')}/products/pricing/v0/items/B000TEST01/offers?MarketplaceId=ATVPDKIKX0DER&ItemCondition=New"
    first, second = _get(url, headers=TOKEN), _get(url, headers=TOKEN)
    assert (first.status_code, second.status_code) == (200, 429)
    assert first.headers["x-amzn-RateLimit-Limit"] == "0.5"
    assert first.json()["payload"]["ASIN"] == "B000TEST01"


def test_missing_or_invalid_access_token_is_403_unauthorized(mock_server):
    mock = mock_server(["spapi"], time_scale=0.01, seed=1)
    expected = {"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied.", "details": ""}]}
    for headers in ({}, {"x-amz-access-token": "invalid-token"}):
        r = _get(mock.url("spapi") + CATALOG, headers=headers)
        assert r.status_code == 403
        assert r.json() == expected


def test_fees_estimate_post(mock_server):
    mock = mock_server(["spapi"], time_scale=0.01, seed=1)
    body = {"FeesEstimateRequest": {"MarketplaceId": "ATVPDKIKX0DER", "Identifier": "x",
                                    "PriceToEstimateFees": {"ListingPrice": {"CurrencyCode": "USD", "Amount": 20}}}}
    r = _post(f"{mock.url('spapi')}/products/fees/v0/items/B000TEST01/feesEstimate", json=body, headers=TOKEN)
    assert r.status_code == 200
    assert r.json()["payload"]["FeesEstimateResult"]["Status"] == "Success"


# -- Keepa ----------------------------------------------------------------------------------

ENVELOPE = {"timestamp", "tokensLeft", "refillIn", "refillRate", "tokenFlowReduction", "tokensConsumed",
            "processingTimeInMs"}


def test_keepa_token_envelope(mock_server):
    mock = mock_server(["keepa"], time_scale=1.0, sets=KEEPA_FAST, seed=1)
    before = time.time() * 1000
    r = _get(f"{mock.url('keepa')}/token", params={"key": "k1"})
    assert r.status_code == 200
    body = r.json()
    assert ENVELOPE <= set(body)
    assert body["tokensLeft"] == 20 * 60  # a full hour of the smallest plan
    assert body["refillRate"] == 20
    assert body["tokensConsumed"] == 0
    assert 0 < body["refillIn"] <= 60_000  # milliseconds to the next per-minute refill
    assert abs(body["timestamp"] - before) < 5_000


def test_keepa_product_costs_one_token_per_asin(mock_server):
    mock = mock_server(["keepa"], time_scale=1.0, sets=KEEPA_FAST, seed=1)
    url = f"{mock.url('keepa')}/product"
    r = _get(url, params={"key": "k1", "domain": "1", "asin": "B000000001,B000000002,B000000003"})
    assert r.status_code == 200
    body = r.json()
    assert ENVELOPE <= set(body)
    assert body["tokensConsumed"] == 3
    assert body["tokensLeft"] == 1200 - 3
    assert [p["asin"] for p in body["products"]] == ["B000000001", "B000000002", "B000000003"]
    assert _get(f"{mock.url('keepa')}/token", params={"key": "k1"}).json()["tokensLeft"] == 1197
    assert _get(f"{mock.url('keepa')}/token", params={"key": "k2"}).json()["tokensLeft"] == 1200  # per key


def test_keepa_balance_goes_negative_then_429_until_refill(mock_server):
    mock = mock_server(["keepa"], time_scale=0.01, sets=[*KEEPA_FAST, "keepa.keepa.initial=2"], seed=1)
    url = f"{mock.url('keepa')}/product"
    r = _get(url, params={"key": "k", "asin": "A1,A2,A3,A4,A5"})
    assert r.status_code == 200  # runs while the balance is positive ...
    assert r.json()["tokensLeft"] == -3  # ... and may drive it below zero
    r = _get(url, params={"key": "k", "asin": "A1"})
    assert r.status_code == 429
    body = r.json()
    assert ENVELOPE <= set(body) and "products" not in body
    assert body["tokensLeft"] == -3 and body["tokensConsumed"] == 0
    assert body["refillRate"] == 2000  # per wall-clock minute at time scale 0.01
    assert 0 < body["refillIn"] <= 600  # a (scaled) minute at most
    time.sleep(body["refillIn"] / 1000 + 0.05)
    r = _get(url, params={"key": "k", "asin": "A1"})
    assert r.status_code == 200
    assert r.json()["tokensLeft"] == -3 + 20 - 1


def test_keepa_bad_requests_are_400_with_the_envelope(mock_server):
    mock = mock_server(["keepa"], time_scale=1.0, sets=KEEPA_FAST, seed=1)
    url = f"{mock.url('keepa')}/product"
    for params in ({"asin": "A1"}, {"key": "invalid-k", "asin": "A1"}, {"key": "k"},
                   {"key": "k", "asin": ",".join(f"A{i}" for i in range(101))},
                   {"key": "k", "asin": "A1", "domain": "99999999999999999999"},
                   {"key": "k", "asin": "A1", "domain": "²"}, {"key": "k", "asin": "A1", "domain": "7"}):
        r = _get(url, params=params)
        assert r.status_code == 400, params
        body = r.json()
        assert ENVELOPE <= set(body)
        assert body["error"]["type"] == "REQUEST_REJECTED"
    # none of them cost a token
    assert _get(f"{mock.url('keepa')}/token", params={"key": "k"}).json()["tokensLeft"] == 1200


# -- CardGenius -----------------------------------------------------------------------------

def test_cardgenius_recommendation_is_about_35_kb(mock_server):
    mock = mock_server(["cardgenius"], time_scale=0.01, seed=1)
    r = _post(f"{mock.url('cardgenius')}/v1/recommendations", json={"user_id": 42, "spend": {"travel": 1200}},
              headers={"x-api-key": "cg-key"})
    assert r.status_code == 200
    assert 34_000 <= len(r.content) <= 36_000
    body = r.json()
    assert body["status"] == "ok"
    assert body["request"] == {"user_id": 42, "spend": {"travel": 1200}}


def test_cardgenius_auth(mock_server):
    mock = mock_server(["cardgenius"], time_scale=0.01, seed=1)
    url = f"{mock.url('cardgenius')}/v1/recommendations"
    for headers in ({}, {"x-api-key": "invalid-key"}):
        r = _post(url, json={"user_id": 1}, headers=headers)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "unauthorized"


def test_cardgenius_past_capacity_answers_503(mock_server):
    sets = ["cardgenius.latency.median=0.3", "cardgenius.latency.p99=0.3",
            "cardgenius.capacity.max_in_flight=2", "cardgenius.capacity.max_queue=0"]
    mock = mock_server(["cardgenius"], time_scale=1.0, sets=sets, seed=1)
    url = f"{mock.url('cardgenius')}/v1/recommendations"
    started = time.monotonic()
    responses = _burst([("POST", url, {"json": {"user_id": i}, "headers": {"x-api-key": "k"}}) for i in range(5)])
    assert sorted(r.status_code for r in responses) == [200, 200, 503, 503, 503]
    refused = [r for r in responses if r.status_code == 503]
    assert all(r.json()["error"]["code"] == "overloaded" for r in refused)
    assert time.monotonic() - started < 2.0


def test_cardgenius_queues_within_capacity_then_times_out(mock_server):
    sets = ["cardgenius.latency.median=0.2", "cardgenius.latency.p99=0.2",
            "cardgenius.capacity.max_in_flight=1", "cardgenius.capacity.max_queue=5",
            "cardgenius.capacity.queue_timeout=0.5"]
    mock = mock_server(["cardgenius"], time_scale=1.0, sets=sets, seed=1)
    url = f"{mock.url('cardgenius')}/v1/recommendations"
    started = time.monotonic()
    responses = _burst([("POST", url, {"json": {}, "headers": {"x-api-key": "k"}}) for _ in range(2)])
    assert [r.status_code for r in responses] == [200, 200]  # the second waited its turn
    assert time.monotonic() - started >= 0.4
    # four at once: the third and fourth wait past the 0.5 s queue timeout
    responses = _burst([("POST", url, {"json": {}, "headers": {"x-api-key": "k"}}) for _ in range(4)])
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 503] or \
        sorted(r.status_code for r in responses) == [200, 200, 503, 503]


# -- Drive, research, e-mail ----------------------------------------------------------------

def test_drive_download_is_a_pdf(mock_server):
    mock = mock_server(["drive"], time_scale=0.01, seed=1)
    r = _get(f"{mock.url('drive')}/drive/v3/files/1AbC?alt=media", headers={"Authorization": "Bearer ya29.x"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/pdf")
    assert r.content.startswith(b"%PDF")
    assert r.content.rstrip().endswith(b"%%EOF")
    assert 240_000 <= len(r.content) <= 260_000


def test_drive_past_its_rate_is_403_user_rate_limit_exceeded(mock_server):
    sets = ["drive.limits.requests_per_minute=2", "drive.latency.median=0.01", "drive.latency.p99=0.02"]
    mock = mock_server(["drive"], time_scale=1.0, sets=sets, seed=1)
    url = f"{mock.url('drive')}/drive/v3/files/1AbC"
    statuses, last = [], None
    for _ in range(3):
        last = _get(url, headers={"Authorization": "Bearer ya29.x"})
        statuses.append(last.status_code)
    assert statuses == [200, 200, 403]
    err = last.json()["error"]
    assert err["code"] == 403
    assert err["message"] == "User Rate Limit Exceeded"
    assert err["errors"][0]["reason"] == "userRateLimitExceeded"
    assert err["errors"][0]["domain"] == "usageLimits"


def test_drive_without_credentials_is_401(mock_server):
    mock = mock_server(["drive"], time_scale=0.01, seed=1)
    assert _get(f"{mock.url('drive')}/drive/v3/files/1AbC").status_code == 401


@pytest.mark.parametrize("provider, path, size", [("research", "/v1/research", 4000), ("email", "/v1/emails", 2000)])
def test_research_and_email_answer(mock_server, provider, path, size):
    mock = mock_server([provider], time_scale=0.01, seed=1)
    r = _post(mock.url(provider) + path, json={"company": "Acme"}, headers={"Authorization": "Bearer k"})
    assert r.status_code == 200
    assert r.json()["request"] == {"company": "Acme"}
    assert abs(len(r.content) - size) <= 100
    assert _post(mock.url(provider) + path, json={}).status_code == 401


# -- bad input, every provider --------------------------------------------------------------

AUTH = {
    "openai": {"Authorization": "Bearer sk-x"},
    "anthropic": {"x-api-key": "k", "anthropic-version": "2023-06-01"},
    "cardgenius": {"x-api-key": "k"},
    "spapi": TOKEN,
    "keepa": {},
    "drive": {"Authorization": "Bearer k"},
    "research": {"Authorization": "Bearer k"},
    "email": {"Authorization": "Bearer k"},
}
JSON_ENDPOINTS = {
    "openai": "/v1/chat/completions",
    "anthropic": "/v1/messages",
    "cardgenius": "/v1/recommendations",
    "spapi": "/products/fees/v0/items/B000TEST01/feesEstimate",
    "research": "/v1/research",
    "email": "/v1/emails",
}


def _provider_error(provider: str, body: Any) -> None:
    """Assert ``body`` is an error in ``provider``'s own format."""
    if provider == "openai":
        assert set(body["error"]) == {"message", "type", "param", "code"}
        assert body["error"]["type"] == "invalid_request_error"
    elif provider == "anthropic":
        assert body["type"] == "error" and body["error"]["type"] in ("invalid_request_error", "not_found_error")
    elif provider == "spapi":
        assert set(body) == {"errors"} and body["errors"][0]["code"] in ("InvalidInput", "NotFound")
    elif provider == "keepa":
        assert ENVELOPE <= set(body) and body["error"]["message"]
    else:
        assert set(body["error"]) == {"code", "message"}


@pytest.fixture
def everything(mock_server):
    return mock_server(ALL, time_scale=0.001, seed=1)


@pytest.mark.parametrize("provider", sorted(JSON_ENDPOINTS))
def test_invalid_json_is_400_in_the_providers_format(everything, provider):
    url = everything.url(provider) + JSON_ENDPOINTS[provider]
    for content in (b'{"truncated": ', b"\xff\xfe\x00", b"{'single': 'quotes'}"):
        r = _post(url, content=content, headers={**AUTH[provider], "Content-Type": "application/json"})
        assert r.status_code == 400, (content, r.text)
        _provider_error(provider, r.json())


@pytest.mark.parametrize("provider", ALL)
def test_unknown_path_is_a_404_in_the_providers_format(everything, provider):
    for method in ("GET", "POST"):
        r = HTTP.request(method, everything.url(provider) + "/v9/no/such/thing", headers=AUTH[provider], timeout=5)
        assert r.status_code == 404
        _provider_error(provider, r.json())
        assert "/v9/no/such/thing" in r.text and f"/{provider}/v9" not in r.text


def test_odd_input_never_gets_a_500_or_a_traceback(everything):
    odd = [
        ("openai", "POST", JSON_ENDPOINTS["openai"], {"model": "gpt-5-nano", "messages": [None, 1]}),
        ("openai", "POST", JSON_ENDPOINTS["openai"], {"model": ["gpt-5-nano"], "messages": "x"}),
        ("openai", "POST", JSON_ENDPOINTS["openai"], {"model": "gpt-5-nano", "messages": [{}], "max_tokens": 1e300}),
        ("openai", "POST", JSON_ENDPOINTS["openai"], [1, 2, 3]),
        ("openai", "GET", "/v1/models/%00", None),
        ("anthropic", "POST", JSON_ENDPOINTS["anthropic"], {"model": "claude-haiku-4-5", "max_tokens": "10",
                                                            "messages": []}),
        ("anthropic", "POST", JSON_ENDPOINTS["anthropic"], {"model": None, "max_tokens": 10, "messages": [{}]}),
        ("anthropic", "POST", JSON_ENDPOINTS["anthropic"], "a string"),
        ("cardgenius", "POST", JSON_ENDPOINTS["cardgenius"], ["not", "an", "object"]),
        ("spapi", "POST", JSON_ENDPOINTS["spapi"], None),
        ("spapi", "POST", "/auth/o2/token", {"grant_type": "refresh_token"}),
        ("keepa", "GET", "/product?key=k&asin=" + "%00" * 3, None),
        ("keepa", "GET", "/product?key=k&asin=A1&domain=-1", None),
        ("drive", "GET", "/drive/v3/files/" + "x" * 2000, None),
    ]
    for provider, method, path, body in odd:
        kwargs: dict[str, Any] = {"headers": dict(AUTH[provider])}
        if body is not None:
            kwargs["content"] = json.dumps(body).encode()
            kwargs["headers"]["Content-Type"] = "application/json"
        r = HTTP.request(method, everything.url(provider) + path, timeout=5, **kwargs)
        assert r.status_code < 500, (provider, path, body, r.status_code, r.text[:300])
        assert "Traceback" not in r.text and "mock_error" not in r.text
    assert not re.search(r"mock server error|Traceback", everything.log())
