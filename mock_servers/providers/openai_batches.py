"""OpenAI Files + Batches: upload a JSONL of requests, create a batch, poll it, download results.

Statuses follow the real API: validating -> in_progress -> finalizing -> completed, or failed
(invalid input, or the model's enqueued-token limit), expired (past the 24 h window: what was
done is in the output file, the rest in the error file as ``batch_expired``), cancelling ->
cancelled. Every custom_id is answered exactly once, in the output file (2xx) or the error
file. Answers are made as the synchronous endpoint would make them (strict validation
included) but without its rate limits or latency: a batch has its own queue limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import orjson
from aiohttp import web

from ..batch_timeline import Timeline
from .base import new_id

if TYPE_CHECKING:
    from .openai import OpenAIProvider

FILE_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
BATCH_ENDPOINTS = ("/v1/chat/completions", "/v1/responses", "/v1/embeddings")
Answer = tuple[int, dict[str, Any], dict[str, int]]  # status, body, usage (input/output/reasoning)


@dataclass
class StoredFile:
    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int

    def object(self) -> dict[str, Any]:
        return {"id": self.id, "object": "file", "bytes": len(self.data), "created_at": self.created_at,
                "filename": self.filename, "purpose": self.purpose, "status": "processed",
                "status_details": None, "expires_at": None}


@dataclass
class Batch:
    id: str
    key: str
    endpoint: str
    input_file_id: str
    timeline: Timeline
    model: str | None
    lines: list[dict[str, Any]]
    prompt_tokens: int
    metadata: dict[str, Any] | None
    errors: list[dict[str, Any]] = field(default_factory=list)
    output_file_id: str | None = None
    error_file_id: str | None = None
    usage: dict[str, Any] | None = None
    finished: bool = False
    completed_count: int = 0
    failed_count: int = 0


class OpenAIBatches:
    """Files and batches of one OpenAI mock (kept across profile changes, in memory)."""

    def __init__(self, provider: "OpenAIProvider") -> None:
        self.provider = provider
        self.files: dict[str, StoredFile] = {}
        self.batches: dict[str, Batch] = {}

    def answer(self, url: str, body: dict[str, Any]) -> Answer:
        handler = ANSWERS.get(url)
        if handler is None:
            return 404, {"error": {"message": f"Invalid URL (POST {url})", "type": "invalid_request_error",
                                   "param": None, "code": None}}, {}
        return handler(self.provider, body)

    def prompt_tokens(self, url: str, body: dict[str, Any]) -> int:
        """The input tokens a request would count against the model's enqueued-token limit."""
        from ..text import estimate_message_tokens, estimate_tokens, content_text

        if "messages" in body and isinstance(body["messages"], list):
            return estimate_message_tokens([m for m in body["messages"] if isinstance(m, dict)])
        raw = body.get("input")
        if isinstance(raw, list):
            return sum(estimate_tokens(x) if isinstance(x, str) else estimate_tokens(content_text(
                x.get("content") if isinstance(x, dict) else "")) for x in raw)
        return estimate_tokens(raw) if isinstance(raw, str) else 0

    def routes(self) -> list[web.RouteDef]:
        p = self.provider
        return [
            p.route("POST", "/v1/files", "files.create", self.create_file),
            p.route("GET", "/v1/files", "files.list", self.list_files),
            p.route("GET", "/v1/files/{file_id}", "files.retrieve", self.retrieve_file),
            p.route("GET", "/v1/files/{file_id}/content", "files.content", self.file_content),
            p.route("DELETE", "/v1/files/{file_id}", "files.delete", self.delete_file),
            p.route("POST", "/v1/batches", "batches.create", self.create_batch),
            p.route("GET", "/v1/batches", "batches.list", self.list_batches),
            p.route("GET", "/v1/batches/{batch_id}", "batches.retrieve", self.retrieve_batch),
            p.route("POST", "/v1/batches/{batch_id}/cancel", "batches.cancel", self.cancel_batch),
        ]

    def _now(self) -> float:
        return self.provider.ctx.wall_clock()

    def _bad(self, message: str, param: str | None = None, code: str | None = None, status: int = 400) -> web.Response:
        return self.provider.error(status, "invalid", message, param=param, code=code)

    # -- files --------------------------------------------------------------------------------
    async def create_file(self, request: web.Request) -> web.StreamResponse:
        key = self.provider.api_key(request)
        if isinstance(key, web.Response):
            return key
        if not request.content_type.startswith("multipart/"):
            return self._bad("Invalid file format: expected a multipart/form-data request.", "file")
        purpose, filename, data = None, "upload.jsonl", b""
        reader = await request.multipart()
        async for part in reader:
            if part.name == "purpose":
                purpose = (await part.text()).strip()
            elif part.name == "file":
                filename = part.filename or filename
                data = bytes(await part.read(decode=False))
        if purpose is None:
            return self._bad("Missing required parameter: 'purpose'.", "purpose", "missing_required_parameter")
        if purpose not in FILE_PURPOSES:
            return self._bad(f"Invalid value: {purpose!r}. Supported values are: "
                             + ", ".join(f"'{x}'" for x in FILE_PURPOSES) + ".", "purpose", "invalid_value")
        limit = self.provider.profile.batch.max_bytes
        if purpose == "batch" and len(data) > limit:
            return self._bad(f"File is too large: {len(data)} bytes; batch input files can be at most {limit} bytes.",
                             "file")
        f = StoredFile(new_id("file-"), filename, purpose, data, int(self._now()))
        self.files[f.id] = f
        return self.provider.json(200, f.object(), self.provider._common_headers())

    def _stored(self, request: web.Request, table: dict[str, Any], id_param: str, missing: str,
                param: str) -> Any:
        """The object ``table`` holds under the path's ``id_param``, or the 401/404 to answer."""
        key = self.provider.api_key(request)
        if isinstance(key, web.Response):
            return key
        oid = request.match_info[id_param]
        found = table.get(oid)
        if found is None:
            return self.provider.error(404, "not_found", missing.format(oid), param=param)
        return found

    def _file(self, request: web.Request) -> StoredFile | web.Response:
        return self._stored(request, self.files, "file_id", "No such File object: {}", "id")

    async def list_files(self, request: web.Request) -> web.StreamResponse:
        key = self.provider.api_key(request)
        if isinstance(key, web.Response):
            return key
        purpose = request.query.get("purpose")
        data = [f.object() for f in self.files.values() if purpose is None or f.purpose == purpose]
        return self.provider.json(200, _page(data), self.provider._common_headers())

    async def retrieve_file(self, request: web.Request) -> web.StreamResponse:
        f = self._file(request)
        return f if isinstance(f, web.Response) else self.provider.json(200, f.object(), self.provider._common_headers())

    async def file_content(self, request: web.Request) -> web.StreamResponse:
        f = self._file(request)
        if isinstance(f, web.Response):
            return f
        return web.Response(body=f.data, content_type="application/octet-stream",
                            headers=self.provider._common_headers())

    async def delete_file(self, request: web.Request) -> web.StreamResponse:
        f = self._file(request)
        if isinstance(f, web.Response):
            return f
        del self.files[f.id]
        return self.provider.json(200, {"id": f.id, "object": "file", "deleted": True}, self.provider._common_headers())

    # -- batches ------------------------------------------------------------------------------
    async def create_batch(self, request: web.Request) -> web.StreamResponse:
        p = self.provider
        key = p.api_key(request)
        if isinstance(key, web.Response):
            return key
        try:
            body = orjson.loads(await request.read())
        except ValueError:
            return self._bad("We could not parse the JSON body of your request.")
        if not isinstance(body, dict):
            return self._bad("Invalid request body: expected a JSON object.")
        for name in ("input_file_id", "endpoint", "completion_window"):
            if name not in body:
                return self._bad(f"Missing required parameter: '{name}'.", name, "missing_required_parameter")
        extra = body.keys() - {"input_file_id", "endpoint", "completion_window", "metadata", "output_expires_after"}
        if extra and p.profile.strict:
            return self._bad(f"Unrecognized request argument supplied: {', '.join(sorted(extra))}")
        if body["completion_window"] != "24h":
            return self._bad(f"Invalid value: {body['completion_window']!r}. Supported values are: '24h'.",
                             "completion_window", "invalid_value")
        if body["endpoint"] not in BATCH_ENDPOINTS:
            return self._bad(f"Invalid value: {body['endpoint']!r}. Supported values are: "
                             + ", ".join(f"'{e}'" for e in BATCH_ENDPOINTS) + ".", "endpoint", "invalid_value")
        f = self.files.get(str(body["input_file_id"]))
        if f is None:
            return p.error(404, "not_found", f"No such File object: {body['input_file_id']}", param="input_file_id")
        if f.purpose != "batch":
            return self._bad(f"The file {f.id} has purpose '{f.purpose}'; a batch needs a file with purpose 'batch'.",
                             "input_file_id")
        lines, errors, model = self._parse_input(f.data, body["endpoint"])
        prompt = sum(self.prompt_tokens(line["url"], line["body"]) for line in lines)
        now = self._now()
        timeline = Timeline.draw(p.profile.batch, p.ctx.time_scale, p.ctx.rng, now, len(lines))
        batch = Batch(new_id("batch_"), key, body["endpoint"], f.id, timeline, model, lines, prompt,
                      body.get("metadata"), errors)
        if not errors and model is not None and model in p.models:
            limit = p.models[model].settings.limits.batch_enqueued_tokens
            queued = sum(b.prompt_tokens for b in self.batches.values()
                         if b.key == key and b.model == model and not b.errors and not b.timeline.ended(now))
            if limit is not None and queued + prompt > limit:
                batch.errors.append({"code": "token_limit_exceeded", "line": None, "param": None, "message":
                                     f"Enqueued token limit reached for {model} in organization org-mock. Limit: "
                                     f"{int(limit):,} enqueued tokens. Please try again once some in_progress "
                                     "batches have been completed."})
        self.batches[batch.id] = batch
        return p.json(200, self._object(batch), p._common_headers())

    def _parse_input(self, data: bytes, endpoint: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str | None]:
        lines: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        seen: set[str] = set()
        model: str | None = None
        settings = self.provider.profile.batch
        for n, raw in enumerate(data.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                line = orjson.loads(raw)
            except ValueError:
                errors.append(_line_error("invalid_json_line", n, "This line is not parseable as valid JSON."))
                continue
            if not isinstance(line, dict) or not isinstance(line.get("custom_id"), str) \
                    or not isinstance(line.get("body"), dict):
                errors.append(_line_error("invalid_request", n, "Each line needs a custom_id (string), method, url "
                                          "and body (object).", "custom_id"))
                continue
            if line.get("method") != "POST":
                errors.append(_line_error("invalid_method", n, "The method must be POST.", "method"))
            elif line.get("url") != endpoint:
                errors.append(_line_error("mismatched_endpoint", n, f"The provided url '{line.get('url')}' does not "
                                          f"match the batch endpoint '{endpoint}'.", "url"))
            elif line["custom_id"] in seen:
                errors.append(_line_error("duplicate_custom_id", n, "The custom_id for this request is a duplicate "
                                          "of another request. The custom_id parameter must be unique for each "
                                          "request in a batch.", "custom_id"))
            else:
                m = line["body"].get("model")
                if model is None:
                    model = m
                elif m != model:
                    errors.append(_line_error("mismatched_model", n, f"The provided model '{m}' does not match the "
                                              f"model '{model}' of the other requests; a batch uses one model.",
                                              "body.model"))
                    continue
                seen.add(line["custom_id"])
                lines.append(line)
        if len(lines) > settings.max_requests:
            errors.append(_line_error("too_many_requests", None, f"The batch has {len(lines)} requests; at most "
                                      f"{settings.max_requests:,} are allowed."))
        if not lines and not errors:
            errors.append(_line_error("empty_file", None, "The input file has no requests."))
        return lines, errors, model

    def _batch(self, request: web.Request) -> Batch | web.Response:
        return self._stored(request, self.batches, "batch_id", "No batch found with id '{}'.", "batch_id")

    async def retrieve_batch(self, request: web.Request) -> web.StreamResponse:
        b = self._batch(request)
        if isinstance(b, web.Response):
            return b
        return self.provider.json(200, self._object(b), self.provider._common_headers())

    async def list_batches(self, request: web.Request) -> web.StreamResponse:
        key = self.provider.api_key(request)
        if isinstance(key, web.Response):
            return key
        data = [self._object(b) for b in reversed(list(self.batches.values())) if b.key == key]
        limit = int(request.query.get("limit", "20")) if request.query.get("limit", "20").isdigit() else 20
        after = request.query.get("after")
        if after:
            ids = [d["id"] for d in data]
            data = data[ids.index(after) + 1:] if after in ids else []
        page = data[:limit]
        return self.provider.json(200, {**_page(page), "has_more": len(data) > limit}, self.provider._common_headers())

    async def cancel_batch(self, request: web.Request) -> web.StreamResponse:
        b = self._batch(request)
        if isinstance(b, web.Response):
            return b
        now = self._now()
        status = self._status(b, now)
        if status in ("failed", "completed", "expired", "cancelled", "cancelling"):
            return self._bad(f"Cannot cancel a batch with status '{status}'.", code="invalid_request")
        b.timeline.cancel_at = now
        return self.provider.json(200, self._object(b), self.provider._common_headers())

    # -- state --------------------------------------------------------------------------------
    def _status(self, b: Batch, now: float) -> str:
        t = b.timeline
        if t.cancel_at is not None:
            return "cancelled" if t.ended(now) else "cancelling"
        if now < t.in_progress_at:
            return "validating"
        if b.errors:
            return "failed"
        if t.ended(now):
            return "expired" if t.expires else "completed"
        return "finalizing" if now >= t.finalizing_at else "in_progress"

    def _finish(self, b: Batch, now: float) -> None:
        """Write the output and error files once, when the batch ends."""
        if b.finished:
            return
        b.finished = True
        done = b.timeline.done(now)
        out: list[bytes] = []
        err: list[bytes] = []
        usage = {"input_tokens": 0, "output_tokens": 0, "reasoning_tokens": 0}
        for i, line in enumerate(b.lines):
            if i >= done:
                if b.timeline.cancel_at is None:  # expired: every request is still answered once
                    err.append(orjson.dumps({"id": new_id("batch_req_"), "custom_id": line["custom_id"], "response": None,
                                             "error": {"code": "batch_expired", "message": "This request could not be "
                                                       "executed before the completion window expired."}}))
                    b.failed_count += 1
                continue
            status, body, used = self.answer(line["url"], line["body"])
            for k in usage:
                usage[k] += used.get(k, 0)
            record = orjson.dumps({"id": new_id("batch_req_"), "custom_id": line["custom_id"],
                                   "response": {"status_code": status, "request_id": new_id("req_"), "body": body},
                                   "error": None})
            if 200 <= status < 300:
                out.append(record)
                b.completed_count += 1
            else:
                err.append(record)
                b.failed_count += 1
        created = int(now)
        if out:
            f = StoredFile(new_id("file-"), "batch_output.jsonl", "batch_output", b"\n".join(out) + b"\n", created)
            self.files[f.id] = f
            b.output_file_id = f.id
        if err:
            f = StoredFile(new_id("file-"), "batch_errors.jsonl", "batch_output", b"\n".join(err) + b"\n", created)
            self.files[f.id] = f
            b.error_file_id = f.id
        b.usage = {"input_tokens": usage["input_tokens"], "input_tokens_details": {"cached_tokens": 0},
                   "output_tokens": usage["output_tokens"],
                   "output_tokens_details": {"reasoning_tokens": usage["reasoning_tokens"]},
                   "total_tokens": usage["input_tokens"] + usage["output_tokens"]}

    def _object(self, b: Batch) -> dict[str, Any]:
        now = self._now()
        t = b.timeline
        status = self._status(b, now)
        ts: dict[str, int | None] = {k: None for k in ("in_progress_at", "finalizing_at", "completed_at", "failed_at",
                                                       "expired_at", "cancelling_at", "cancelled_at")}
        total = len(b.lines)
        counts = {"total": total, "completed": 0, "failed": 0}
        if status == "failed":
            ts["failed_at"] = int(t.in_progress_at)
        elif status != "validating":
            ts["in_progress_at"] = int(t.in_progress_at)
            counts["completed"] = t.done(now)
            if now >= t.finalizing_at and t.cancel_at is None and not t.expires:
                ts["finalizing_at"] = int(t.finalizing_at)
            if t.cancel_at is not None:
                ts["cancelling_at"] = int(t.cancel_at)
            if status in ("completed", "expired", "cancelled"):
                self._finish(b, now)
                counts = {"total": total, "completed": b.completed_count, "failed": b.failed_count}
                ts[{"completed": "completed_at", "expired": "expired_at", "cancelled": "cancelled_at"}[status]] = int(t.ends_at)
        return {
            "id": b.id, "object": "batch", "endpoint": b.endpoint, "model": b.model,
            "errors": {"object": "list", "data": b.errors} if b.errors and status == "failed" else None,
            "input_file_id": b.input_file_id, "completion_window": "24h", "status": status,
            "output_file_id": b.output_file_id, "error_file_id": b.error_file_id,
            "created_at": int(t.created), "expires_at": int(t.created + t.window), **ts,
            "request_counts": counts, "metadata": b.metadata, "usage": b.usage,
        }


def _line_error(code: str, line: int | None, message: str, param: str | None = None) -> dict[str, Any]:
    return {"code": code, "line": line, "message": message, "param": param}


def _page(data: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None, "has_more": False}


def chat_answer(provider: "OpenAIProvider", body: dict[str, Any]) -> Answer:
    """A chat completion as the synchronous endpoint would answer it (no limits, no latency)."""
    from ..validation import openai as strict
    from .openai_output import _completion, make_choice

    checked = provider._validate(body)
    if isinstance(checked, web.Response):
        return checked.status, orjson.loads(checked.body), {}  # type: ignore[arg-type]
    model, messages, max_tokens, _, _ = checked
    prompt = provider.rules.prompt_tokens(body)
    if provider.profile.strict:
        bad = strict.chat(body, model.spec, prompt)
        if bad is not None:
            r = provider.invalid(bad)
            return r.status, orjson.loads(r.body), {}  # type: ignore[arg-type]
    n_choices = body.get("n") if isinstance(body.get("n"), int) and body.get("n", 1) > 0 else 1
    choices = []
    for _ in range(n_choices):
        n, cut = model.latency.sample_output_tokens(max_tokens)
        choices.append(make_choice(body, n, cut, model.spec.reasoning_share))
    payload = _completion(model.name, choices, prompt)
    u = payload["usage"]
    return 200, payload, {"input_tokens": prompt, "output_tokens": u["completion_tokens"],
                          "reasoning_tokens": u["completion_tokens_details"]["reasoning_tokens"]}


# what each batch endpoint answers; the Responses and embeddings modules add theirs
ANSWERS: dict[str, Callable[["OpenAIProvider", dict[str, Any]], Answer]] = {"/v1/chat/completions": chat_answer}

