"""Runner acceptance: with 2% 5xx, 1% hangs, 0.5% resets and 0.5% malformed bodies injected
by the mock (the scenario's ``mock:`` section; a hang lasts longer than the scenario timeout),
every item ends done or failed with a reason, transient failures succeed on retry, and the run
completes. The runner's retries are checked against the mock's own count of injected faults:
each 500 and each malformed 200 is one ``server_error`` retry, each hang one ``timeout``, each
reset one ``connection_error``.
"""

from __future__ import annotations

import re

import pytest

import harness.runner.run

from tests.harness.runutil import foreground_priority, http_get, metric_sum, research_scenario, run_in_process, write_scenario

TIME_SCALE = 0.01
LATENCY = 10.0  # profile seconds: 0.1 s wall
TIMEOUT = 150.0  # profile seconds: 1.5 s wall, 15x the latency: only a hang times out, even on a busy machine
HANG = 600.0  # profile seconds: 6 s wall, far past the timeout


@pytest.fixture(autouse=True)
def _priority():
    # the exact accounting below needs every timeout to be a hang: no request may take 5x its
    # latency because other jobs on this machine hold both cores
    with foreground_priority() as applied:
        yield applied


def _doc(faults: dict[str, float], workers: int, max_attempts: int) -> dict:
    mock = {"research.latency.median": LATENCY, "research.latency.p99": LATENCY,
            "research.faults.hang_seconds": HANG}
    mock.update({f"research.faults.{k}": v for k, v in faults.items()})
    return research_scenario(
        workers=workers, timeout=TIMEOUT, mock=mock,
        retry={"max_attempts": max_attempts, "base_delay": 1.0, "max_delay": 5.0, "jitter": "full"})


def _run(tmp_path, monkeypatch, faults: dict[str, float], items: int, *, max_attempts: int, workers: int = 40):
    """A run of ``items`` on the mock with ``faults``: (workdir, summary, the mock's last /metrics)."""
    wd = write_scenario(tmp_path, _doc(faults, workers=workers, max_attempts=max_attempts), items)
    scraped = _capture_mock_metrics(monkeypatch)
    return wd, run_in_process(wd, time_scale=TIME_SCALE, monkeypatch=monkeypatch).summary, scraped


def _capture_mock_metrics(monkeypatch) -> list[str]:
    """Make the mock that ``harness run`` starts report its /metrics just before it stops."""
    scraped: list[str] = []
    real_start = harness.runner.run.start_mock_for

    def start(*args, **kwargs):
        proc = real_start(*args, **kwargs)
        real_stop = proc.stop

        def stop(*a, **kw):
            if proc.proc.poll() is None:
                scraped.append(http_get(proc.base_url + "/metrics"))
            return real_stop(*a, **kw)

        proc.stop = stop  # type: ignore[method-assign]
        return proc

    monkeypatch.setattr(harness.runner.run, "start_mock_for", start)
    return scraped


def _faults(text: str) -> dict[str, float]:
    return {kind: metric_sum(text, "mock_faults_total", provider="research", kind=kind)
            for kind in ("error_500", "hang", "reset", "malformed")}


def test_injected_faults_are_retried_and_every_item_ends_done(tmp_path, monkeypatch):
    items = 2000
    wd, s, scraped = _run(tmp_path, monkeypatch, {"error_500": 0.02, "hang": 0.01, "reset": 0.005,
                                                  "malformed": 0.005}, items, max_attempts=6)

    assert s["stop_reason"] is None
    assert s["items_total"] == items and s["items_done"] + s["items_failed"] == items
    rows = wd.rows()
    assert [r["id"] for r in rows] == [f"item-{i}" for i in range(items)]  # every item, in input order
    for r in rows:
        assert r["status"] in ("done", "failed")
        if r["status"] == "failed":
            assert r["error"], r
        else:
            assert r["research_id"] and not r["error"], r
    # six attempts against a 4% fault rate: a transient failure surviving all six is ~4e-9 per item
    assert s["items_done"] == items, s["failure_reasons"]

    assert len(scraped) == 1
    injected = _faults(scraped[0])
    print(f"\ninjected {injected}; runner retries {s['retries_by_reason']}; outcomes {s['requests_by_outcome']}")
    assert all(n > 0 for n in injected.values()), injected  # every kind happened (expected 40/20/10/10)
    retries = s["retries_by_reason"]
    assert retries == {
        "server_error": injected["error_500"] + injected["malformed"],
        "timeout": injected["hang"],
        "connection_error": injected["reset"],
    }
    assert s["requests_by_outcome"] == {"ok": items, **retries}
    assert s["requests"] == items + sum(retries.values())


_REASONS = {
    "error_500": re.compile(r"^server_error after 1 attempt: HTTP 500: Injected fault\.$"),
    "malformed": re.compile(r"^server_error after 1 attempt: malformed response body \(invalid JSON\)$"),
    "hang": re.compile(r"^timeout after 1 attempt: no answer within [0-9.]+s$"),
    "reset": re.compile(r"^connection_error after 1 attempt: .+"),
}


def test_without_retries_each_fault_fails_its_item_with_a_reason(tmp_path, monkeypatch):
    items = 400
    wd, s, scraped = _run(tmp_path, monkeypatch, {"error_500": 0.05, "hang": 0.05, "reset": 0.05, "malformed": 0.05},
                          items, max_attempts=1)
    rows = wd.rows()
    assert len(rows) == items and s["stop_reason"] is None
    injected = _faults(scraped[0])
    assert all(n > 0 for n in injected.values()), injected
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == s["items_failed"] == sum(injected.values())
    by_kind = {kind: [r for r in failed if pattern.match(r["error"] or "")] for kind, pattern in _REASONS.items()}
    unexplained = [r for r in failed if not any(p.match(r["error"] or "") for p in _REASONS.values())]
    assert not unexplained, unexplained[:3]
    assert {k: len(v) for k, v in by_kind.items()} == injected
    assert all(r["status"] == "done" and r["research_id"] for r in rows if r not in failed)
    assert s["retries_by_reason"] == {}
