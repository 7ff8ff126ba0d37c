"""Measured limits hold: every kind of bucket, driven past its limit on the real server, accepts
``rate x time + burst`` requests (or tokens) within 2%.

Each test starts the mock (a subprocess on 127.0.0.1) with zero latency and a compressed time
scale, sends one request alone (it creates the client's buckets, full), then runs four paced
closed loops for a fixed wall window. Accepted requests are counted by the client and
cross-checked against the server's own ``mock_requests_total``.

The rate is judged between the first and the last refusal (``Run.between_refusals``): at both
instants the bucket held less than one request's cost, so accepted = rate x T within one
request, whatever happened before. The burst is judged on its own: the requests accepted before
the first refusal are at least the bucket's capacity, and at most that plus the refill meanwhile.
Judging ``burst + rate x T`` from the first request instead (as this file once did) is wrong by
whatever the full bucket overflowed before the loops drained it: a full bucket absorbs no
silence at all, so a 0.2 s stall of either process right after the first request loses 0.2 s of
refill (5.5% of an Anthropic OTPM run; the "one run in twenty 6% short" of issue 2), and the
silence checks, which assume an emptied bucket, could not see it
(``test_a_stall_while_the_bucket_is_full_biases_only_the_naive_formula`` makes that stall).

Why paced loops (a request every 2 ms per loop, ~2,000/s in all) rather than flat out: on two
shared cores a server that saturates its core is descheduled for whole time slices, and a
bucket that is full while nobody is served loses tokens. Paced, both processes sleep between
requests and run as soon as one arrives; the offered load is still 8 to 40 times the limit.
"""

from __future__ import annotations

import asyncio
import json
from typing import Callable

import aiohttp
import pytest

from mock_servers.text import estimate_message_tokens

from .loadgen import Call, Run, hammer, run, send, server_counts

TOLERANCE = 0.02
CLIENTS = 4
INTERVAL = 0.002  # per loop: ~2,000 requests/s offered in all
SCALE = 0.01  # a profile minute is 0.6 s
ATTEMPTS = 4
BIG = 100_000_000
PER_MINUTE_ABSORBS = 0.5  # a per-minute bucket holds 60 scaled seconds: 0.6 s wall
WINDOW = 3.0  # seconds of driving: the longer, the less the ends of the window weigh

# Zero latency for the LLM mocks: a 1 ms profile call (10 us wall) of one output token.
LLM_ZERO = [
    "latency.median=0.001", "latency.p99=0.001", "latency.tokens_per_second=1000000",
    "output_tokens.median=1", "output_tokens.p99=1",
]


def llm_sets(provider: str, *extra: str, zero: list[str] = LLM_ZERO) -> list[str]:
    return [f"{provider}.{s}" for s in (*zero, *extra)]


def check(name: str, r: Run, rate: float, burst: float, cost: float = 1.0, refused_status: int = 429) -> None:
    """The rate within 2% between the first and last refusals (``rate`` and ``burst`` in
    requests, ``cost`` the bucket units one request takes), the burst within its bounds, and
    really driven past the limit (most requests refused)."""
    a, b, accepted = r.between_refusals(refused_status)
    window = b.mid - a.mid
    expected = rate * window
    err = (accepted - expected) / expected
    refused = r.count(refused_status)
    # accepted before the first refusal: surely (answered before it was sent) or possibly (sent
    # before it was answered: four loops overlap)
    surely = sum(1 for x in r.samples if x.status == 200 and x.done <= a.sent)
    possibly = sum(1 for x in r.samples if x.status == 200 and x.sent < a.done)
    most = burst + rate * (a.done - r.first.sent) + 1
    print(f"\n{name}: expected {expected * cost:,.1f}, accepted {accepted * cost:,.0f}, {err:+.2%} "
          f"(T={window:.3f} s between the first and last refusal, {len(r.samples)} requests, {refused} refused, "
          f"longest silence {r.longest_silence() * 1000:.1f} ms); burst: {surely}-{possibly} accepted before the "
          f"first refusal (at least {burst:g}, at most {most:.1f})")
    # 200 requests: 2% is 4 of them, and the window's ends are uncertain by about one
    assert expected >= 200, "the window is too short for 2% to mean anything"
    assert refused > len(r.samples) / 2, f"not driven past the limit: {r.statuses()}"
    assert abs(err) <= TOLERANCE, f"{name}: expected {expected:.1f}, accepted {accepted}, {err:+.2%}"
    assert possibly >= burst and surely <= most, f"{name}: {surely}-{possibly} accepted before the first refusal, " \
                                                 f"burst {burst:g}, at most {most:.1f}"


def check_total(name: str, accepted: float, expected: float, run_: Run, refused: int) -> None:
    """Within 2% of an expected total the test works out itself (Keepa's discrete refills, the
    give-back's probe), and really driven past the limit."""
    err = (accepted - expected) / expected
    print(f"\n{name}: expected {expected:,.1f}, accepted {accepted:,.0f}, {err:+.2%} "
          f"(T={run_.window:.3f} s, {len(run_.samples)} requests, {refused} refused, "
          f"longest silence {run_.longest_silence() * 1000:.1f} ms)")
    assert expected >= 300, "the window is too short for 2% to mean anything"
    assert refused > len(run_.samples) / 2, f"not driven past the limit: {run_.statuses()}"
    assert abs(err) <= TOLERANCE, f"{name}: expected {expected:.1f}, accepted {accepted}, {err:+.2%}"


def measure(mock, provider: str, endpoint: str, make_call: Callable[[int], Call], seconds: float,
            absorbs: float, refused_status: int = 429, by_refusals: bool = True,
            overload: bool = True, sharp: bool = True, **kw) -> Run:
    """Drive a fresh bucket (a new key per attempt) for ``seconds``; cross-check the counts.

    ``rate x T + burst`` assumes the bucket is never full while nobody asks. A full bucket
    absorbs ``burst / rate`` seconds without a request; a longer silence (the machine stalled
    the server or the client) throws tokens away and says nothing about the bucket: beyond a
    quarter of the tolerance (as a share of T), the run cannot be judged. T is only
    as sharp as the first and last requests are quick (one caught in a stall leaves the instant
    the server saw it uncertain), and a client that cannot offer well over the limit does not
    drive the bucket at all. A run with any of these is set aside and repeated, four in all.
    """
    for attempt in range(ATTEMPTS):
        before = run(server_counts(mock.base_url, provider, endpoint))
        r = run(hammer(make_call(attempt), clients=CLIENTS, duration=seconds,
                       max_requests=int(seconds * 4000), interval=INTERVAL, **kw))
        after = run(server_counts(mock.base_url, provider, endpoint))
        # the server counted the same answers as the client
        delta = {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
        assert delta == {str(k): float(v) for k, v in r.statuses().items()}, (delta, r.statuses())
        assert set(delta) <= {"200", str(refused_status)}, delta
        problems = []
        overflow = r.time_beyond(absorbs)
        if overflow > TOLERANCE / 4 * r.window:
            problems.append(f"silences up to {r.longest_silence() * 1000:.1f} ms, {overflow * 1000:.1f} ms in all "
                            f"beyond the {absorbs * 1000:.0f} ms a full bucket absorbs")
        # T runs between the first and last refusal (``check``) or the first and last request
        # (``check_total``): its two ends must be quick requests
        if by_refusals and r.count(refused_status) >= 2:
            a, b, _ = r.between_refusals(refused_status)
        else:
            a, b = r.first, r.last
        edges = ((a.done - a.sent) + (b.done - b.sent)) / 2
        if sharp and edges > TOLERANCE / 4 * (b.mid - a.mid):
            problems.append(f"the requests at the ends of T took {edges * 1000:.1f} ms on average (T is not sharp)")
        if overload and r.count(refused_status) < r.count(200):
            problems.append(f"the client offered less than twice the limit ({r.statuses()})")
        if not problems:
            return r
        print(f"\nattempt {attempt + 1} set aside ({r.statuses()} in T={r.window:.3f} s): {'; '.join(problems)}")
    pytest.fail(f"the machine was too busy to measure in each of {ATTEMPTS} runs")


# -- OpenAI -------------------------------------------------------------------------------------


def openai_call(mock, key: str, content: str = "hi", max_tokens: int = 1) -> Call:
    body = {"model": "gpt-5-nano", "messages": [{"role": "user", "content": content}], "max_completion_tokens": max_tokens}
    return Call("POST", mock.url("openai") + "/v1/chat/completions",
                {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}, json.dumps(body).encode())


def test_openai_requests_per_minute(mock_server):
    rpm = 60  # 100 requests/s wall, a bucket of 60
    mock = mock_server(["openai"], time_scale=SCALE, seed=1, sets=llm_sets(
        "openai", f"limits.requests_per_minute={rpm}", f"limits.tokens_per_minute={BIG}"))
    r = measure(mock, "openai", "chat.completions", lambda i: openai_call(mock, f"sk-rpm-{i}"), WINDOW,
                PER_MINUTE_ABSORBS)
    check("OpenAI RPM", r, rpm / (60 * SCALE), rpm)
    assert r.first.headers["x-ratelimit-limit-requests"] == str(rpm)
    assert r.first.headers["x-ratelimit-remaining-requests"] == str(rpm - 1)


def test_openai_tokens_per_minute(mock_server):
    tpm = 6_000  # 10,000 tokens/s wall (100 calls/s), a bucket of 6,000
    messages = [{"role": "user", "content": "hi"}]
    max_tokens = 93
    cost = estimate_message_tokens(messages) + max_tokens  # the mock's rule: prompt estimate + max_tokens
    assert cost == 100
    mock = mock_server(["openai"], time_scale=SCALE, seed=1, sets=llm_sets(
        "openai", f"limits.tokens_per_minute={tpm}", f"limits.requests_per_minute={BIG}"))
    r = measure(mock, "openai", "chat.completions",
                lambda i: openai_call(mock, f"sk-tpm-{i}", max_tokens=max_tokens), WINDOW, PER_MINUTE_ABSORBS)
    # the server's own view of the charge agrees with the rule (plus a few tokens' refill)
    assert 0 <= int(r.first.headers["x-ratelimit-remaining-tokens"]) - (tpm - cost) <= 5
    check("OpenAI TPM (tokens)", r, tpm / (60 * SCALE) / cost, tpm // cost, cost)
    assert r.first.headers["x-ratelimit-limit-tokens"] == str(tpm)


# -- Anthropic ----------------------------------------------------------------------------------
def anthropic_call(mock, key: str, content: str = "hi", max_tokens: int = 1) -> Call:
    body = {"model": "claude-sonnet-4-5", "max_tokens": max_tokens, "messages": [{"role": "user", "content": content}]}
    return Call("POST", mock.url("anthropic") + "/v1/messages",
                {"x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json"},
                json.dumps(body).encode())


def anthropic_sets(rpm=BIG, itpm=BIG, otpm=BIG, output: int | None = None) -> list[str]:
    sets = llm_sets("anthropic", f"limits.requests_per_minute={rpm}", f"limits.input_tokens_per_minute={itpm}",
                    f"limits.output_tokens_per_minute={otpm}")
    sets.append("anthropic.remaining_tokens_rounding=1")  # exact headers: these tests measure the buckets by them
    if output is not None:
        # a fixed output length for the model under test only (the haiku models' own latency
        # could not generate a long median output in time, and the profile says so)
        # and the model's own latency zero too: its profile latency (tens of ms wall) held each
        # accepted call so long that a client on a busy machine could not offer twice the limit
        sets += ["anthropic.latency.tokens_per_second=10000000",
                 f"anthropic.models.claude-sonnet-4-5.output_tokens={{median: {output}, p99: {output}}}",
                 "anthropic.models.claude-sonnet-4-5.latency={median: 0.001, p99: 0.001, tokens_per_second: 10000000}"]
    return sets


def test_anthropic_requests_per_minute(mock_server):
    rpm = 60
    mock = mock_server(["anthropic"], time_scale=SCALE, seed=1, sets=anthropic_sets(rpm=rpm))
    r = measure(mock, "anthropic", "messages", lambda i: anthropic_call(mock, f"sk-ant-rpm-{i}"), WINDOW,
                PER_MINUTE_ABSORBS)
    check("Anthropic RPM", r, rpm / (60 * SCALE), rpm)
    assert r.first.headers["anthropic-ratelimit-requests-remaining"] == str(rpm - 1)


def test_anthropic_input_tokens_per_minute(mock_server):
    itpm = 6_000
    content = "x" * 376
    cost = estimate_message_tokens([{"role": "user", "content": content}])
    assert cost == 100
    mock = mock_server(["anthropic"], time_scale=SCALE, seed=1, sets=anthropic_sets(itpm=itpm))
    r = measure(mock, "anthropic", "messages", lambda i: anthropic_call(mock, f"sk-ant-itpm-{i}", content=content),
                WINDOW, PER_MINUTE_ABSORBS)
    assert 0 <= int(r.first.headers["anthropic-ratelimit-input-tokens-remaining"]) - (itpm - cost) <= 5
    check("Anthropic input TPM (tokens)", r, itpm / (60 * SCALE) / cost, itpm // cost, cost)


def test_anthropic_output_tokens_per_minute_at_max_tokens(mock_server):
    """Every call generates exactly max_tokens (the output wants 1,000), so nothing is given back
    and each accepted call costs max_tokens."""
    otpm, max_tokens = 6_000, 100
    mock = mock_server(["anthropic"], time_scale=SCALE, seed=1, sets=anthropic_sets(otpm=otpm, output=1000))
    r = measure(mock, "anthropic", "messages", lambda i: anthropic_call(mock, f"sk-ant-otpm-{i}", max_tokens=max_tokens),
                WINDOW, PER_MINUTE_ABSORBS, keep_body=True)
    ok = [json.loads(s.body) for s in r.samples if s.status == 200]
    assert all(m["usage"]["output_tokens"] == max_tokens and m["stop_reason"] == "max_tokens" for m in ok)
    check("Anthropic output TPM (tokens)", r, otpm / (60 * SCALE) / max_tokens, otpm // max_tokens, max_tokens)


def test_a_stall_while_the_bucket_is_full_biases_only_the_naive_formula(mock_server):
    """The cause of the old "6% short" runs, made on purpose: the loops start 0.2 s after the
    first request, while the bucket is full. ``burst + rate x T`` from the first request comes
    out short by about the refill of those 0.2 s; the judged window (first to last refusal) and
    the burst bounds do not move."""
    rpm, pause = 60, 0.2
    mock = mock_server(["openai"], time_scale=SCALE, seed=1, sets=llm_sets(
        "openai", f"limits.requests_per_minute={rpm}", f"limits.tokens_per_minute={BIG}"))
    rate = rpm / (60 * SCALE)
    r = measure(mock, "openai", "chat.completions", lambda i: openai_call(mock, f"sk-stall-{i}"), WINDOW,
                PER_MINUTE_ABSORBS, start_pause=pause)
    check("OpenAI RPM after a 0.2 s stall at the start", r, rate, rpm)
    naive = rpm + rate * r.window
    lost = naive - r.count(200)
    print(f"naive formula: expected {naive:.1f}, accepted {r.count(200)}: {lost:.1f} short "
          f"({lost / naive:.1%}); the stall's refill is {rate * pause:.0f}")
    # the naive formula loses at least most of the stall's refill (more if the start stalled again)
    assert lost >= 0.5 * rate * pause


def test_anthropic_output_tokens_unused_part_is_given_back(mock_server):
    """Calls reserve max_tokens=100 but generate 10: the bucket gets 90 back at the end, so the
    tokens really generated follow rate x time + burst. What the bucket still holds at the end is
    read from one more request's ``remaining`` header (that request charges 1)."""
    # 1,250 tokens/s: 125 calls/s of 10 tokens (each reserving 100 meanwhile), so that a client
    # slowed by a busy machine still offers more than twice that
    otpm, max_tokens, n = 750, 100, 10
    mock = mock_server(["anthropic"], time_scale=SCALE, seed=1, sets=anthropic_sets(otpm=otpm, output=n))
    keys: list[str] = []

    def make(i: int) -> Call:
        keys.append(f"sk-ant-give-back-{i}")
        return anthropic_call(mock, keys[-1], max_tokens=max_tokens)

    r = measure(mock, "anthropic", "messages", make, WINDOW, PER_MINUTE_ABSORBS, by_refusals=False)

    async def probe():
        async with aiohttp.ClientSession() as http:
            return await send(http, anthropic_call(mock, keys[-1], max_tokens=1))

    p = run(probe())
    assert p.status in (200, 429)  # a refusal carries the same headers and charges nothing
    left = int(p.headers["anthropic-ratelimit-output-tokens-remaining"])
    assert left < otpm - 10, "the bucket filled up again before the probe: it says nothing"
    generated = r.count(200) * n
    # generated + the probe's charge + what is left = the bucket's start + its refill (to 1 token)
    expected = otpm + otpm / (60 * SCALE) * (p.mid - r.first.mid) - (p.status == 200) - left
    check_total("Anthropic output TPM, unused part given back (tokens generated)", generated, expected, r, r.count(429))
    # without the give-back, a tenth as many calls would have passed
    assert r.count(200) > 5 * (otpm + otpm / (60 * SCALE) * r.window) / max_tokens


# -- SP-API -------------------------------------------------------------------------------------
SPAPI_ZERO = ["spapi.latency.median=0", "spapi.latency.p99=0"]


@pytest.mark.parametrize(
    "op,path,rate,burst,scale,seconds",
    [
        # the shipped 2/s with a burst of 10 (at 50/s: 200 ms); with the shipped burst of 2 a
        # full bucket absorbs only 40 ms without a request, less than a busy machine's stalls
        ("getCatalogItem", "/catalog/2022-04-01/items/B000TEST01?marketplaceIds=ATVPDKIKX0DER", 2.0, 10, 0.04, 6.0),
        # the shipped 0.5/s with a burst of 20 (at 100/s: 200 ms). With the shipped burst of 1,
        # every token that falls due between two arrivals is partly lost to the full bucket
        # (as on the real API), so a blind client gets less than rate x T (2 to 7% less here
        # at 50 to 100/s); the shipped bursts are checked exactly below.
        ("getItemOffers", "/products/pricing/v0/items/B000TEST01/offers?MarketplaceId=ATVPDKIKX0DER&ItemCondition=New", 0.5, 20, 0.005, 3.0),
    ],
)
def test_spapi_operation_rate_and_burst(mock_server, op, path, rate, burst, scale, seconds):
    mock = mock_server(["spapi"], time_scale=scale, seed=1,
                       sets=[*SPAPI_ZERO, f"spapi.endpoints.{op}.burst={burst}"])
    wall_rate = rate / scale
    r = measure(mock, "spapi", op, lambda i: Call("GET", mock.url("spapi") + path,
                                                  {"x-amz-access-token": f"Atza|{op}-{i}"}),
                seconds, burst / wall_rate)
    check(f"SP-API {op} ({rate:g}/s, burst {burst})", r, wall_rate, burst)
    assert r.first.headers["x-amzn-RateLimit-Limit"] == f"{rate:.1f}"


def test_spapi_burst_of_one(mock_server):
    """getItemOffers as shipped (0.5/s, burst 1) at 5/s wall: one request passes, the next
    waits its 200 ms."""
    mock = mock_server(["spapi"], time_scale=0.1, seed=1, sets=SPAPI_ZERO)
    url = mock.url("spapi") + "/products/pricing/v0/items/B000TEST01/offers?MarketplaceId=ATVPDKIKX0DER&ItemCondition=New"
    headers = {"x-amz-access-token": "Atza|burst-one"}

    async def go():
        async with aiohttp.ClientSession() as http:
            async def get():
                async with http.get(url, headers=headers) as resp:
                    return resp.status
            first = [await get(), await get()]
            await asyncio.sleep(0.1)
            half = await get()
            await asyncio.sleep(0.15)
            return first, half, await get()

    assert run(go()) == ([200, 429], 429, 200)


def test_spapi_operations_have_their_own_buckets(mock_server):
    """Draining one operation leaves another's bucket (same access token) untouched."""
    mock = mock_server(["spapi"], time_scale=1.0, seed=1, sets=SPAPI_ZERO)
    base = mock.url("spapi")
    headers = {"x-amz-access-token": "Atza|own-buckets"}

    async def go():
        async with aiohttp.ClientSession() as http:
            async def get(path):
                async with http.get(base + path, headers=headers) as resp:
                    return resp.status
            catalog = [await get("/catalog/2022-04-01/items/B000TEST01?marketplaceIds=ATVPDKIKX0DER") for _ in range(4)]
            offers = [await get("/products/pricing/v0/items/B000TEST01/offers?MarketplaceId=ATVPDKIKX0DER&ItemCondition=New")
                      for _ in range(3)]
            return catalog, offers

    catalog, offers = run(go())
    assert catalog == [200, 200, 429, 429]  # burst 2
    assert offers == [200, 429, 429]  # burst 1


# -- Keepa --------------------------------------------------------------------------------------
def test_keepa_per_minute_refill(mock_server):
    """Accepted tokens = initial balance + refills (discrete, one every scaled minute)."""
    refill, initial = 150, 150
    period = 60 * SCALE
    mock = mock_server(["keepa"], time_scale=SCALE, seed=1, sets=[
        f"keepa.keepa.refill_rate={refill}", f"keepa.keepa.initial={initial}",
        "keepa.latency.median=0", "keepa.latency.p99=0"])
    # a stall loses nothing here (the balance holds an hour), so any silence is fine
    r = measure(mock, "keepa", "product",
                lambda i: Call("GET", mock.url("keepa") + f"/product?key=keepa-refill-{i}&asin=B000TEST01"),
                3.5 * period, period, keep_body=True, by_refusals=False,
                overload=False, sharp=False)  # ends half way between two refills; a balance that keeps an hour needs no overload
    refills = r.window / period
    # the count is exact, so T only has to say how many refills fell due: its ends may be as
    # blurred as a busy machine makes them, as long as they stay clear of a refill instant
    edges = max(r.first.done - r.first.sent, r.last.done - r.last.sent) / period
    assert 0.2 + edges < refills % 1 < 0.8 - edges, f"T={r.window:.3f} s ends too close to a refill to count them"
    expected = initial + int(refills) * refill
    check_total("Keepa tokens (initial + refills)", r.count(200), expected, r, r.count(429))
    assert r.count(200) == expected  # cost 1 per request: exact, nothing can go negative
    # what the bodies say: the balance ran down to 0 (never below, at 1 token a request) and a
    # refusal shows an empty balance, the refill rate and when the next refill comes
    left = [json.loads(s.body)["tokensLeft"] for s in r.samples if s.status == 200]
    assert min(left) == 0 and max(left) < initial
    refused = [json.loads(s.body) for s in r.samples if s.status == 429]
    # refillRate is in tokens per wall-clock minute (what a client divides by), so refill / SCALE
    assert all(b["tokensLeft"] == 0 and b["refillRate"] == refill / SCALE and b["tokensConsumed"] == 0 for b in refused)
    assert all(0 < b["refillIn"] <= period * 1000 + 1 for b in refused)


# -- REST ---------------------------------------------------------------------------------------
def test_rest_requests_per_minute_drive(mock_server):
    """Drive's shipped 100 requests/min, refused with its own 403 userRateLimitExceeded."""
    rpm, scale = 100, 0.02  # 83.3 requests/s wall
    mock = mock_server(["drive"], time_scale=scale, seed=1, sets=[
        "drive.latency.median=0", "drive.latency.p99=0", "drive.endpoints.files.get.response_bytes=200"])
    r = measure(mock, "drive", "files.get",
                lambda i: Call("GET", mock.url("drive") + "/drive/v3/files/abc", {"Authorization": f"Bearer drive-{i}"}),
                WINDOW, 2 * PER_MINUTE_ABSORBS, refused_status=403)
    check("REST (drive) RPM", r, rpm / (60 * scale), rpm, refused_status=403)
    assert r.first.headers["X-RateLimit-Limit"] == str(rpm)
    refused = [x for x in r.samples if x.status == 403]
    assert all(0 < float(x.headers["Retry-After"]) <= 60 / rpm * scale + 0.001 for x in refused)


def test_limits_are_per_client_key(mock_server):
    """A second key gets a full bucket of its own while the first is exhausted."""
    mock = mock_server(["openai"], time_scale=1.0, seed=1, sets=llm_sets("openai", "limits.requests_per_minute=3"))

    async def go():
        async with aiohttp.ClientSession() as http:
            out = []
            for key in ("sk-a", "sk-a", "sk-a", "sk-a", "sk-b"):
                c = openai_call(mock, key)
                async with http.post(c.url, data=c.body, headers=dict(c.headers)) as resp:
                    out.append(resp.status)
            return out

    assert run(go()) == [200, 200, 200, 429, 200]


def test_admin_reset_refills_buckets(mock_server):
    mock = mock_server(["openai"], time_scale=1.0, seed=1, sets=llm_sets("openai", "limits.requests_per_minute=2"))
    c = openai_call(mock, "sk-reset")

    async def go():
        async with aiohttp.ClientSession() as http:
            async def one():
                async with http.post(c.url, data=c.body, headers=dict(c.headers)) as resp:
                    return resp.status
            before = [await one() for _ in range(3)]
            async with http.post(mock.base_url + "/admin/reset") as resp:
                assert resp.status == 200
            after = [await one() for _ in range(3)]
            return before, after

    assert run(go()) == ([200, 200, 429], [200, 200, 429])
