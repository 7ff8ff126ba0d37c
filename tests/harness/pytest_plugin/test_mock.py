"""harness_mock: the real mock on a free port, its SDK base URLs, admin actions and counts."""

from __future__ import annotations

import openai
import pytest


def _chat(mock, **kw):
    oa = openai.OpenAI(base_url=mock.base_url("openai"), api_key="sk-test", max_retries=0)
    return oa.chat.completions.create(model="gpt-4o-mini", max_tokens=20,
                                      messages=[{"role": "user", "content": "hi"}], **kw)


def test_serves_the_sdk_base_url_and_counts_what_it_received(harness_mock):
    mock = harness_mock(["openai", "cardgenius"], time_scale=0.01, seed=1)
    assert mock.root.startswith("http://127.0.0.1:")
    assert mock.base_url("openai") == mock.root + "/openai/v1"
    assert mock.url("cardgenius") == mock.base_url("cardgenius") == mock.root + "/cardgenius"
    for _ in range(3):
        assert _chat(mock).choices[0].message.content
    received = mock.received("openai")
    assert sum(r.requests for r in received.values()) == 3
    assert mock.total("openai").ok == 3 and mock.total("cardgenius").requests == 0
    assert [endpoint for _provider, endpoint in received] == ["chat.completions"]
    with pytest.raises(KeyError, match="openai, cardgenius"):
        mock.base_url("anthropic")


def test_limits_faults_and_refill_change_the_running_mock(harness_mock):
    # a (scaled) minute of 6 s: the bucket of 2 refills one request per 3 s, slower than this test
    mock = harness_mock("openai", time_scale=0.1, seed=1)
    mock.limits("openai", requests_per_minute=2)  # the bucket holds 2: the third request is refused
    _chat(mock), _chat(mock)
    with pytest.raises(openai.RateLimitError):
        _chat(mock)
    assert mock.total("openai").rate_limited == 1
    mock.refill()
    _chat(mock)  # full again
    assert mock.profile("openai")["limits"]["requests_per_minute"] == 2
    mock.limits("openai", requests_per_minute=10000)
    mock.faults("openai", error_500=1.0)
    with pytest.raises(openai.InternalServerError):
        _chat(mock)
    got = mock.total("openai")
    assert (got.requests, got.ok, got.rate_limited, got.server_errors) == (5, 3, 1, 1)
    with pytest.raises(ValueError, match="faults.error_500"):
        mock.faults("openai", error_500=2.0)  # not a probability: the mock refuses it


def test_factories_reuse_a_server_per_configuration(harness_mock, harness_mock_session):
    a = harness_mock_session(["openai"], time_scale=0.05)
    assert harness_mock_session(["openai"], time_scale=0.05) is a
    b = harness_mock(["openai"], time_scale=0.05)
    assert b is not a and b.root != a.root
    assert harness_mock(["openai"], time_scale=0.05, sets={"openai.latency.median": 2.0}) is not b
