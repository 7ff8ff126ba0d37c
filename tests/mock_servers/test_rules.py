"""The provider rules registry: one answer per provider question, for mock, runner and planner."""

from __future__ import annotations

import pytest

from mock_servers.profile import load_profile_data, shipped_profiles, validate_profile
from mock_servers.providers import PROVIDER_CLASSES
from mock_servers.rules import PROVIDER_RULES, LLMRequest, PlannedUse, Usage, is_llm, rules_for
from mock_servers.text import estimate_message_tokens


def _profile(name: str):
    path = shipped_profiles()[name]
    return validate_profile(load_profile_data(path), str(path))


MESSAGES = [{"role": "user", "content": "Describe this product in one line, please."}]


def test_one_rules_object_per_provider_kind():
    assert set(PROVIDER_RULES) == set(PROVIDER_CLASSES)


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_openai_admission_is_prompt_plus_max_tokens_times_choices(field):
    openai = _profile("openai")
    rules = rules_for(openai)
    prompt = estimate_message_tokens(MESSAGES)
    body = {"model": "gpt-5-nano", "messages": MESSAGES, field: 300}
    assert rules.admission(openai, body) == {"requests_per_second": 1, "requests_per_minute": 1,
                                             "tokens_per_minute": prompt + 300}
    assert rules.admission(openai, {**body, "n": 3})["tokens_per_minute"] == prompt + 900
    no_max = rules.admission(openai, {"model": "gpt-5-nano", "messages": MESSAGES})
    assert no_max["tokens_per_minute"] == prompt + openai.default_max_tokens


def test_anthropic_charges_input_and_max_tokens_and_refunds_output():
    claude = _profile("anthropic")
    rules = rules_for(claude)
    body = {"model": "claude-sonnet-4-5", "system": "be brief", "messages": MESSAGES, "max_tokens": 500}
    prompt = estimate_message_tokens(MESSAGES, "be brief")
    admitted = rules.admission(claude, body)
    assert admitted["input_tokens_per_minute"] == prompt and admitted["output_tokens_per_minute"] == 500
    request = rules.llm_request(claude, body)
    assert rules.sustained_units(request, output_tokens=120)["output_tokens_per_minute"] == 120
    assert rules.default_headers == {"anthropic-version": "2023-06-01"}
    assert rules.usage({"usage": {"input_tokens": 10, "cache_creation_input_tokens": 5, "output_tokens": 7}}) \
        == Usage(15, 7)


def test_rest_apis_cost_one_request_and_report_no_tokens():
    rest = _profile("cardgenius")
    rules = rules_for(rest)
    assert rules.admission(rest, {"user": 1}) == {"requests_per_second": 1, "requests_per_minute": 1}
    assert rules.llm_request(rest, {"messages": MESSAGES}) is None
    assert rules.usage({"score": 3}) == Usage()


def test_bucket_keys_retry_hints_and_messages():
    assert rules_for(_profile("spapi")).bucket_key("tok", "getItemOffers") == ("tok", "getItemOffers")
    assert rules_for(_profile("spapi")).per_operation and not rules_for(_profile("openai")).per_operation
    keepa = rules_for(_profile("keepa"))
    assert keepa.retry_hint({"tokensLeft": -3, "refillIn": 2500}) == 2.5
    assert keepa.retry_hint({"tokensLeft": -3, "refillIn": 0}) == 0.001
    assert rules_for(_profile("openai")).retry_hint({"refillIn": 2500}) is None
    assert keepa.error_message({"tokensLeft": -3}) == "Keepa tokens exhausted (tokensLeft -3)"
    spapi_429 = {"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota.", "details": ""}]}
    assert rules_for(_profile("spapi")).error_message(spapi_429) == "You exceeded your quota."


def test_price_falls_back_from_the_model_to_the_profile():
    openai = _profile("openai")
    rules = rules_for(openai)
    model = next(iter(openai.models))
    p = openai.model_settings(model).prices
    usage = Usage(1_000_000, 2_000_000)
    assert rules.price(openai, model, usage) == pytest.approx(
        p.input_per_million + 2 * p.output_per_million + p.per_request)
    assert rules.price(openai, "no-such-model", usage) == pytest.approx(
        openai.prices.input_per_million + 2 * openai.prices.output_per_million + openai.prices.per_request)


def test_credentials_follow_the_profiles_auth():
    openai, keepa = _profile("openai"), _profile("keepa")
    assert rules_for(openai).credentials(openai, "k") == ({openai.auth.name: "Bearer k"}, {})
    assert rules_for(keepa).credentials(keepa, "k") == ({}, {"key": "k"})


def test_server_limits_per_provider():
    spapi = _profile("spapi")
    ep = next(e for e in spapi.endpoints if e.rate)
    limits = rules_for(spapi).server_limits(spapi, [PlannedUse(1.0, ep.name, {})])
    assert [(lim.per_minute, lim.burst) for lim in limits] == [(ep.rate * 60, ep.burst or 1.0)]
    openai = _profile("openai")
    model = next(iter(openai.models))
    rules = rules_for(openai)
    use = PlannedUse(1.0, model, rules.sustained_units(LLMRequest(model, 100, 200)))
    labels = [lim.label for lim in rules.server_limits(openai, [use])]
    assert "tokens/min" in labels or openai.model_settings(model).limits.tokens_per_minute is None


def test_llm_and_batch_api_are_the_rules_answers():
    assert {k for k, r in PROVIDER_RULES.items() if r.llm} == {"openai", "anthropic"}
    assert [k for k in ("openai", "anthropic", "spapi", "keepa", "rest", "", None) if is_llm(k)] == \
        ["openai", "anthropic"]
    assert {k for k, r in PROVIDER_RULES.items() if r.batch_api} == {"openai", "anthropic"}
    assert PROVIDER_RULES["openai"].batch_api.endpoint == "/v1/chat/completions"
    assert PROVIDER_RULES["anthropic"].batch_api.endpoint is None  # a batch carries bare params


def test_only_openai_has_an_enqueued_token_queue():
    openai, anthropic = _profile("openai"), _profile("anthropic")
    assert rules_for(openai).batch_queue_tokens(openai, "gpt-4o") == 90_000  # published Tier 1
    assert rules_for(openai).batch_queue_tokens(openai, "no-such-model") is None
    assert rules_for(anthropic).batch_queue_tokens(anthropic, None) is None
