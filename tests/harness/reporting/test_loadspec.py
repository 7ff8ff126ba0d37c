"""``harness loadspec``: the DevOps load spec and the partner notice, from a plan or a run.

One LoadSpec is the source of truth: the JSON holds its exact figures, the Markdown and the
notice print them for people. Checked here: the arithmetic identities (req/s x bytes x 8 =
bandwidth, bandwidth / 8 x 86,400 = daily bytes, items / throughput = duration, items x
requests per item = total requests), that the numbers parsed back from the Markdown and the
notice agree with the JSON and with each other, seed 003's corrected figures (7.4 req/s, not
13; 22.7 GB/day, not 71 GB; 3.1 days for 2M users at 20 workers) and that the spec and the
notice cover everything the document's own DevOps summary and e-mail cover, and a spec from a
real short run on the mock (127.0.0.1, time scale 0.01).
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
import yaml

from harness.format import fmt_duration_round
from harness.planning.planner import CapacityModel
from harness.reporting.loadspec import LoadSpec, render
from harness.scenario import load_scenario, scenario_from_data

from tests.harness.runutil import REPO, run_cli, write_scenario

SEED003 = REPO / "scenarios" / "seeds" / "003-cardgenius.yaml"
QUESTIONS = ("rate limit", "load balancer", "off-peak", "contact during the run")

_UNITS = {"bit/s": 1, "kbit/s": 1e3, "Mbit/s": 1e6, "Gbit/s": 1e9,
          "B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}


def _num(text: str) -> float:
    return float(text.replace(",", ""))


def _scaled(value: str, unit: str) -> float:
    return _num(value) * _UNITS[unit]


def _identities(d: dict) -> None:
    """The arithmetic every spec obeys, on the exact JSON figures."""
    rps = d["sustained_rps"]
    assert rps == pytest.approx(d["items_per_second"] * d["requests_per_item"], rel=1e-12)
    assert d["bandwidth_out_bps"] == pytest.approx(rps * d["request_bytes"] * 8, rel=1e-12)
    assert d["bandwidth_in_bps"] == pytest.approx(rps * d["response_bytes"] * 8, rel=1e-12)
    assert d["daily_bytes_out"] == pytest.approx(d["bandwidth_out_bps"] / 8 * 86_400, rel=1e-12)
    assert d["daily_bytes_in"] == pytest.approx(d["bandwidth_in_bps"] / 8 * 86_400, rel=1e-12)
    assert d["daily_bytes"] == pytest.approx(d["daily_bytes_out"] + d["daily_bytes_in"], rel=1e-12)
    assert d["daily_requests"] == pytest.approx(rps * 86_400, rel=1e-12)
    assert d["duration_seconds"] == pytest.approx(d["items"] / d["items_per_second"], rel=1e-12)
    assert d["total_requests"] == round(d["items"] * d["requests_per_item"])
    assert d["peak_rps"] >= rps - 1e-9
    assert d["concurrency"] >= 1 and d["burst"] >= 1


def _parse_markdown(md: str) -> dict[str, float]:
    """The key figures as printed in LOAD_SPEC.md's table, back to numbers."""
    def row(label: str) -> str:
        m = re.search(rf"^\| {re.escape(label)} \| ([^|]+) \|", md, re.M)
        assert m, f"no row {label!r} in LOAD_SPEC.md"
        return m.group(1).strip()

    out: dict[str, float] = {}
    out["concurrency"] = _num(row("Concurrent connections"))
    out["sustained_rps"] = _num(re.fullmatch(r"([\d.,]+) req/s", row("Sustained request rate")).group(1))
    out["peak_rps"] = _num(re.fullmatch(r"([\d.,]+) req/s", row("Peak request rate (any one second)")).group(1))
    out["burst"] = _num(re.match(r"([\d,]+) requests? at once", row("Burst")).group(1))
    out["daily_requests"] = _num(row("Requests per day"))
    m = re.fullmatch(r"([\d.]+) (\S+)", row(next(l for l in re.findall(r"^\| (Bandwidth out[^|]*) \|", md, re.M))))
    out["bandwidth_out_bps"] = _scaled(*m.groups())
    m = re.fullmatch(r"([\d.]+) (\S+)", row(next(l for l in re.findall(r"^\| (Bandwidth in[^|]*) \|", md, re.M))))
    out["bandwidth_in_bps"] = _scaled(*m.groups())
    m = re.match(r"([\d.]+) (\S+)/day", row("Daily volume"))
    out["daily_bytes"] = _scaled(*m.groups())
    out["total_requests"] = _num(row("Total requests"))
    out["duration_text"] = row("Duration")  # type: ignore[assignment]
    # the per-request sizes, from the "how" column of the bandwidth rows
    sizes = re.findall(r"req/s x ([\d.]+) (\w+) per (?:request|response) x 8", md)
    out["request_bytes"] = _scaled(*sizes[0])
    out["response_bytes"] = _scaled(*sizes[1])
    return out


def _parse_notice(txt: str) -> dict[str, float | str]:
    out: dict[str, float | str] = {}
    out["concurrency"] = _num(re.search(r"^- ([\d,]+) concurrent connections", txt, re.M).group(1))
    out["sustained_rps"] = _num(re.search(r"^- ([\d.,]+) req/s sustained", txt, re.M).group(1))
    out["daily_requests"] = _num(re.search(r"about ([\d,]+) requests a day", txt).group(1))
    m = re.search(r"^- Burst: ([\d,]+) requests? at once.*at most ([\d.,]+) req/s in any one second", txt, re.M)
    out["burst"], out["peak_rps"] = _num(m.group(1)), _num(m.group(2))
    m = re.search(r"^- Bandwidth: ([\d.]+) (\S+) to you \(([\d.]+) (\w+) per request\), ([\d.]+) (\S+) from you "
                  r"\(([\d.]+) (\w+) per response\)", txt, re.M)
    out["bandwidth_out_bps"] = _scaled(m.group(1), m.group(2))
    out["request_bytes"] = _scaled(m.group(3), m.group(4))
    out["bandwidth_in_bps"] = _scaled(m.group(5), m.group(6))
    out["response_bytes"] = _scaled(m.group(7), m.group(8))
    m = re.search(r"^- Daily volume: ([\d.]+) (\S+)/day", txt, re.M)
    out["daily_bytes"] = _scaled(*m.groups())
    m = re.search(r"^- ([\d,]+) requests over (.+?);", txt, re.M)
    out["total_requests"], out["duration_text"] = _num(m.group(1)), m.group(2)
    return out


def _check_files_agree(d: dict, md: str, notice: str) -> None:
    """Every figure printed in the Markdown and the notice is the JSON's, rounded for people,
    and the printed figures obey the identities up to that rounding."""
    for parsed in (_parse_markdown(md), _parse_notice(notice)):
        assert parsed["concurrency"] == d["concurrency"]
        assert parsed["burst"] == d["burst"]
        assert parsed["total_requests"] == d["total_requests"]
        assert parsed["duration_text"] == fmt_duration_round(d["duration_seconds"])
        assert parsed["daily_requests"] == pytest.approx(d["daily_requests"], abs=0.5)
        # one decimal on a rate, three significant figures on bandwidth and bytes
        assert parsed["sustained_rps"] == pytest.approx(d["sustained_rps"], abs=0.051, rel=0.005)
        assert parsed["peak_rps"] == pytest.approx(d["peak_rps"], abs=0.051, rel=0.005)
        for key in ("bandwidth_out_bps", "bandwidth_in_bps", "daily_bytes", "request_bytes", "response_bytes"):
            assert parsed[key] == pytest.approx(d[key], rel=0.006), key
        # the printed numbers are consistent with each other, not only with the JSON, up to their
        # rounding (a rate to 0.05 req/s, sizes and bandwidths to 0.5% each)
        rounding = 0.051 / parsed["sustained_rps"] + 0.011
        assert parsed["request_bytes"] * parsed["sustained_rps"] * 8 == pytest.approx(
            parsed["bandwidth_out_bps"], rel=rounding)
        assert parsed["response_bytes"] * parsed["sustained_rps"] * 8 == pytest.approx(
            parsed["bandwidth_in_bps"], rel=rounding)
        assert (parsed["bandwidth_out_bps"] + parsed["bandwidth_in_bps"]) / 8 * 86_400 == pytest.approx(
            parsed["daily_bytes"], rel=0.01)




# -- from a plan ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def seed003_files(tmp_path_factory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("loadspec-003")
    r = run_cli(["loadspec", "--plan", str(SEED003), "--items", "2000000", "--workers", "20",
                 "--partner", "CardGenius", "--start", "2025-07-07T09:00", "--out", str(out)])
    assert r.returncode == 0, r.stderr
    assert "7.4 req/s sustained" in r.stdout
    return {name: (out / name).read_text() for name in ("LOAD_SPEC.md", "load_spec.json", "partner_notice.txt")}


def test_seed003_corrected_figures(seed003_files):
    d = json.loads(seed003_files["load_spec.json"])
    _identities(d)
    assert d["source"] == "plan" and d["partner"] == "CardGenius"
    assert d["concurrency"] == 20 and d["burst"] == 20 and d["workers"] == 20
    # docs/seeds.md: 20 / 2.70 s = 7.41 req/s, not the document's 13
    assert d["sustained_rps"] == pytest.approx(7.40, abs=0.02)
    assert d["peak_rps"] == 20  # the 20 workers start together: no client-side limiter spreads them
    # 500 B out, 35,000 B in per request: 29.6 kbit/s and 2.07 Mbit/s (not 52 kbit/s and 3.6 Mbit/s)
    assert d["request_bytes"] == 500 and d["response_bytes"] == 35_000
    assert d["bandwidth_out_bps"] == pytest.approx(29_600, rel=0.01)
    assert d["bandwidth_in_bps"] == pytest.approx(2.07e6, rel=0.01)
    # 22.7 GB a day at 7.4 req/s; the document's 71 GB is the whole 2M batch
    assert d["daily_bytes"] == pytest.approx(22.7e9, rel=0.01)
    assert d["total_bytes_out"] + d["total_bytes_in"] == pytest.approx(71.0e9, rel=0.001)
    assert d["daily_requests"] == pytest.approx(640_000, rel=0.01)
    # 2M users: 2,000,000 requests over 3.1 days (3+ days, inside the e-mail's "3-4 days")
    assert d["total_requests"] == 2_000_000
    assert 3.0 * 86_400 < d["duration_seconds"] < 3.3 * 86_400
    assert d["start"] == "2025-07-07T09:00" and d["notify_by"] == "2025-07-05T09:00"
    assert d["error_rate"] == 0 and d["rate_limited_rate"] == 0 and d["risk"] == "none"
    assert d["policy"]["max_attempts"] == 3 and d["policy"]["timeout_s"] == 30 and d["policy"]["adaptive"] is True


def test_seed003_notice_covers_the_documents_notice_with_corrected_figures(seed003_files):
    notice = seed003_files["partner_notice.txt"]
    # the document's e-mail: 20 connections, 13 req/s, 2M requests over 3-4 days, start [DATE], 3 questions
    assert "- 20 concurrent connections" in notice
    assert "- 7.4 req/s sustained" in notice
    assert "13 req/s" not in notice and "13 requests" not in notice
    assert "- 2,000,000 requests over 3.1 days (75 h)" in notice
    assert "Starting: 2025-07-07 09:00" in notice and "[DATE" not in notice
    # and the DevOps summary's figures: burst, bandwidth both ways, daily volume
    assert "Burst: 20 requests at once" in notice
    assert "29.6 kbit/s to you" in notice and "2.07 Mbit/s from you" in notice
    assert "Daily volume: 22.7 GB/day" in notice and "71 GB/day" not in notice
    lowered = notice.lower()
    for q in QUESTIONS:
        assert q in lowered, q
    assert "reduce load" in lowered


def test_seed003_spec_covers_the_devops_summary_and_more(seed003_files):
    md = seed003_files["LOAD_SPEC.md"]
    for text in ("| Concurrent connections | 20 |", "| Sustained request rate | 7.4 req/s |",
                 "| Peak request rate (any one second) | 20 req/s |", "| Burst | 20 requests at once |",
                 "| Bandwidth out (to CardGenius) | 29.6 kbit/s |", "| Bandwidth in (from CardGenius) | 2.07 Mbit/s |",
                 "| Daily volume | 22.7 GB/day", "| Total requests | 2,000,000 |", "| Duration | 3.1 days (75 h) |",
                 "| Start | 2025-07-07 09:00 |", "| Total transfer | 71 GB"):
        assert text in md, text
    # the document's wrong figures are shown as corrected
    assert re.search(r"~13 requests/second sustained.*\| 13 req/s \| 7.4 req/s \| \*\*corrected\*\*", md)
    assert re.search(r"Daily \(2M processing\): 71 GB.*\| 22.7 GB/day \| \*\*corrected\*\* \(71 GB is the whole", md)
    # error rates, our policy, monitoring, failure scenarios and rollback, questions
    for section in ("## Our client-side limits and retry policy", "## Monitoring", "## Failure scenarios and rollback",
                    "## Questions for CardGenius"):
        assert section in md
    for text in ("Expected error rate", "Expected 429 rate", "at most 3 attempts", "30 s per request",
                 "Adaptive concurrency", "--max-rps", "--resume", "--workers 10", "Ctrl-C", "harness_requests_total",
                 "harness_in_flight_requests", "harness_concurrency_limit", "harness_retries_total",
                 "harness_response_bytes_total", "harness_request_duration_seconds"):
        assert text in md, text
    lowered = md.lower()
    for q in QUESTIONS[:3]:
        assert q in lowered, q
    assert "our contact during the run" in lowered


def test_seed003_files_agree(seed003_files):
    d = json.loads(seed003_files["load_spec.json"])
    _check_files_agree(d, seed003_files["LOAD_SPEC.md"], seed003_files["partner_notice.txt"])


def _seed003_variant(**changes) -> LoadSpec:
    data = yaml.safe_load(SEED003.read_text())
    for key, value in changes.items():
        if key == "mock":
            data["mock"] = {**data.get("mock", {}), **value}
        else:
            data[key] = value
    return LoadSpec.from_plan(scenario_from_data(data, SEED003), 200_000, 20)


def test_plan_with_an_unknown_server_limit_expects_429s():
    # the partner turns out to allow 120 requests/min (2/s): 20 workers offer 7.4/s; a runner that
    # does not learn limits from the headers meets it as 429s
    data = yaml.safe_load(SEED003.read_text())
    data["mock"] = {**data["mock"], "cardgenius.limits.requests_per_minute": 120}
    data["targets"]["cardgenius"]["limits"] = {"learn": False}
    spec = LoadSpec.from_plan(scenario_from_data(data, SEED003), 200_000, 20)
    assert spec.rate_limited_rate == pytest.approx(1 - 2.0 / 7.40, abs=0.01)
    assert "429" in spec.risk
    assert spec.sustained_rps == pytest.approx(2.0, rel=0.02)  # the server's limit sets the pace
    _identities(spec.to_dict())


def test_plan_with_a_server_limit_the_runner_learns_paces_below_it():
    from harness.runner.learning import SAFETY

    # the same limit learnt from X-RateLimit-Limit (the default): paced at SAFETY of it, no 429s
    spec = _seed003_variant(mock={"cardgenius.limits.requests_per_minute": 120})
    assert spec.rate_limited_rate == 0
    assert spec.risk == "none"
    assert spec.sustained_rps == pytest.approx(SAFETY * 2.0, rel=0.02)
    _identities(spec.to_dict())


def test_plan_with_a_client_limit_and_faults():
    data = yaml.safe_load(SEED003.read_text())
    data["targets"]["cardgenius"]["limits"] = {"requests_per_second": 5, "burst": 3}
    data["mock"] = {**data["mock"], "cardgenius.faults.error_500": 0.02, "cardgenius.faults.reset": 0.01}
    spec = LoadSpec.from_plan(scenario_from_data(data, SEED003), 200_000, 20, partner="CardGenius")
    d = spec.to_dict()
    _identities(d)
    assert d["rate_limited_rate"] == 0  # no server limit
    assert d["error_rate"] == pytest.approx(0.03)
    assert d["item_failure_rate"] == pytest.approx(0.03 ** 3, rel=1e-6)
    attempts = 1 + 0.03 + 0.03 ** 2  # tried at most max_attempts = 3 times
    assert d["requests_per_item"] == pytest.approx(attempts, rel=1e-4)
    assert d["total_requests"] == round(200_000 * attempts)
    assert d["burst"] == 3  # the client limiter's burst, not 20 at once
    assert d["sustained_rps"] == pytest.approx(5.0, rel=0.01)  # the client's 5 req/s binds
    assert d["policy"]["limits"]["cardgenius"] == {"requests_per_second": 5.0, "burst": 3.0}
    files = render(spec)
    assert "req/s 5, burst 3" in files["LOAD_SPEC.md"]
    _check_files_agree(json.loads(files["load_spec.json"]), files["LOAD_SPEC.md"], files["partner_notice.txt"])


def test_cli_usage_errors(tmp_path):
    r = run_cli(["loadspec", "--plan", str(SEED003), "--run", str(tmp_path / "x.sqlite")])
    assert r.returncode == 2 and "exactly one" in r.stderr
    r = run_cli(["loadspec", "--run", str(tmp_path / "x.sqlite"), "--workers", "3"])
    assert r.returncode == 2 and "--plan only" in r.stderr
    r = run_cli(["loadspec", "--plan", str(SEED003), "--start", "next tuesday", "--out", str(tmp_path)])
    assert r.returncode == 2 and "ISO date" in r.stderr
    r = run_cli(["loadspec", "--run", str(tmp_path / "missing.sqlite")])
    assert r.returncode == 2 and "does not exist" in r.stderr


# -- from a run ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def short_run(tmp_path_factory) -> tuple[Path, dict]:
    """A small CardGenius batch on the mock, 100x compressed, with a few injected 500s."""
    root = tmp_path_factory.mktemp("loadspec-run")
    doc = {
        "targets": {"cardgenius": {"profile": "cardgenius"}},
        "steps": [{"name": "recommend", "target": "cardgenius", "path": "/v1/recommendations",
                   "json": {"user_id": "{{ row.id }}", "note": "{{ row.text }}"},
                   "keep": {"recommendation_id": "{{ response.id }}"}}],
        "workers": 8,
        "timeout": 30,
        "retry": {"max_attempts": 4, "base_delay": 0.5, "max_delay": 5, "jitter": "full"},
        "mock": {"cardgenius.faults.error_500": 0.05},
    }
    wd = write_scenario(root, doc, 120, name="cg")
    r = run_cli(["run", str(wd.scenario), "--time-scale", "0.01", "--quiet", "--summary-json", str(wd.summary)],
                timeout=120)
    assert r.returncode == 0, r.stderr
    return wd.checkpoint, wd.summary_data()


def test_run_spec_is_what_the_run_measured(short_run, tmp_path):
    ckpt, summary = short_run
    db = sqlite3.connect(f"file:{ckpt}?mode=ro", uri=True)
    stored = json.loads(db.execute("SELECT value FROM meta WHERE key = 'summary'").fetchone()[0])
    db.close()
    out = tmp_path / "spec"
    r = run_cli(["loadspec", "--run", str(ckpt), "--partner", "CardGenius", "--out", str(out)])
    assert r.returncode == 0, r.stderr
    d = json.loads((out / "load_spec.json").read_text())
    _identities(d)
    assert d["source"] == "run" and d["workers"] == 8
    requests = stored["requests"]
    assert d["items"] == stored["items_this_run"] == 120
    assert d["total_requests"] == requests
    assert d["duration_seconds"] == pytest.approx(stored["duration_real_seconds"], abs=1e-3)  # stored to 4 places
    assert d["sustained_rps"] == pytest.approx(stored["requests_per_second_real"], rel=1e-9)
    assert d["request_bytes"] == pytest.approx(stored["bytes"]["out"] / requests)
    assert d["response_bytes"] == pytest.approx(stored["bytes"]["in"] / requests)
    outcomes = stored["requests_by_outcome"]
    # the profile's 35,000-byte responses; the 500s' bodies are small
    assert d["response_bytes"] * requests / outcomes["ok"] == pytest.approx(35_000, rel=0.02)
    assert d["error_rate"] == pytest.approx((requests - outcomes.get("ok", 0) - outcomes.get("rate_limited", 0))
                                            / requests)
    assert outcomes.get("server_error", 0) > 0 and d["error_rate"] > 0
    assert d["rate_limited_rate"] == 0
    assert d["latency_seconds"]["p50"] == pytest.approx(stored["latency_real_seconds"]["p50"])
    assert d["concurrency"] == 8 and d["burst"] == 8 and stored["peak_in_flight"] <= 8
    assert d["peak_basis"] in ("measured", "derived") and d["peak_rps"] >= d["sustained_rps"]
    # the capacity model on this very scenario (120 items, 8 workers, 5% 500s retried): 8 workers
    # over 3.065 s per item (lognormal mean 2.90 s, 1.0526 attempts, half the 0.5 s base delay per
    # retry) plus the last round's tail: 2.635 req/s; its own load spec says exactly that
    loaded = load_scenario(ckpt.parent / "cg.yaml")
    model = CapacityModel(loaded).predict(8, 120)
    assert LoadSpec.from_plan(loaded, 120, 8).sustained_rps == pytest.approx(model.requests_per_s, rel=1e-9)
    assert model.requests_per_s == pytest.approx(2.635, abs=0.001)
    # the run draws ~126 latencies (CV of the lognormal(2.7, p99 6.5) = 0.391): the batch's total
    # work, hence its rate, is off the model by 4 standard errors at most, 4 x 0.391 / sqrt(n).
    # Faster than that nothing can make it; slower, the wall-clock cost of each request at time
    # scale 0.01 (a 27 ms call, so 1 ms of client and server work is 0.1 s of real time), which
    # the run's own median latency shows against the profile's 2.7 s: allowed on the low side.
    n = d["total_requests"]
    sampling = 4 * 0.391 / n ** 0.5
    overhead = d["latency_seconds"]["p50"] / 2.7
    assert model.requests_per_s * (1 - sampling) / max(1.0, overhead) <= d["sustained_rps"] \
        <= model.requests_per_s * (1 + sampling), (d["sustained_rps"], model.requests_per_s, sampling, overhead)
    assert d["policy"]["max_attempts"] == 4
    _check_files_agree(d, (out / "LOAD_SPEC.md").read_text(), (out / "partner_notice.txt").read_text())
    assert "Source: **run**" in (out / "LOAD_SPEC.md").read_text()


def test_run_spec_projects_to_a_larger_batch(short_run):
    ckpt, summary = short_run
    spec = LoadSpec.from_run(ckpt, items=200_000)
    d = spec.to_dict()
    _identities(d)
    assert d["items"] == 200_000
    assert d["items_per_second"] == pytest.approx(summary["items_per_second_real"], rel=1e-9)
    assert d["duration_seconds"] == pytest.approx(200_000 / summary["items_per_second_real"], rel=1e-9)
    assert d["total_requests"] == round(200_000 * summary["requests"] / summary["items_this_run"])
    files = render(spec)
    assert "projected to 200,000 items" in files["LOAD_SPEC.md"]
    _check_files_agree(json.loads(files["load_spec.json"]), files["LOAD_SPEC.md"], files["partner_notice.txt"])


def test_default_output_folder(short_run, tmp_path):
    ckpt, _ = short_run
    r = run_cli(["loadspec", "--run", str(ckpt)], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    folder = tmp_path / "reports" / "loadspec-cg-run"  # a plan's spec goes to loadspec-cg/: never replaced
    assert sorted(p.name for p in folder.iterdir()) == ["LOAD_SPEC.md", "load.png", "load.svg", "load_spec.json",
                                                        "partner_notice.txt", "report.html"]


def test_plan_reads_the_scenario_defaults(tmp_path):
    loaded = load_scenario(SEED003)
    spec = LoadSpec.from_plan(loaded, loaded.scenario.items, loaded.scenario.workers)
    # 200,000 users at 20 workers: 7.5 h (docs/seeds.md), not the document's 4-5 h
    assert spec.duration_seconds == pytest.approx(27_000, rel=0.01)
    assert spec.partner == "cardgenius"
