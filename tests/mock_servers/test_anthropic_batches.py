"""Anthropic Message Batches and count_tokens through the official SDK (only ``base_url`` and
the key changed): create -> retrieve -> results, each custom_id once, errored params, cancel,
the 24 h expiry and the per-batch limits.
"""

from __future__ import annotations

import time

import anthropic
import httpx
import pytest

SCALE = 0.01
QUICK = ["anthropic.batch.turnaround.median=100", "anthropic.batch.turnaround.p99=100"]
MODEL = "claude-haiku-4-5"


def _client(mock) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=mock.url("anthropic"), api_key="sk-ant-batch", max_retries=0)


def _req(i: int, **params) -> dict:
    return {"custom_id": f"item-{i}", "params": {"model": MODEL, "max_tokens": 100,
                                                  "messages": [{"role": "user", "content": f"item {i}"}], **params}}


def _wait_ended(client: anthropic.Anthropic, batch_id: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        b = client.messages.batches.retrieve(batch_id)
        seen.append(b.processing_status)
        if b.processing_status == "ended":
            return b, seen
        time.sleep(0.05)
    raise AssertionError(f"batch never ended: {seen[-3:]}")


def test_batch_create_retrieve_results(mock_server):
    mock = mock_server(["anthropic"], time_scale=SCALE, sets=QUICK, seed=4)
    client = _client(mock)
    reqs = [_req(i) for i in range(30)] + [_req(98, max_tokens=100_000), _req(99, foo=1)]
    batch = client.messages.batches.create(requests=reqs)
    assert batch.id.startswith("msgbatch_") and batch.processing_status == "in_progress"
    assert batch.request_counts.processing == 32 and batch.results_url is None
    assert (batch.expires_at - batch.created_at).total_seconds() == pytest.approx(86400 * SCALE, abs=0.01)
    done, seen = _wait_ended(client, batch.id)
    assert done.request_counts.succeeded == 30 and done.request_counts.errored == 2
    assert done.request_counts.processing == 0 and done.ended_at is not None
    results = list(client.messages.batches.results(batch.id))
    assert sorted(r.custom_id for r in results) == sorted(r["custom_id"] for r in reqs)  # each once
    ok = [r for r in results if r.result.type == "succeeded"]
    assert len(ok) == 30 and ok[0].result.message.usage.output_tokens > 0
    errored = {r.custom_id: r.result.error.error.message for r in results if r.result.type == "errored"}
    assert errored["item-98"].startswith("max_tokens: 100000 > 64000")
    assert errored["item-99"] == "foo: Extra inputs are not permitted"
    assert batch.id in [b.id for b in client.messages.batches.list()]


def test_cancel_and_expiry(mock_server):
    mock = mock_server(["anthropic"], time_scale=SCALE, seed=4, sets=[
        "anthropic.batch.turnaround.median=300", "anthropic.batch.turnaround.p99=300"])
    client = _client(mock)
    b = client.messages.batches.create(requests=[_req(i) for i in range(10)])
    c = client.messages.batches.cancel(b.id)
    assert c.processing_status == "canceling" and c.cancel_initiated_at is not None
    done, _ = _wait_ended(client, b.id)
    assert done.request_counts.canceled + done.request_counts.succeeded == 10 and done.request_counts.canceled > 0
    kinds = {r.result.type for r in client.messages.batches.results(b.id)}
    assert "canceled" in kinds
    # turnaround past the 24 h window: what is not done by then is expired
    client.close()
    mock2 = mock_server(["anthropic"], time_scale=SCALE, seed=4, sets=[
        "anthropic.batch.turnaround.median=200", "anthropic.batch.turnaround.p99=200", "anthropic.batch.window_seconds=100"])
    client = _client(mock2)
    b = client.messages.batches.create(requests=[_req(i) for i in range(10)])
    done, _ = _wait_ended(client, b.id)
    assert 0 < done.request_counts.expired < 10
    assert done.request_counts.expired + done.request_counts.succeeded == 10


def test_batch_limits_and_bad_requests(mock_server):
    mock = mock_server(["anthropic"], time_scale=SCALE, seed=4, sets=["anthropic.batch.max_requests=5"])
    client = _client(mock)
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.batches.create(requests=[_req(i) for i in range(6)])
    assert "at most 5" in info.value.message
    with pytest.raises(anthropic.BadRequestError):
        client.messages.batches.create(requests=[_req(1), _req(1)])
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve("msgbatch_nope")


def test_count_tokens_matches_the_messages_usage(mock_server):
    mock = mock_server(["anthropic"], time_scale=SCALE, seed=4, sets=[
        "anthropic.latency.median=0.05", "anthropic.latency.p99=0.1", "anthropic.latency.tokens_per_second=50000"])
    client = _client(mock)
    messages = [{"role": "user", "content": "word " * 200}]
    counted = client.messages.count_tokens(model=MODEL, messages=messages, system="be brief")
    msg = client.messages.create(model=MODEL, max_tokens=20, messages=messages, system="be brief")
    assert counted.input_tokens == msg.usage.input_tokens > 200
    tools = [{"name": "lookup", "description": "look a thing up", "input_schema": {"type": "object", "properties": {
        "q": {"type": "string"}}, "required": ["q"]}}]
    with_tools = client.messages.count_tokens(model=MODEL, messages=messages, system="be brief", tools=tools)
    assert with_tools.input_tokens > counted.input_tokens  # tool definitions count as input
    with pytest.raises(anthropic.NotFoundError):
        client.messages.count_tokens(model="claude-17", messages=messages)


def test_processing_queue_limit_is_a_429_the_sdk_waits_out(mock_server):
    """Batch requests in the processing queue are limited per workspace (Tier 1: 100,000);
    a batch that would pass it is a 429 ``rate_limit_error`` with ``retry-after`` until the queue
    has drained enough, which the SDK honours."""
    mock = mock_server(["anthropic"], time_scale=SCALE, sets=QUICK + ["anthropic.batch.max_queue_requests=10"],
                       seed=6)
    client = _client(mock)
    first = client.messages.batches.create(requests=[_req(i) for i in range(6)])
    with pytest.raises(anthropic.RateLimitError) as info:
        client.messages.batches.create(requests=[_req(i) for i in range(6, 11)])
    err = info.value
    assert err.status_code == 429 and err.body["type"] == "error"
    assert err.body["error"]["type"] == "rate_limit_error"
    assert "processing queue" in err.body["error"]["message"] and "10" in err.body["error"]["message"]
    wait = float(err.response.headers["retry-after"])
    assert 0 < wait <= 1.0 * 1.01  # the first batch's turnaround (100 profile s at 0.01)
    # a batch that fits is taken at once; another workspace (key) has its own queue
    assert client.messages.batches.create(requests=[_req(20), _req(21)]).request_counts.processing == 2
    other = anthropic.Anthropic(base_url=mock.url("anthropic"), api_key="sk-ant-other", max_retries=0)
    assert other.messages.batches.create(requests=[_req(i) for i in range(10)]).request_counts.processing == 10
    # the SDK's own retry waits retry-after; by then the first batch has been processed
    retrying = anthropic.Anthropic(base_url=mock.url("anthropic"), api_key="sk-ant-batch", max_retries=4)
    later = retrying.messages.batches.create(requests=[_req(i) for i in range(6, 11)])
    assert later.request_counts.processing == 5
    assert client.messages.batches.retrieve(first.id).processing_status == "ended"
    metrics = httpx.get(mock.base_url + "/metrics", timeout=5).text
    assert 'dimension="batch_queue_requests"' in metrics


def test_shipped_queue_limit_is_tier_1s():
    from mock_servers.app import load_profiles

    assert load_profiles(["anthropic"])["anthropic"].batch.max_queue_requests == 100_000
