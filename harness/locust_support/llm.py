"""Streaming LLM calls in a Locust user: time to first token and tokens/s as their own entries.

The request itself is recorded once, with the whole stream's duration (not just the headers),
under its endpoint name and outcome; then two more entries are fired, which the knee finder and
the Prometheus export never count as requests: ``TTFT <endpoint>`` (milliseconds to the first
content token) and ``TOKENS/S <endpoint>`` (output tokens per second after the first token,
with the token count as its "content size").
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator

import orjson

from .outcomes import TOKENS_PER_S, TTFT, check


def _arriving(response: Any) -> Iterator[bytes]:
    """The body in pieces as they arrive. A FastResponse's ``iter_content(n)`` blocks until n
    bytes are in (about 50 OpenAI chunks for 4 KB), which timed the first token that much late
    and the pace that much fast; geventhttpclient's ``readline`` returns each line once it is
    there. A connection closed mid-body ends the body, as ``iter_content`` does."""
    raw = getattr(response, "_response", None)
    if raw is None or not hasattr(raw, "readline"):
        yield from response.iter_content(chunk_size=4096, decode_content=False)
        return
    from geventhttpclient.response import HTTPConnectionClosed

    while True:
        try:
            line = raw.readline(b"\n")
        except (HTTPConnectionClosed, ConnectionError):
            return
        if not line:
            return
        yield bytes(line)


def sse_events(response: Any) -> Iterator[bytes]:
    """The ``data:`` payloads of a server-sent event stream, as they arrive."""
    buffer = b""
    for chunk in _arriving(response):
        buffer += chunk if isinstance(chunk, bytes) else chunk.encode()
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            line = line.strip()
            if line.startswith(b"data:"):
                yield line[5:].strip()
    if buffer.strip().startswith(b"data:"):
        yield buffer.strip()[5:].strip()


class StreamStats:
    """What a stream parser found: first token time, tokens, an in-stream error."""

    def __init__(self) -> None:
        self.first_token: float | None = None
        self.tokens = 0
        self.chunks = 0
        self.error: str | None = None


def openai_event(stats: StreamStats, data: bytes) -> None:
    if data == b"[DONE]":
        return
    doc = orjson.loads(data)
    if "error" in doc:
        stats.error = "server_error: error event in stream"
        return
    for choice in doc.get("choices") or []:
        if (choice.get("delta") or {}).get("content"):
            stats.chunks += 1
            if stats.first_token is None:
                stats.first_token = time.perf_counter()
    usage = doc.get("usage")
    if usage:
        stats.tokens = int(usage.get("completion_tokens") or 0)


def anthropic_event(stats: StreamStats, data: bytes) -> None:
    doc = orjson.loads(data)
    event = doc.get("type")
    if event == "error":
        stats.error = "server_error: error event in stream"
    elif event == "content_block_delta":
        stats.chunks += 1
        if stats.first_token is None:
            stats.first_token = time.perf_counter()
    elif event == "message_delta":
        stats.tokens = int((doc.get("usage") or {}).get("output_tokens") or 0)


def streamed_call(user: Any, path: str, endpoint: str, body: dict, headers: dict,
                  on_event: Callable[[StreamStats, bytes], None]) -> str:
    """POST a streaming request, read it to the end, record request, TTFT and tokens/s; the outcome."""
    started = time.perf_counter()
    with user.client.post(path, json=body, headers=headers, name=endpoint, stream=True,
                          catch_response=True) as resp:
        stats = StreamStats()
        if resp.status_code == 200:
            try:
                for data in sse_events(resp):
                    on_event(stats, data)
            except Exception as exc:  # noqa: BLE001 - a reset or a cut stream
                stats.error = f"connection_error: stream cut ({type(exc).__name__})"
            ended = time.perf_counter()
            resp.request_meta["response_time"] = (ended - started) * 1000.0
            if stats.error:
                resp.failure(stats.error)
                return stats.error.split(":", 1)[0]
            outcome = check(resp, endpoint)
            tokens = stats.tokens or stats.chunks
            if stats.first_token is not None:
                fire = user.environment.events.request.fire
                fire(request_type=TTFT, name=endpoint, response_time=(stats.first_token - started) * 1000.0,
                     response_length=0, exception=None, context={})
                gen = ended - stats.first_token
                if gen > 0 and tokens > 1:  # the first token opens the clock: n - 1 tokens in `gen`
                    fire(request_type=TOKENS_PER_S, name=endpoint, response_time=(tokens - 1) / gen,
                         response_length=tokens, exception=None, context={})
            return outcome
        return check(resp, endpoint)
