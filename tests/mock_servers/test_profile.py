"""Profile validation: every error names the field and the value, as ProfileError."""

from __future__ import annotations

import copy

import pytest

from mock_servers.errors import ProfileError
from mock_servers.profile import (
    Profile,
    load_profile_data,
    shipped_profiles,
    validate_profile,
)

REST = {"name": "partner", "kind": "rest", "endpoints": [{"name": "score", "method": "POST", "path": "/v1/score"}]}
OPENAI = {
    "name": "oa", "kind": "openai",
    "latency": {"median": 3.0, "p99": 9.0, "tokens_per_second": 100},
    "output_tokens": {"median": 150},
    "models": {"gpt-4.1": {}},
}


def with_(base: dict, **changes) -> dict:
    data = copy.deepcopy(base)
    data.update(changes)
    return data


def error_of(data: dict) -> str:
    with pytest.raises(ProfileError) as exc:
        validate_profile(data, "my_api.yaml")
    return str(exc.value)


def test_minimal_rest_profile_is_valid():
    p = validate_profile(REST, "my_api.yaml")
    assert isinstance(p, Profile)
    assert p.mount == "/partner"
    assert p.endpoints[0].name == "score"


def test_every_shipped_profile_is_valid():
    names = set(shipped_profiles())
    assert {"openai", "anthropic", "spapi", "keepa", "cardgenius", "drive", "research", "email"} <= names
    for name, path in shipped_profiles().items():
        p = validate_profile(load_profile_data(path), str(path))
        assert p.name == name


def test_fixed_field_names():
    p = validate_profile(
        with_(OPENAI, limits={"requests_per_minute": 500, "tokens_per_minute": 200000,
                              "input_tokens_per_minute": 1, "output_tokens_per_minute": 2}),
        "x",
    )
    assert p.limits.requests_per_minute == 500 and p.limits.tokens_per_minute == 200000
    assert p.limits.input_tokens_per_minute == 1 and p.limits.output_tokens_per_minute == 2
    assert (p.latency.median, p.latency.p99, p.latency.tokens_per_second) == (3.0, 9.0, 100)


def test_unknown_top_level_field_is_refused():
    msg = error_of(with_(REST, colour="red"))
    assert msg.startswith("my_api.yaml: invalid profile")
    assert "colour: Extra inputs are not permitted (got 'red')" in msg


def test_unknown_nested_field_is_refused():
    msg = error_of(with_(REST, latency={"mean": 2.0}))
    assert "latency.mean: Extra inputs are not permitted (got 2.0)" in msg


def test_typo_in_endpoint_field_names_the_item():
    msg = error_of(with_(REST, endpoints=[{"name": "score", "path": "/v1/score", "methd": "POST"}]))
    assert "endpoints.0.methd: Extra inputs are not permitted (got 'POST')" in msg


def test_p99_below_median():
    msg = error_of(with_(REST, latency={"median": 2.0, "p99": 1.0}))
    assert "latency:" in msg
    assert "p99 (1.0) must be >= median (2.0)" in msg


def test_output_tokens_p99_below_median():
    msg = error_of(with_(OPENAI, output_tokens={"median": 150, "p99": 100}))
    assert "output_tokens:" in msg and "p99 (100) must be >= median (150)" in msg


def test_faults_summing_above_one():
    msg = error_of(with_(REST, faults={"error_500": 0.6, "error_503": 0.5}))
    assert "faults:" in msg
    assert "fault probabilities add up to 1.100, more than 1" in msg


def test_fault_probability_out_of_range():
    msg = error_of(with_(REST, faults={"error_500": 1.5}))
    assert "faults.error_500: Input should be less than or equal to 1 (got 1.5)" in msg


def test_negative_limit_names_field_and_value():
    msg = error_of(with_(REST, limits={"requests_per_minute": -5}))
    assert "limits.requests_per_minute: Input should be greater than or equal to 0.001 (got -5)" in msg


def test_wrong_type_names_field_and_value():
    msg = error_of(with_(REST, latency={"median": "slow"}))
    assert "latency.median:" in msg and "(got 'slow')" in msg


def test_unknown_kind():
    msg = error_of(with_(REST, kind="soap"))
    assert "kind:" in msg and "(got 'soap')" in msg


def test_bad_name():
    msg = error_of(with_(REST, name="Bad Name"))
    assert "name:" in msg and "(got 'Bad Name')" in msg


def test_endpoint_path_must_start_with_slash():
    msg = error_of(with_(REST, endpoints=[{"name": "score", "path": "v1/score"}]))
    assert "endpoints.0:" in msg and "path must start with '/': 'v1/score'" in msg


def test_rest_profile_needs_endpoints():
    msg = error_of(with_(REST, endpoints=[]))
    assert "a rest profile needs at least one entry under 'endpoints'" in msg


def test_llm_profile_needs_models():
    msg = error_of(with_(OPENAI, models={}))
    assert "an openai profile needs at least one entry under 'models'" in msg


def test_model_override_error_names_model_section_field_and_value():
    msg = error_of(with_(OPENAI, models={"gpt-4.1": {"limits": {"tokens_per_minute": 0}}}))
    assert "models.gpt-4.1.limits.tokens_per_minute: Input should be greater than or equal to 0.001 (got 0)" in msg
    msg = error_of(with_(OPENAI, models={"gpt-4.1": {"latency": {"median": 5.0, "p99": 2.0}}}))
    assert "models.gpt-4.1.latency" in msg and "p99 (2.0) must be >= median (5.0)" in msg


def test_llm_median_too_short_for_median_output():
    msg = error_of(with_(OPENAI, latency={"median": 0.5, "tokens_per_second": 100}))
    assert "models.gpt-4.1: latency.median (0.5s) is shorter than generating the median output" in msg


def test_model_settings_merge_model_over_profile():
    p = validate_profile(
        with_(OPENAI, limits={"requests_per_minute": 500, "tokens_per_minute": 200000},
              models={"gpt-4.1": {"limits": {"tokens_per_minute": 30000}}, "gpt-5": {}}),
        "x",
    )
    s = p.model_settings("gpt-4.1")
    assert s.limits.tokens_per_minute == 30000 and s.limits.requests_per_minute == 500
    assert p.model_settings("gpt-5").limits.tokens_per_minute == 200000


class TestLoadProfileData:
    def test_bad_yaml(self, tmp_path):
        path = tmp_path / "bad.yaml"
        path.write_text("name: x\nlatency: {median: 1\n")
        with pytest.raises(ProfileError, match=r"bad\.yaml: not valid YAML"):
            load_profile_data(path)

    def test_not_a_mapping(self, tmp_path):
        path = tmp_path / "list.yaml"
        path.write_text("- a\n- b\n")
        with pytest.raises(ProfileError, match="a profile is a YAML mapping, got list"):
            load_profile_data(path)

    def test_missing_file(self, tmp_path):
        with pytest.raises(ProfileError, match="profile file not found"):
            load_profile_data(tmp_path / "nope.yaml")

    def test_round_trip(self, tmp_path):
        path = tmp_path / "partner.yaml"
        path.write_text(
            "name: partner\nkind: rest\nlatency: {median: 2.7, p99: 6.5}\nlimits: {requests_per_minute: 600}\n"
            "endpoints:\n  - {name: score, method: POST, path: /v1/score, request_bytes: 500, response_bytes: 35000}\n"
        )
        p = validate_profile(load_profile_data(path), str(path))
        assert p.latency.median == 2.7 and p.limits.requests_per_minute == 600
        assert p.endpoints[0].response_bytes == 35000
