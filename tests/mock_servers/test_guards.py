"""Issue 14.12-14: the mock as a front end under abuse, on 127.0.0.1.

- 12: 40 POSTs of 100 MB each: before, RSS grew ~75 MB per request and never dropped
  (56 MB -> 3.1 GB); now each is refused from its Content-Length (413 in the provider's format)
  and RSS stays within 50 MB of its start;
- 13: 600 half-open connections: before, never timed out; now closed after the header timeout,
  while other requests are answered; an idle keep-alive connection is closed after the idle timeout;
- 14: the admin token, the warning beyond loopback, reserved profile names, PATCH bounds.
"""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from harness.runner.mockproc import start_mock
from tests.harness.runutil import REPO

BODY_MB = 100


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _post_huge(host: str, port: int, path: str, mb: int) -> tuple[int, bytes]:
    """POST ``mb`` MB with its Content-Length, sending the whole body unless the server closes;
    returns (status, response body)."""
    chunk = memoryview(b"x" * (1 << 20))
    with socket.create_connection((host, port), timeout=30) as s:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                  f"Authorization: Bearer k\r\nx-api-key: k\r\nanthropic-version: 2023-06-01\r\n"
                  f"Content-Length: {mb << 20}\r\n\r\n".encode())
        try:
            for _ in range(mb):
                s.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                got = s.recv(65536)
            except ConnectionResetError:
                break
            if not got:
                break
            data += got
            head, _, body = data.partition(b"\r\n\r\n")
            if _ and b"content-length:" in head.lower():
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                if len(body) >= length:
                    break
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_oversized_bodies_refused_before_reading_rss_flat() -> None:
    mock = start_mock(["openai", "anthropic", "spapi"])
    try:
        host, port = "127.0.0.1", int(mock.base_url.rsplit(":", 1)[1])
        httpx.get(f"{mock.base_url}/healthz", timeout=5)
        start = _rss_mb(mock.proc.pid)
        t0 = time.monotonic()
        statuses = []
        for i in range(40):
            status, body = _post_huge(host, port, "/openai/v1/chat/completions", BODY_MB)
            statuses.append(status)
            if i == 0:
                err = json.loads(body)["error"]  # OpenAI's own error shape
                assert "larger than" in err["message"]
        took = time.monotonic() - t0
        end = _rss_mb(mock.proc.pid)
        status, body = _post_huge(host, port, "/anthropic/v1/messages", 70)
        # past Anthropic's own 32 MB: its edge's body (tests/mock_servers/test_request_size.py)
        assert status == 413 and json.loads(body)["error"]["type"] == "request_too_large"
        status, body = _post_huge(host, port, "/spapi/catalog/2022-04-01/items/B0", 70)
        assert status == 413 and "errors" in json.loads(body)  # SP-API's shape
        # still serving
        ok = httpx.post(f"{mock.base_url}/openai/v1/chat/completions", headers={"Authorization": "Bearer k"},
                        json={"model": "gpt-5-nano", "messages": [{"role": "user", "content": "hi"}]}, timeout=30)
        assert ok.status_code == 200
    finally:
        mock.stop()
    assert statuses == [413] * 40
    print(f"RSS {start:.0f} MB -> {end:.0f} MB after 40 x {BODY_MB} MB bodies ({took:.1f}s)")
    assert end - start < 50, (start, end)


def test_half_open_connections_time_out_others_answered() -> None:
    mock = start_mock(["openai"], args=["--header-timeout", "1", "--idle-timeout", "2"])
    socks: list[socket.socket] = []
    try:
        host, port = "127.0.0.1", int(mock.base_url.rsplit(":", 1)[1])
        for _ in range(600):
            s = socket.create_connection((host, port), timeout=5)
            s.sendall(b"POST /openai/v1/chat/completions HTTP/1.1\r\nHost: x\r\n")  # and never the rest
            socks.append(s)
        t0 = time.monotonic()
        r = httpx.get(f"{mock.base_url}/healthz", timeout=5)  # others still answered
        assert r.status_code == 200
        closed: set[int] = set()
        deadline = time.monotonic() + 15
        while len(closed) < len(socks) and time.monotonic() < deadline:
            ready, _, _ = select.select([s for i, s in enumerate(socks) if i not in closed], [], [], 0.5)
            for s in ready:
                try:
                    data = s.recv(1024)
                except OSError:
                    data = b""
                if not data:
                    closed.add(socks.index(s))
        took = time.monotonic() - t0
        assert len(closed) == 600, f"{len(closed)} of 600 closed"  # before: none, ever
        # the idle timeout: a keep-alive connection after a whole request
        with socket.create_connection((host, port), timeout=10) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert b"200" in s.recv(65536).split(b"\r\n")[0]
            t1 = time.monotonic()
            s.settimeout(10)
            assert s.recv(1024) == b""
            idle = time.monotonic() - t1
        assert 1.5 < idle < 6, idle
        print(f"600 half-open connections closed {took:.1f}s after the 1 s header timeout; idle closed after {idle:.1f}s")
    finally:
        for s in socks:
            s.close()
        mock.stop()


def test_admin_token() -> None:
    mock = start_mock(["openai"], args=["--admin-token", "tok-123"])
    try:
        url = f"{mock.base_url}/admin/profiles"
        assert httpx.get(url, timeout=5).status_code == 401
        assert httpx.get(url, headers={"X-Admin-Token": "nope"}, timeout=5).status_code == 401
        assert httpx.get(url, headers={"X-Admin-Token": "tok-123"}, timeout=5).status_code == 200
        assert httpx.post(f"{mock.base_url}/admin/reset", headers={"Authorization": "Bearer tok-123"},
                          timeout=5).status_code == 200
        assert httpx.get(f"{mock.base_url}/healthz", timeout=5).status_code == 200  # only /admin is guarded
    finally:
        mock.stop()


def test_patch_values_are_bounded() -> None:
    mock = start_mock(["openai", "cardgenius"])
    try:
        for name, change, word in [
            ("openai", {"limits.requests_per_minute": 1e-300}, "greater than or equal to 0.001"),
            ("openai", {"faults.hang_seconds": 1e300}, "less than or equal to 86400"),
            ("cardgenius", {"latency.median": 1e300}, "less than or equal to 86400"),
            ("openai", {"limits.tokens_per_minute": 1e300}, "less than or equal to 1000000000000"),
        ]:
            r = httpx.patch(f"{mock.base_url}/admin/profiles/{name}", json=change, timeout=5)
            assert r.status_code == 400 and word in r.json()["error"], (change, r.text)
        r = httpx.patch(f"{mock.base_url}/admin/profiles/openai", json={"limits.requests_per_minute": 0.01}, timeout=5)
        assert r.status_code == 200
    finally:
        mock.stop()


def _mock_cli(*args: str, timeout: float = 15) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mock_servers", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env={"COLUMNS": "250", "PATH": "/usr/bin:/bin"})


def test_reserved_profile_names_are_refused(tmp_path: Path) -> None:
    for name in ("admin", "metrics", "healthz"):
        prof = tmp_path / f"{name}.yaml"
        prof.write_text(f"name: {name}\nkind: rest\nendpoints: [{{name: a, method: GET, path: /a}}]\n")
        proc = _mock_cli("--profile", str(prof), "--port", "0")
        assert proc.returncode == 2, proc.stderr
        assert f"name {name!r}" in proc.stderr and "is reserved" in proc.stderr, proc.stderr


def test_binding_beyond_loopback_warns() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "mock_servers", "--providers", "openai", "--host", "0.0.0.0",
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        line = proc.stderr.readline()
    finally:
        proc.terminate()
        proc.wait(10)
    assert "warning: listening on 0.0.0.0, beyond loopback" in line and "--admin-token" in line, line
