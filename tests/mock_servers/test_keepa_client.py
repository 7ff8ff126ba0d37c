"""The ``keepa`` PyPI client, unchanged, against the Keepa mock: ``query()`` parses the mock's
products (all csv slots, stats, offers), ``update_status()`` reads the balance, and token
exhaustion waits ``refillIn`` and then succeeds. The client has no base-URL setting, so its
``requests.get`` is pointed at the mock (and nothing else: any other URL fails the test).
"""

from __future__ import annotations

import statistics
import time

import httpx
import orjson
import keepa
import keepa.keepa_sync
import pytest
import requests

REAL = "https://api.keepa.com/"
FAST = ["keepa.latency.median=0.005", "keepa.latency.p99=0.01"]


@pytest.fixture
def point_keepa_at(monkeypatch):
    seen: list[str] = []

    def at(mock) -> list[str]:
        real_get = requests.get

        def get(url, params=None, **kwargs):
            assert url.startswith(REAL), url  # never anything but Keepa's own API, rewritten to the mock
            seen.append(url)
            return real_get(mock.url("keepa") + "/" + url[len(REAL):], params, **kwargs)

        monkeypatch.setattr(keepa.keepa_sync.requests, "get", get)
        return seen

    return at


def test_query_parses_products_with_history_stats_and_offers(mock_server, point_keepa_at):
    mock = mock_server(["keepa"], time_scale=0.01, sets=FAST, seed=2)
    seen = point_keepa_at(mock)
    api = keepa.Keepa("mock-key", timeout=10)
    api.update_status()
    # 20 tokens a profile minute; a profile minute is 0.6 s at 0.01, so 2,000 a wall-clock minute
    assert api.tokens_left == 20 * 60 and api.status.refillRate == 2000
    products = api.query(["B0088PUEPK", "B00U26V4VQ"], stats=90, offers=20, progress_bar=False)
    assert [p["asin"] for p in products] == ["B0088PUEPK", "B00U26V4VQ"]
    p = products[0]
    assert len(p["csv"]) == 36
    assert {"NEW", "AMAZON", "SALES", "COUNT_NEW", "RATING"} <= set(p["data"])
    assert len(p["data"]["NEW"]) > 50 and p["data"]["NEW"].min() > 0
    assert "current" in p["stats_parsed"] and p["offers"] and p["liveOffersOrder"]
    # 6 tokens per page of 10 offers per product instead of 1: 2 x 12 = 24
    assert api.tokens_left == 20 * 60 - 24
    assert all(u.startswith(REAL + "product/?") or u.startswith(REAL + "token/?") for u in seen)


def test_token_exhaustion_waits_refill_in_and_succeeds(mock_server, point_keepa_at):
    mock = mock_server(["keepa"], time_scale=0.01, sets=[*FAST, "keepa.keepa.initial=1", "keepa.keepa.refill_rate=60"])
    point_keepa_at(mock)
    api = keepa.Keepa("mock-key", timeout=10)
    api.query("B0088PUEPK", progress_bar=False)
    assert api.tokens_left == 0
    t0 = time.monotonic()
    products = api.query("B00U26V4VQ", progress_bar=False)  # 429 first: the client waits refillIn, then retries
    waited = time.monotonic() - t0
    assert products[0]["asin"] == "B00U26V4VQ"
    assert 0.9 < waited < 5  # refillIn (<= 0.6 s at this scale) + the client's own 1 s margin
    assert api.tokens_left > 0 and (api.tokens_left + 1) % 60 == 0  # whole refills of 60, less this call


def test_negative_balance_waits_the_compressed_time_and_succeeds(mock_server, point_keepa_at):
    """The client adds ``-tokensLeft / refillRate`` minutes to refillIn: with a profile-time
    refillRate it would wait 59 / 20 min = 177 s here instead of ~0.03 s plus its margin."""
    mock = mock_server(["keepa"], time_scale=0.01, sets=[*FAST, "keepa.keepa.initial=1"])
    point_keepa_at(mock)
    api = keepa.Keepa("mock-key", timeout=10)
    api.query("B0088PUEPK", offers=100, progress_bar=False)  # 60 tokens with 1 left: admitted, balance -59
    assert api.tokens_left == -59
    assert 2.7 < api.time_to_refill < 3.4  # refillIn (<= 0.6 s) + 1 s margin + 59 / 2,000 min (1.77 s)
    t0 = time.monotonic()
    products = api.query("B00U26V4VQ", progress_bar=False)  # 429, waits time_to_refill, then succeeds
    waited = time.monotonic() - t0
    assert products[0]["asin"] == "B00U26V4VQ"
    assert 2.7 < waited < 8  # by then three refills of 20 (every 0.6 s) brought the balance above zero
    assert api.tokens_left > 0


def test_wire_size_matches_the_profile_within_10_percent(mock_server):
    mock = mock_server(["keepa"], time_scale=0.01, sets=FAST, seed=2)
    sizes = []
    with httpx.Client(timeout=10, headers={"Accept-Encoding": "gzip"}) as http:
        for i in range(40):
            r = http.get(mock.url("keepa") + "/product/", params={"key": f"k{i}", "domain": "1", "asin": f"B0{i:08d}"})
            assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
            sizes.append(r.num_bytes_downloaded)
            assert r.json()["products"][0]["asin"] == f"B0{i:08d}"
    assert abs(statistics.mean(sizes) - 8000) <= 800, statistics.mean(sizes)


# -- the Product Finder (/query) -------------------------------------------------------------
JIM = {"author": ["jim butcher"], "sort": [["current_SALES", "asc"]]}


def test_product_finder_pages_of_asins_at_10_plus_1_per_100(mock_server, point_keepa_at):
    mock = mock_server(["keepa"], time_scale=0.01, sets=FAST, seed=2)
    seen = point_keepa_at(mock)
    api = keepa.Keepa("mock-key", timeout=10)
    api.update_status()
    start = api.tokens_left
    first = api.product_finder(JIM)  # ProductParams' perPage default: 50
    assert len(first) == 50 and len(set(first)) == 50
    assert all(len(a) == 10 and a.isalnum() and a.isupper() for a in first)
    assert api.tokens_left == start - 11  # 10 + 1 per 100 ASINs (rounded up)
    big = api.product_finder({**JIM, "perPage": 300})
    assert api.tokens_left == start - 11 - 13 and big[:50] == first  # the same selection, the same order
    second = api.product_finder({**JIM, "perPage": 300, "page": 1})
    assert len(second) == 300 and not set(second) & set(big)  # pages never overlap
    assert api.product_finder({"author": ["someone else"]}) != first
    assert any(u.startswith(REAL + "query/?") for u in seen)


def test_product_finder_refusals_are_the_clients_request_rejected(mock_server, point_keepa_at):
    mock = mock_server(["keepa"], time_scale=0.01, sets=FAST, seed=2)
    point_keepa_at(mock)
    api = keepa.Keepa("mock-key", timeout=10)
    with pytest.raises(RuntimeError, match="REQUEST_REJECTED"):
        api.product_finder({**JIM, "perPage": 20})  # at least 50 per page
    base = mock.url("keepa") + "/query"
    cases = {
        "no selection": {"key": "k", "domain": "1"},
        "not JSON": {"key": "k", "domain": "1", "selection": "{author"},
        "past 10,000": {"key": "k", "domain": "1", "selection": '{"perPage": 6000, "page": 1}'},
        "bad domain": {"key": "k", "domain": "7", "selection": "{}"},
        "stats=1": {"key": "k", "domain": "1", "selection": "{}", "stats": "1"},
    }
    for name, params in cases.items():
        r = httpx.get(base, params=params, timeout=10)
        assert r.status_code == 400, name
        assert r.json()["error"]["type"] == "REQUEST_REJECTED" and r.json()["tokensConsumed"] == 0, name
    ok = httpx.get(base, params={"key": "k", "domain": "1", "selection": '{"perPage": 5000, "page": 1}'},
                   timeout=10)  # results 5,001 to 10,000: the last ones a selection gives
    assert ok.status_code == 200 and ok.json()["totalResults"] >= len(ok.json()["asinList"])
    # POST, the queryJSON as the body or as the selection form field, as Keepa documents
    body = httpx.post(base, params={"key": "k", "domain": "1"}, content=b'{"title": "tv"}', timeout=10).json()
    form = httpx.post(base + "/?key=k", data={"domain": "1", "selection": '{"title": "tv"}'}, timeout=10).json()
    assert body["asinList"] == form["asinList"] and len(body["asinList"]) == 50


def test_product_finder_exhaustion_waits_and_succeeds(mock_server, point_keepa_at):
    mock = mock_server(["keepa"], time_scale=0.01, sets=[*FAST, "keepa.keepa.initial=5", "keepa.keepa.refill_rate=60"])
    point_keepa_at(mock)
    api = keepa.Keepa("mock-key", timeout=10)
    api.product_finder(JIM)  # 11 tokens with 5 left: admitted, the balance goes to -6
    assert api.tokens_left == -6
    asins = api.product_finder(JIM)  # 429 first: the client waits for the refill, then succeeds
    assert len(asins) == 50 and api.tokens_left >= 0


def test_product_finder_answers_no_more_than_it_matched():
    from mock_servers.providers import keepa_finder

    narrow = next(q for i in range(1000) if (q := keepa_finder.parse(orjson.dumps(
        {"brand": [f"b{i}"], "title": "x", "color": ["red"], "perPage": 50, "page": 1}), None))
        and keepa_finder.results(q, 1)[1] < 100)
    asins, total = keepa_finder.results(narrow, 1)
    assert len(asins) == max(0, total - 50)
    assert keepa_finder.cost(0) == 10 and keepa_finder.cost(50) == 11 and keepa_finder.cost(101) == 12


def test_product_finder_wire_size_and_planned_cost_match_the_profile(mock_server):
    from mock_servers.app import load_profiles
    from mock_servers.rules import rules_for

    profile = load_profiles(["keepa"])["keepa"]
    assert rules_for(profile).endpoint_cost(profile, "query") == 11  # what a default page costs
    expected = next(e.response_bytes for e in profile.endpoints if e.name == "query")
    mock = mock_server(["keepa"], time_scale=0.01, sets=FAST, seed=2)
    sizes = []
    with httpx.Client(timeout=10, headers={"Accept-Encoding": "gzip"}) as http:
        for i in range(20):
            r = http.get(mock.url("keepa") + "/query/", params={"key": "k", "selection": f'{{"title": "t{i}"}}'})
            assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
            sizes.append(r.num_bytes_downloaded)
    assert abs(statistics.mean(sizes) - expected) <= expected * 0.1, statistics.mean(sizes)
