"""Anthropic Message Batches: create, retrieve, list, cancel, results (JSONL), delete.

``processing_status`` is in_progress -> ended (or canceling -> ended); ``request_counts`` moves
from processing to succeeded/errored/canceled/expired; results are ready once the batch ended,
at ``results_url``, one line per custom_id (``succeeded`` with the message, ``errored`` with the
error the Messages API would give, ``canceled`` or ``expired``). ``params`` are validated when
the batch is processed, as Anthropic documents; a batch holds at most 100,000 requests or
256 MB, and expires 24 h after creation. A workspace (here: an API key) has at most
``batch.max_queue_requests`` batch requests in the processing queue (not yet processed, over all
its batches); a batch that would pass it is refused with 429 ``rate_limit_error`` and a
``retry-after`` until enough of the queue has been processed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from ..batch_timeline import Timeline
from ..durations import retry_after_seconds
from ..validation import anthropic as strict
from .base import new_id

if TYPE_CHECKING:
    from .anthropic import AnthropicProvider

CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@dataclass
class MessageBatch:
    id: str
    key: str
    requests: list[dict[str, Any]]
    timeline: Timeline
    results: bytes | None = None
    counts: dict[str, int] | None = None
    deleted: bool = False


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


class AnthropicBatches:
    """The Message Batches of one Anthropic mock (kept across profile changes, in memory)."""

    def __init__(self, provider: "AnthropicProvider") -> None:
        self.provider = provider
        self.batches: dict[str, MessageBatch] = {}

    def routes(self) -> list[web.RouteDef]:
        p = self.provider
        return [
            p.route("POST", "/v1/messages/batches", "messages.batches.create", self.create),
            p.route("GET", "/v1/messages/batches", "messages.batches.list", self.list),
            p.route("GET", "/v1/messages/batches/{batch_id}", "messages.batches.retrieve", self.retrieve),
            p.route("POST", "/v1/messages/batches/{batch_id}/cancel", "messages.batches.cancel", self.cancel),
            p.route("GET", "/v1/messages/batches/{batch_id}/results", "messages.batches.results", self.results),
            p.route("DELETE", "/v1/messages/batches/{batch_id}", "messages.batches.delete", self.delete),
        ]

    def _now(self) -> float:
        return self.provider.ctx.wall_clock()

    def _auth(self, request: web.Request) -> str | web.Response:
        key = self.provider.api_key(request)
        if isinstance(key, web.Response):
            return key
        if not request.headers.get("anthropic-version"):
            return self.provider.error(400, "bad_request", "anthropic-version: header is required")
        return key

    async def create(self, request: web.Request) -> web.StreamResponse:
        p = self.provider
        key = self._auth(request)
        if isinstance(key, web.Response):
            return key
        settings = p.profile.batch
        try:
            body = orjson.loads(await request.read())
        except ValueError as exc:
            return p.error(400, "bad_request", f"The request body is not valid JSON: {exc}")
        if not isinstance(body, dict) or "requests" not in body:
            return p.error(400, "bad_request", "requests: Field required")
        reqs = body["requests"]
        if not isinstance(reqs, list) or not reqs:
            return p.error(400, "bad_request", "requests: List should have at least 1 item after validation, not 0")
        if len(reqs) > settings.max_requests:
            return p.error(400, "bad_request", f"requests: List should have at most {settings.max_requests} items "
                           f"after validation, not {len(reqs)}")
        seen: set[str] = set()
        for i, r in enumerate(reqs):
            if not isinstance(r, dict) or not isinstance(r.get("params"), dict):
                return p.error(400, "bad_request", f"requests.{i}.params: Field required")
            cid = r.get("custom_id")
            if not isinstance(cid, str) or not CUSTOM_ID.match(cid):
                return p.error(400, "bad_request", f"requests.{i}.custom_id: String should match pattern "
                               "'^[a-zA-Z0-9_-]{1,64}$'")
            if cid in seen:
                return p.error(400, "bad_request", f"Duplicate custom_id in requests: {cid}. Each custom_id must be "
                               "unique within a batch.")
            seen.add(cid)
        now = self._now()
        full = self._queue_full(key, len(reqs), now)
        if full is not None:
            return full
        b = MessageBatch(new_id("msgbatch_"), key, reqs,
                         Timeline.draw(settings, p.ctx.time_scale, p.ctx.rng, now, len(reqs)))
        self.batches[b.id] = b
        return p.json(200, self._object(b, request), {"request-id": new_id("req_")})

    def queued(self, key: str, now: float) -> int:
        """Batch requests of ``key`` in the processing queue at ``now``: not yet processed."""
        return sum(b.timeline.total - b.timeline.done(now) for b in self.batches.values()
                   if b.key == key and not b.timeline.ended(now))

    def _queue_full(self, key: str, n: int, now: float) -> web.Response | None:
        """The 429 for a batch of ``n`` requests the queue cannot take now, or None."""
        limit = self.provider.profile.batch.max_queue_requests
        if limit is None:
            return None
        queued = self.queued(key, now)
        if queued + n <= limit:
            return None
        # the queue drains as batches are processed: the first of their ends after which this fits
        ends = sorted(b.timeline.ends_at for b in self.batches.values() if b.key == key and not b.timeline.ended(now))
        wait = next((t - now for t in ends if self.queued(key, t) + n <= limit), ends[-1] - now if ends else 0.0)
        p = self.provider
        p.count_rate_limited("batch_queue_requests")
        return p.error(429, "rate_limited", f"Number of batch requests in the processing queue would exceed the "
                       f"limit of {limit:,} for your workspace: {queued:,} queued, {n:,} requested. Please try again "
                       "once some batches have finished processing.",
                       headers={"retry-after": retry_after_seconds(wait, p.ctx.scaled)})

    def _batch(self, request: web.Request) -> MessageBatch | web.Response:
        key = self._auth(request)
        if isinstance(key, web.Response):
            return key
        bid = request.match_info["batch_id"]
        b = self.batches.get(bid)
        if b is None or b.deleted:
            return self.provider.error(404, "not_found", f"message_batch: {bid} not found", type="not_found_error")
        return b

    async def retrieve(self, request: web.Request) -> web.StreamResponse:
        b = self._batch(request)
        if isinstance(b, web.Response):
            return b
        return self.provider.json(200, self._object(b, request), {"request-id": new_id("req_")})

    async def list(self, request: web.Request) -> web.StreamResponse:
        key = self._auth(request)
        if isinstance(key, web.Response):
            return key
        mine = [b for b in reversed(list(self.batches.values())) if b.key == key and not b.deleted]
        after = request.query.get("after_id")
        if after:
            ids = [b.id for b in mine]
            mine = mine[ids.index(after) + 1:] if after in ids else []
        limit = int(request.query.get("limit", "20")) if request.query.get("limit", "20").isdigit() else 20
        page = [self._object(b, request) for b in mine[:limit]]
        body = {"data": page, "has_more": len(mine) > limit, "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None}
        return self.provider.json(200, body, {"request-id": new_id("req_")})

    async def cancel(self, request: web.Request) -> web.StreamResponse:
        b = self._batch(request)
        if isinstance(b, web.Response):
            return b
        now = self._now()
        if not b.timeline.ended(now) and b.timeline.cancel_at is None:
            b.timeline.cancel_at = now
        return self.provider.json(200, self._object(b, request), {"request-id": new_id("req_")})

    async def delete(self, request: web.Request) -> web.StreamResponse:
        b = self._batch(request)
        if isinstance(b, web.Response):
            return b
        if not b.timeline.ended(self._now()):
            return self.provider.error(400, "bad_request", f"Batch {b.id} cannot be deleted while it is still "
                                       "processing; cancel it first.")
        b.deleted = True
        return self.provider.json(200, {"id": b.id, "type": "message_batch_deleted"}, {"request-id": new_id("req_")})

    async def results(self, request: web.Request) -> web.StreamResponse:
        b = self._batch(request)
        if isinstance(b, web.Response):
            return b
        if not b.timeline.ended(self._now()):
            return self.provider.error(404, "not_found", f"No results available for batch {b.id}: it has not ended.",
                                       type="not_found_error")
        self._finish(b)
        return web.Response(body=b.results, content_type="application/binary",
                            headers={"request-id": new_id("req_")})

    # -- state --------------------------------------------------------------------------------
    def _finish(self, b: MessageBatch) -> None:
        if b.results is not None:
            return
        done = b.timeline.done(b.timeline.ends_at)
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        lines = []
        for i, r in enumerate(b.requests):
            if i >= done:
                kind = "canceled" if b.timeline.cancel_at is not None else "expired"
                result: dict[str, Any] = {"type": kind}
            else:
                result = self.answer(r["params"])
                kind = result["type"]
            counts[kind] += 1
            lines.append(orjson.dumps({"custom_id": r["custom_id"], "result": result}))
        b.results = b"\n".join(lines) + b"\n"
        b.counts = counts

    def answer(self, params: dict[str, Any]) -> dict[str, Any]:
        """A Messages answer for one request, or the error the Messages API would give."""
        from .anthropic_output import _message, make_content

        p = self.provider
        checked = p._validate(params)
        if isinstance(checked, web.Response):
            return {"type": "errored", "error": orjson.loads(checked.body)}  # type: ignore[arg-type]
        model, max_tokens, _ = checked
        tokens = p.rules.prompt_tokens(params)
        if p.profile.strict:
            bad = strict.message_request(params, model.name, model.spec, tokens, strict.BATCH_PARAMS)
            if bad is not None:
                return {"type": "errored", "error": orjson.loads(p.invalid(bad).body)}  # type: ignore[arg-type]
        n, cut = model.latency.sample_output_tokens(max_tokens)
        content = make_content(params, n, cut)
        return {"type": "succeeded", "message": _message(model.name, content, tokens)}

    def _object(self, b: MessageBatch, request: web.Request) -> dict[str, Any]:
        now = self._now()
        t = b.timeline
        ended = t.ended(now)
        if ended:
            self._finish(b)
            counts = b.counts
        else:
            done = t.done(now)
            counts = {"processing": len(b.requests) - done, "succeeded": done, "errored": 0, "canceled": 0,
                      "expired": 0}
        status = "ended" if ended else ("canceling" if t.cancel_at is not None else "in_progress")
        base = str(request.url.with_query(None)).split("/v1/messages/batches")[0]
        return {
            "id": b.id, "type": "message_batch", "processing_status": status, "request_counts": counts,
            "ended_at": _iso(t.ends_at) if ended else None, "created_at": _iso(t.created),
            "expires_at": _iso(t.created + t.window), "archived_at": None,
            "cancel_initiated_at": _iso(t.cancel_at), "results_url":
                f"{base}/v1/messages/batches/{b.id}/results" if ended else None,
        }
