"""The ``keepa`` PyPI client, unchanged, against the Keepa mock: ``query()`` parses the mock's
products (all csv slots, stats, offers), ``update_status()`` reads the balance, and token
exhaustion waits ``refillIn`` and then succeeds. The client has no base-URL setting, so its
``requests.get`` is pointed at the mock (and nothing else: any other URL fails the test).
"""

from __future__ import annotations

import statistics
import time

import httpx
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
