"""SP-API's limits are per operation: two Celery worker processes learn each operation's rate
from ``x-amzn-RateLimit-Limit`` and share it through Redis, one schedule per operation.

The shipped SP-API profile at time scale 0.02: getCatalogItem 2/s (burst 2) and getItemOffers
0.5/s (burst 1) become 100/s and 25/s of wall-clock time. Items are bound by getItemOffers. If
each process paced an operation on its own, the two would together send twice its rate and the
mock would refuse about half of what it is sent; shared, each operation is sent at its rate
(the runner paces learnt limits at 95%). A burst of 1 at 40 ms spacing leaves no room for the
milliseconds of jitter between two processes on a loaded 2-core machine, so some requests
still meet an empty bucket and are retried (as against the real API): they cost accepted rate
but stay a small share, far from the half an unshared limit gives.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.harness.runutil import Scraper, metric_sum
from tests.runner_support import ROOT, mock_requests, read_ids

SCALE = 0.02
ITEMS = 300
PROCESSES = 2
OFFERS_RATE = 0.5 / SCALE    # getItemOffers, wall-clock requests/s
CATALOG_RATE = 2.0 / SCALE   # getCatalogItem

SCENARIO = """\
name: spapi-operations
input: {{path: {input}, id: asin}}
output: {{path: {output}}}
targets:
  spapi:
    profile: spapi
    mock_url: {mock_url}
steps:
  - name: getCatalogItem
    target: spapi
    method: GET
    path: "/catalog/2022-04-01/items/{{{{ row.asin }}}}"
    query: {{marketplaceIds: ATVPDKIKX0DER, includedData: summaries}}
  - name: getItemOffers
    target: spapi
    method: GET
    path: "/products/pricing/v0/items/{{{{ row.asin }}}}/offers"
    query: {{MarketplaceId: ATVPDKIKX0DER, ItemCondition: New}}
workers: {workers}
timeout: 30
retry: {{max_attempts: 8, base_delay: 0.01, max_delay: 0.2}}
"""


def _asins(path, n: int):
    # well-formed ASINs (B + 9 alphanumerics), as the strict mock and the real API require
    path.write_text("asin\n" + "".join(f"B{i:09d}\n" for i in range(n)))
    return path


def _rate(samples: list[tuple[float, str]], operation: str) -> tuple[float, float]:
    """(accepted/s over the steady part, worst excess of any >= 1 s window over rate x T + burst)."""
    counts = [(t, metric_sum(text, "mock_requests_total", provider="spapi", endpoint=operation, status="200"))
              for t, text in samples]
    first = next(t for t, n in counts if n > 0)
    last = next(t for t, n in counts if n >= ITEMS)
    steady = [c for c in counts if first + 1.0 <= c[0] <= last - 0.5]
    (t0, n0), (t1, n1) = steady[0], steady[-1]
    return (n1 - n0) / (t1 - t0), max(
        (b[1] - a[1]) - (OFFERS_RATE if operation == "getItemOffers" else CATALOG_RATE) * (b[0] - a[0])
        for i, a in enumerate(steady) for b in steady[i + 1:] if b[0] - a[0] >= 1.0)


@pytest.mark.timeout(240)
def test_two_processes_share_each_operations_learnt_rate(tmp_path, mock_server, redis_server, celery_workers):
    celery_workers(PROCESSES)
    mock = mock_server(["spapi"], time_scale=SCALE, sets=["spapi.latency.median=0.2", "spapi.latency.p99=0.4"])
    data = _asins(tmp_path / "asins.csv", ITEMS)
    out = tmp_path / "out.jsonl"
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO.format(input=data, output=out, mock_url=mock.url("spapi"), workers=16 * PROCESSES))
    cmd = [sys.executable, "-m", "harness", "run", str(scenario), "--engine", "celery", "--quiet",
           "--broker", redis_server.url, "--processes", str(PROCESSES), "--chunk-size", "50",
           "--time-scale", str(SCALE)]
    scraper = Scraper(mock.base_url + "/metrics", interval=0.1, limit_seconds=180)
    with scraper.running():
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert read_ids(out) == [f"B{i:09d}" for i in range(ITEMS)]
    offers = mock_requests(mock.base_url, provider="spapi", endpoint="getItemOffers")
    catalog = mock_requests(mock.base_url, provider="spapi", endpoint="getCatalogItem")
    assert offers.get("200") == ITEMS and catalog.get("200") == ITEMS, (offers, catalog)
    offers_rate, offers_excess = _rate(scraper.samples, "getItemOffers")
    print(f"\ngetItemOffers {offers_rate:.1f}/s accepted (rate {OFFERS_RATE:g}/s), worst window "
          f"{offers_excess:+.1f} beyond rate x T; 429s: offers {offers.get('429', 0):.0f}, "
          f"catalog {catalog.get('429', 0):.0f} of {ITEMS} each")
    # never more than the one rate (one burst, plus the 0.1 s scrapes' timing), and not far under it
    assert offers_excess <= 1 + 0.01 * OFFERS_RATE * 10, offers_excess
    assert 0.75 * OFFERS_RATE <= offers_rate <= 1.02 * OFFERS_RATE, offers_rate
    # the refused share of what was sent: unshared, each process would send the whole rate
    # and about half would be refused
    for name, counts in (("getItemOffers", offers), ("getCatalogItem", catalog)):
        refused = counts.get("429", 0) / (counts.get("429", 0) + counts["200"])
        assert refused < 0.2, (name, counts)
