"""OpenAI Files + Batches through the official SDK, changing only ``base_url`` and the key:
upload JSONL -> create -> poll -> download, every custom_id answered once; the 24 h window,
cancel, invalid input and the enqueued-token limit as the real API reports them.
"""

from __future__ import annotations

import io
import json
import time

import openai
import pytest

SCALE = 0.01
# a batch takes 100 profile seconds (1 s wall at 0.01), always
QUICK = ["openai.batch.turnaround.median=100", "openai.batch.turnaround.p99=100"]


def _client(mock) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{mock.url('openai')}/v1", api_key="sk-batch", max_retries=0)


def _jsonl(lines: list[dict]) -> io.BytesIO:
    return io.BytesIO(b"".join(json.dumps(x).encode() + b"\n" for x in lines))


def _request(i: int, **body) -> dict:
    body = {"model": "gpt-5-nano", "messages": [{"role": "user", "content": f"item {i}"}],
            "max_completion_tokens": 200, **body}
    return {"custom_id": f"item-{i}", "method": "POST", "url": "/v1/chat/completions", "body": body}


def _wait(client: openai.OpenAI, batch_id: str, until: set[str], timeout: float = 20.0):
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        b = client.batches.retrieve(batch_id)
        if not seen or seen[-1] != b.status:
            seen.append(b.status)
        if b.status in until:
            return b, seen
        time.sleep(0.05)
    raise AssertionError(f"batch stuck in {seen}")


def test_batch_end_to_end_every_custom_id_answered_once(mock_server):
    mock = mock_server(["openai"], time_scale=SCALE, sets=QUICK, seed=3)
    client = _client(mock)
    lines = [_request(i) for i in range(40)] + [_request(99, max_tokens=10)]  # gpt-5-nano refuses max_tokens
    f = client.files.create(file=("in.jsonl", _jsonl(lines)), purpose="batch")
    assert f.purpose == "batch" and f.bytes > 0 and f.status == "processed"
    batch = client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h",
                                  metadata={"run": "t1"})
    assert batch.status == "validating" and batch.request_counts.total == 41
    assert abs(batch.expires_at - batch.created_at - 86400 * SCALE) <= 1  # the 24 h window, time-scaled
    done, seen = _wait(client, batch.id, {"completed", "failed", "expired", "cancelled"})
    assert done.status == "completed", seen
    assert "in_progress" in seen or "finalizing" in seen
    assert done.request_counts.completed == 40 and done.request_counts.failed == 1
    out = [json.loads(x) for x in client.files.content(done.output_file_id).text.splitlines()]
    err = [json.loads(x) for x in client.files.content(done.error_file_id).text.splitlines()]
    ids = [x["custom_id"] for x in out + err]
    assert sorted(ids) == sorted(x["custom_id"] for x in lines)  # every custom_id exactly once
    ok = out[0]["response"]
    assert ok["status_code"] == 200 and ok["body"]["object"] == "chat.completion"
    assert err[0]["custom_id"] == "item-99" and err[0]["response"]["status_code"] == 400
    assert err[0]["response"]["body"]["error"]["code"] == "unsupported_parameter"
    usage = done.usage
    assert usage.output_tokens == sum(x["response"]["body"]["usage"]["completion_tokens"] for x in out)
    assert usage.output_tokens_details.reasoning_tokens > 0
    assert done.metadata == {"run": "t1"}
    assert batch.id in [b.id for b in client.batches.list()]


def test_batch_past_the_window_expires_with_the_rest_in_the_error_file(mock_server):
    # turnaround 200 profile s, window 100: half is done when the window closes
    mock = mock_server(["openai"], time_scale=SCALE, seed=3, sets=[
        "openai.batch.turnaround.median=200", "openai.batch.turnaround.p99=200", "openai.batch.window_seconds=100"])
    client = _client(mock)
    f = client.files.create(file=("in.jsonl", _jsonl([_request(i) for i in range(20)])), purpose="batch")
    b = client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    done, _ = _wait(client, b.id, {"expired", "completed"})
    assert done.status == "expired" and done.expired_at is not None
    out = client.files.content(done.output_file_id).text.splitlines()
    err = [json.loads(x) for x in client.files.content(done.error_file_id).text.splitlines()]
    assert 0 < len(out) < 20 and len(out) + len(err) == 20
    assert {e["error"]["code"] for e in err} == {"batch_expired"}


def test_cancel_and_invalid_input(mock_server):
    mock = mock_server(["openai"], time_scale=SCALE, seed=3,
                       sets=["openai.batch.turnaround.median=500", "openai.batch.turnaround.p99=500"])
    client = _client(mock)
    f = client.files.create(file=("in.jsonl", _jsonl([_request(i) for i in range(10)])), purpose="batch")
    b = client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    c = client.batches.cancel(b.id)
    assert c.status == "cancelling"
    done, _ = _wait(client, b.id, {"cancelled"})
    assert done.cancelled_at is not None and done.request_counts.completed < 10
    bad = _jsonl([_request(1), _request(1), {"custom_id": "x", "method": "POST", "url": "/v1/embeddings", "body": {}}])
    f = client.files.create(file=("bad.jsonl", bad), purpose="batch")
    b = client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    failed, _ = _wait(client, b.id, {"failed"})
    assert {e.code for e in failed.errors.data} == {"duplicate_custom_id", "mismatched_endpoint"}
    assert [e.line for e in failed.errors.data] == [2, 3]
    with pytest.raises(openai.BadRequestError) as info:
        client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="48h")
    assert info.value.body["param"] == "completion_window"
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_nope")


def test_enqueued_token_limit_fails_the_batch_that_would_pass_it(mock_server):
    mock = mock_server(["openai"], time_scale=SCALE, seed=3, sets=[
        "openai.batch.turnaround.median=2000", "openai.batch.turnaround.p99=2000",
        "openai.models.gpt-5-nano.limits.batch_enqueued_tokens=1000"])
    client = _client(mock)
    big = [_request(i, messages=[{"role": "user", "content": "word " * 300}]) for i in range(2)]  # ~600 tokens
    f = client.files.create(file=("in.jsonl", _jsonl(big)), purpose="batch")
    first = client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    second = client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert _wait(client, first.id, {"in_progress"})[0].status == "in_progress"
    failed, _ = _wait(client, second.id, {"failed"})
    err = failed.errors.data[0]
    assert err.code == "token_limit_exceeded"
    assert err.message.startswith("Enqueued token limit reached for gpt-5-nano in organization")


@pytest.mark.parametrize("endpoint, body, kind", [
    ("/v1/embeddings", {"model": "text-embedding-3-small", "input": ["a", "b"]}, "list"),
    ("/v1/responses", {"model": "gpt-5-nano", "input": "describe it", "max_output_tokens": 200}, "response"),
])
def test_batches_of_embeddings_and_responses(mock_server, endpoint, body, kind):
    mock = mock_server(["openai"], time_scale=SCALE, sets=QUICK, seed=3)
    client = _client(mock)
    lines = [{"custom_id": f"r{i}", "method": "POST", "url": endpoint, "body": body} for i in range(5)]
    f = client.files.create(file=("in.jsonl", _jsonl(lines)), purpose="batch")
    b = client.batches.create(input_file_id=f.id, endpoint=endpoint, completion_window="24h")
    done, _ = _wait(client, b.id, {"completed", "failed"})
    assert done.status == "completed" and done.request_counts.completed == 5
    out = [json.loads(x) for x in client.files.content(done.output_file_id).text.splitlines()]
    assert sorted(o["custom_id"] for o in out) == [f"r{i}" for i in range(5)]
    assert all(o["response"]["body"]["object"] == kind for o in out)
    assert done.usage.input_tokens > 0
