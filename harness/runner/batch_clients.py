"""The providers' Batch API wire formats, as ``harness run --mode batch`` uses them.

OpenAI (openai-python ``files.create(purpose="batch")``, ``batches.create/retrieve``): a JSONL
file of ``{"custom_id", "method": "POST", "url", "body"}`` lines, a batch with
``completion_window: "24h"`` and ``metadata``; results in the ``output_file_id`` file
(``{"custom_id", "response": {"status_code", "body"}, "error"}``) and the ``error_file_id``
file (``batch_expired`` for what did not finish). Anthropic (anthropic-sdk-python
``messages.batches.create/retrieve/results``): ``{"requests": [{"custom_id", "params"}]}``,
``processing_status: "ended"``, JSONL results with ``result.type`` succeeded, errored,
canceled or expired. aiohttp is the client: multipart uploads and streamed downloads, off
the runner's hot path.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterator

import aiohttp
import orjson

from harness.errors import HarnessError


@dataclass
class Outcome:
    """One request's answer from a batch: ``state`` ok, error (final) or unfinished (send again)."""

    custom_id: str
    state: str
    body: Any = None
    error: str = ""


class BatchAPIError(HarnessError):
    """A Batch API call was refused or could not be made; ``transient`` ones are tried again."""

    exit_code = 1

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class BatchClient:
    """Common plumbing: one aiohttp session, the target's auth and static headers."""

    url_for_batch = ""

    def __init__(self, base_url: str, headers: dict[str, str], timeout: float = 120.0) -> None:
        self.base = base_url.rstrip("/")
        self.headers = headers
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout))
        self.calls = 0

    async def close(self) -> None:
        await self.session.close()

    async def _json(self, method: str, path: str, *, raw_body: bool = False, **kw: Any) -> Any:
        self.calls += 1
        url = path if path.startswith("http") else self.base + path
        try:
            async with self.session.request(method, url, headers={**self.headers, **kw.pop("headers", {})},
                                            **kw) as resp:
                raw = await resp.read()
                if resp.status >= 400:
                    raise BatchAPIError(f"{method} {path}: HTTP {resp.status}: {raw[:300].decode('utf-8', 'replace')}",
                                        transient=resp.status in (408, 409, 429) or resp.status >= 500)
                if raw_body:
                    return raw
                try:
                    return orjson.loads(raw)
                except orjson.JSONDecodeError:
                    raise BatchAPIError(f"{method} {path}: HTTP {resp.status} with a body that is not JSON",
                                        transient=True) from None
        except aiohttp.ClientError as exc:
            raise BatchAPIError(f"{method} {path}: {type(exc).__name__}: {exc}", transient=True) from None

    # the provider-specific part
    async def submit(self, lines: list[tuple[str, dict[str, Any]]], tag: dict[str, str]) -> str:
        raise NotImplementedError

    async def status(self, batch_id: str) -> tuple[bool, str]:
        raise NotImplementedError

    async def results(self, batch_id: str) -> list[Outcome]:
        raise NotImplementedError

    async def find(self, tag: dict[str, str], n: int, since: float) -> list[str]:
        """Batches this run may have created before a crash hid the answer (never submit twice)."""
        raise NotImplementedError


class OpenAIBatchClient(BatchClient):
    def __init__(self, base_url: str, headers: dict[str, str], endpoint: str, timeout: float = 120.0) -> None:
        super().__init__(base_url, headers, timeout)
        self.endpoint = endpoint  # /v1/chat/completions, /v1/responses or /v1/embeddings

    async def submit(self, lines: list[tuple[str, dict[str, Any]]], tag: dict[str, str]) -> str:
        data = b"".join(orjson.dumps({"custom_id": cid, "method": "POST", "url": self.endpoint, "body": body}) + b"\n"
                        for cid, body in lines)
        form = aiohttp.FormData()
        form.add_field("purpose", "batch")
        form.add_field("file", data, filename=f"{tag['harness_batch']}.jsonl", content_type="application/jsonl")
        f = await self._json("POST", "/v1/files", data=form)
        b = await self._json("POST", "/v1/batches", json={"input_file_id": f["id"], "endpoint": self.endpoint,
                                                           "completion_window": "24h", "metadata": tag})
        return str(b["id"])

    async def status(self, batch_id: str) -> tuple[bool, str]:
        b = await self._json("GET", f"/v1/batches/{batch_id}")
        st = b.get("status", "")
        if st == "failed":
            errs = (b.get("errors") or {}).get("data") or []
            codes = ",".join(str(e.get("code")) for e in errs[:3])
            return True, f"failed:{codes}"
        return st in ("completed", "expired", "cancelled"), st

    async def results(self, batch_id: str) -> list[Outcome]:
        b = await self._json("GET", f"/v1/batches/{batch_id}")
        out: list[Outcome] = []
        for key in ("output_file_id", "error_file_id"):
            fid = b.get(key)
            if not fid:
                continue
            raw = await self._json("GET", f"/v1/files/{fid}/content", raw_body=True)
            for line in _lines(raw):
                resp, err = line.get("response"), line.get("error")
                cid = str(line.get("custom_id"))
                if resp and 200 <= int(resp.get("status_code", 0)) < 300:
                    out.append(Outcome(cid, "ok", resp.get("body")))
                elif err and err.get("code") == "batch_expired" or (b.get("status") == "cancelled" and not resp):
                    out.append(Outcome(cid, "unfinished", error=str((err or {}).get("code", "cancelled"))))
                else:
                    body = (resp or {}).get("body") or {}
                    msg = (body.get("error") or {}).get("message") if isinstance(body, dict) else None
                    status = (resp or {}).get("status_code")
                    out.append(Outcome(cid, "error", error=f"HTTP {status}: {msg}" if status else
                                       f"{(err or {}).get('code')}: {(err or {}).get('message')}"))
        return out

    async def find(self, tag: dict[str, str], n: int, since: float) -> list[str]:
        found, after = [], None
        for _ in range(50):  # at most 5,000 batches back
            page = await self._json("GET", "/v1/batches", params={"limit": "100", **({"after": after} if after else {})})
            for b in page.get("data", []):
                if (b.get("metadata") or {}).get("harness_batch") == tag["harness_batch"] and \
                        (b.get("metadata") or {}).get("harness_run") == tag["harness_run"]:
                    found.append(str(b["id"]))
            if not page.get("has_more") or not page.get("data"):
                return found
            after = page["data"][-1]["id"]
        return found


class AnthropicBatchClient(BatchClient):
    async def submit(self, lines: list[tuple[str, dict[str, Any]]], tag: dict[str, str]) -> str:
        b = await self._json("POST", "/v1/messages/batches",
                             json={"requests": [{"custom_id": cid, "params": body} for cid, body in lines]})
        return str(b["id"])

    async def status(self, batch_id: str) -> tuple[bool, str]:
        b = await self._json("GET", f"/v1/messages/batches/{batch_id}")
        return b.get("processing_status") == "ended", str(b.get("processing_status"))

    async def results(self, batch_id: str) -> list[Outcome]:
        b = await self._json("GET", f"/v1/messages/batches/{batch_id}")
        raw = await self._json("GET", b.get("results_url") or f"/v1/messages/batches/{batch_id}/results",
                               raw_body=True)
        out = []
        for line in _lines(raw):
            cid, res = str(line.get("custom_id")), line.get("result") or {}
            result_type = res.get("type")
            if result_type == "succeeded":
                out.append(Outcome(cid, "ok", res.get("message")))
            elif result_type in ("expired", "canceled"):
                out.append(Outcome(cid, "unfinished", error=result_type))
            else:
                err = (res.get("error") or {}).get("error") or res.get("error") or {}
                out.append(Outcome(cid, "error", error=f"{err.get('type', result_type)}: {err.get('message', '')}"))
        return out

    async def find(self, tag: dict[str, str], n: int, since: float) -> list[str]:
        """Anthropic batches carry no metadata: the batches created since the journal's intent
        with exactly ``n`` requests are the candidates."""
        from harness.runner.learning import parse_rfc3339

        page = await self._json("GET", "/v1/messages/batches", params={"limit": "100"})
        found = []
        for b in page.get("data", []):
            counts = b.get("request_counts") or {}
            total = sum(int(v) for v in counts.values() if isinstance(v, int))
            try:
                created = parse_rfc3339(b.get("created_at", ""))
            except ValueError:
                continue
            if created >= since - 5 and total == n:
                found.append(str(b["id"]))
        return found


def _lines(raw: bytes) -> Iterator[dict[str, Any]]:
    for line in bytes(raw).splitlines():
        if line.strip():
            yield orjson.loads(line)


def now_epoch() -> float:
    return time.time()
