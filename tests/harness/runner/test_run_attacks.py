"""Issue 14, security: a real-target run against tiny servers on 127.0.0.1 that attack it.

- 8: a 302 to another host (127.0.0.2) is an outcome on every transport; the key never arrives there;
- 9: a server echoing the key percent-encoded, JSON-escaped or base64 puts it in no file;
- 10: row data in a path template stays one path segment on every transport;
- 11: a ``user:password@`` base URL never prints the password.
"""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from aiohttp import web

from tests.harness.runutil import run_cli, write_scenario
from tests.harness.tinyserver import tiny_server

TRANSPORTS = ("fast", "aiohttp", "httpx")


def _files_with(root: Path, needles: list[str]) -> list[str]:
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path.name}: {n!r}" for n in needles if n.encode() in data]
    return found


def _rest_scenario(base_url: str, path: str = "/items/{{ row.ref }}", profile: str = "cardgenius") -> dict:
    return {
        "targets": {"api": {"profile": profile, "base_url": base_url, "api_key_env": "CANARY_KEY"}},
        "steps": [{"name": "get", "target": "api", "method": "GET", "path": path,
                   "keep": {"seen": "{{ response.seen }}"}}],
        "workers": 2, "timeout": 5.0,
        "retry": {"max_attempts": 1},
    }


def _run(root: Path, doc: dict, rows: list[dict], key: str, *extra: str):
    wd = write_scenario(root, doc, rows)
    proc = run_cli(["run", str(wd.scenario), "--target", "real", "--quiet", "--summary-json", str(wd.summary),
                    *extra], env={"CANARY_KEY": key}, timeout=90)
    (root / "stdout.txt").write_text(proc.stdout)
    (root / "stderr.txt").write_text(proc.stderr)
    return wd, proc


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_cross_host_redirect_is_an_outcome_and_the_key_never_leaves(tmp_path: Path, transport: str) -> None:
    key = f"CANARY-{uuid.uuid4().hex}"

    async def stolen(request: web.Request) -> web.Response:
        return web.json_response({"seen": "the other host's body"})

    with tiny_server(stolen, host="127.0.0.2") as other:
        async def redirect(request: web.Request) -> web.Response:
            raise web.HTTPFound(f"{other.url}/steal{request.path_qs}")

        with tiny_server(redirect) as origin:
            wd, proc = _run(tmp_path, _rest_scenario(origin.url), [{"id": f"r{i}", "ref": i} for i in range(4)],
                            key, "--transport", transport)
    assert proc.returncode == 0, proc.stderr
    assert len(origin.seen) == 4 and all(s.headers.get("x-api-key") == key for s in origin.seen)
    assert other.seen == []  # before: aiohttp followed the 302 and sent x-api-key there
    rows = wd.rows()
    assert [r["status"] for r in rows] == ["failed"] * 4
    assert all(r["error"].startswith("client_error after 1 attempt: HTTP 302") for r in rows), rows[0]
    assert _files_with(tmp_path, [key]) == []


def test_key_echoed_in_any_encoding_is_masked_in_every_file(tmp_path: Path) -> None:
    key = f"CANARY+{uuid.uuid4().hex[:8]}/9d=8c%7b&x"
    forms = {
        "raw": key,
        "pct": quote(key, safe=""),
        "pct-lower": quote(key, safe="").replace("%2B", "%2b").replace("%2F", "%2f").replace("%3D", "%3d"),
        "plus": quote_plus(key),
        "json": json.dumps(key)[1:-1].replace("/", "\\/"),
        "b64": base64.b64encode(key.encode()).decode(),
        "basic": base64.b64encode(f"{key}:".encode()).decode(),
    }

    async def echo(request: web.Request) -> web.Response:
        form = request.query.get("form", "pct")
        if form == "line":  # the request line as received: the key percent-encoded by urlencode
            text = f"bad request: {request.method} {request.raw_path}"
        else:
            text = f"bad key {forms[form]}"
        return web.Response(status=400, text=text, content_type="text/plain")

    rows = [{"id": f"r-{name}", "form": name} for name in [*forms, "line"]]
    with tiny_server(echo) as server:
        doc = {
            "targets": {"kp": {"profile": "keepa", "base_url": server.url, "api_key_env": "CANARY_KEY"}},
            "steps": [{"name": "product", "target": "kp", "method": "GET", "path": "/product",
                       "query": {"domain": 1, "form": "{{ row.form }}"}}],
            "workers": 2, "timeout": 5.0, "retry": {"max_attempts": 1},
        }
        wd, proc = _run(tmp_path, doc, rows, key)
    assert proc.returncode == 0, proc.stderr
    assert any(quote_plus(key) in s.target for s in server.seen)  # the key really went out encoded
    out = wd.rows()
    assert len(out) == len(rows) and all(r["status"] == "failed" for r in out)
    assert all("***" in r["error"] for r in out), [r["error"] for r in out]
    # before: key=CANARY%2Bkp%2F9d%3D8c7b landed in every output row and in the checkpoint
    assert _files_with(tmp_path, sorted(set(forms.values()))) == []


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_row_data_in_a_path_stays_one_segment(tmp_path: Path, transport: str) -> None:
    refs = ["../../admin/reset", "%2e%2e/%2e%2e/admin/reset", "..", "x?x=1&y=2", "a#frag", "plain-1"]

    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"seen": request.raw_path})

    with tiny_server(ok) as server:
        wd, proc = _run(tmp_path, _rest_scenario(server.url + "/base"),
                        [{"id": f"r{i}", "ref": r} for i, r in enumerate(refs)], "k-" + uuid.uuid4().hex,
                        "--transport", transport)
    assert proc.returncode == 0, proc.stderr
    targets = sorted(s.target for s in server.seen)
    assert targets == sorted([
        "/base/items/..%2F..%2Fadmin%2Freset", "/base/items/%252e%252e%2F%252e%252e%2Fadmin%2Freset",
        "/base/items/%2E%2E", "/base/items/x%3Fx=1&y=2", "/base/items/a%23frag", "/base/items/plain-1"]), targets
    assert all(r["status"] == "done" for r in wd.rows())


def test_password_in_base_url_is_masked_in_cannot_reach(tmp_path: Path) -> None:
    secret = "s3cret" + uuid.uuid4().hex[:8]
    wd, proc = _run(tmp_path, _rest_scenario(f"http://alice:{secret}@127.0.0.1:9/v1"), [{"id": "a", "ref": 1}],
                    "k-" + uuid.uuid4().hex)
    assert proc.returncode == 2
    assert "cannot reach target 'api' at http://alice:***@127.0.0.1:9/v1" in proc.stderr, proc.stderr
    (tmp_path / "run.yaml").unlink()  # the scenario holds it: the user wrote it there
    assert _files_with(tmp_path, [secret]) == []
