"""``--set PROVIDER.FIELD=VALUE``: dotted paths, dotted model names, list items by name."""

from __future__ import annotations

import pytest

from mock_servers.app import load_profiles
from mock_servers.errors import ProfileError
from mock_servers.overrides import apply_override, parse_assignment


class TestParseAssignment:
    def test_splits_provider_field_and_yaml_value(self):
        assert parse_assignment("openai.limits.requests_per_minute=500") == (
            "openai", "limits.requests_per_minute", 500)
        assert parse_assignment("cardgenius.latency.median=1.5") == ("cardgenius", "latency.median", 1.5)
        assert parse_assignment("openai.faults={error_500: 0.1}") == ("openai", "faults", {"error_500": 0.1})
        assert parse_assignment("openai.description=hello world") == ("openai", "description", "hello world")
        assert parse_assignment("openai.latency.p99=") == ("openai", "latency.p99", None)

    def test_value_may_hold_equals_signs(self):
        assert parse_assignment("x.description=a=b") == ("x", "description", "a=b")

    def test_unparseable_yaml_stays_a_string(self):
        assert parse_assignment("x.description=[") == ("x", "description", "[")

    @pytest.mark.parametrize("text", ["openai", "=3", "openai.limits.requests_per_minute"])
    def test_missing_equals_or_path(self, text):
        with pytest.raises(ProfileError, match="expected PROVIDER.FIELD=VALUE"):
            parse_assignment(text)

    def test_missing_field(self):
        with pytest.raises(ProfileError, match="name a field after the provider"):
            parse_assignment("openai=3")


class TestApplyOverride:
    def test_creates_missing_sections(self):
        data: dict = {}
        apply_override(data, "limits.requests_per_minute", 60)
        assert data == {"limits": {"requests_per_minute": 60}}

    def test_model_names_with_dots(self):
        data = {"models": {"gpt-4.1": {}, "gpt-4.1-mini": {}, "gpt-4": {}}}
        apply_override(data, "models.gpt-4.1.limits.tokens_per_minute", 1)
        apply_override(data, "models.gpt-4.1-mini.latency.median", 2)
        assert data["models"] == {
            "gpt-4.1": {"limits": {"tokens_per_minute": 1}},
            "gpt-4.1-mini": {"latency": {"median": 2}},
            "gpt-4": {},
        }

    def test_null_section_becomes_a_section(self):
        data = {"latency": None}
        apply_override(data, "latency.median", 2)
        assert data == {"latency": {"median": 2}}

    def test_list_item_by_name_and_index(self):
        data = {"endpoints": [{"name": "getCatalogItem", "rate": 2}, {"name": "getItemOffers", "rate": 0.5}]}
        apply_override(data, "endpoints.getItemOffers.burst", 3)
        apply_override(data, "endpoints.0.rate", 5)
        assert data["endpoints"] == [{"name": "getCatalogItem", "rate": 5},
                                     {"name": "getItemOffers", "rate": 0.5, "burst": 3}]

    def test_list_item_name_with_dots(self):
        data = {"endpoints": [{"name": "files.get", "path": "/f"}]}
        apply_override(data, "endpoints.files.get.response_bytes", 10)
        assert data["endpoints"][0]["response_bytes"] == 10

    def test_unknown_list_item_names_the_known_ones(self):
        data = {"endpoints": [{"name": "a"}, {"name": "b"}]}
        with pytest.raises(ProfileError, match="no item named 'nope'; known: a, b"):
            apply_override(data, "endpoints.nope.rate", 1)

    def test_cannot_set_a_list_item_itself(self):
        with pytest.raises(ProfileError, match="names a list item, not a field"):
            apply_override({"endpoints": [{"name": "a"}]}, "endpoints.0", 1)

    def test_cannot_descend_into_a_value(self):
        with pytest.raises(ProfileError, match=r"'median' is a value \(3.0\), not a section"):
            apply_override({"latency": {"median": 3.0}}, "latency.median.x", 1)


class TestLoadProfilesWithSets:
    def test_model_limit_with_dotted_name(self):
        p = load_profiles(["openai"], [], ["openai.models.gpt-4.1.limits.tokens_per_minute=1"])["openai"]
        assert p.model_settings("gpt-4.1").limits.tokens_per_minute == 1
        assert p.model_settings("gpt-4.1-mini").limits.tokens_per_minute == 200000

    def test_spapi_operation_by_name(self):
        p = load_profiles(["spapi"], [], ["spapi.endpoints.getCatalogItem.rate=5"])["spapi"]
        ops = {e.name: e for e in p.endpoints}
        assert ops["getCatalogItem"].rate == 5
        assert ops["getItemOffers"].rate == 0.5

    def test_profile_wide_fields(self):
        p = load_profiles(["openai"], [], ["openai.limits.requests_per_minute=600", "openai.latency.p99=10"])["openai"]
        assert p.limits.requests_per_minute == 600 and p.latency.p99 == 10

    def test_unknown_provider(self):
        with pytest.raises(ProfileError, match="no provider 'nobody' is being served"):
            load_profiles(["openai"], [], ["nobody.latency.median=1"])

    def test_bad_value_is_a_validation_error_naming_field_and_value(self):
        with pytest.raises(ProfileError) as exc:
            load_profiles(["openai"], [], ["openai.limits.requests_per_minute=abc"])
        assert "limits.requests_per_minute:" in str(exc.value) and "(got 'abc')" in str(exc.value)

    def test_unknown_field_is_refused(self):
        with pytest.raises(ProfileError, match=r"latency\.mean: Extra inputs are not permitted \(got 2\)"):
            load_profiles(["openai"], [], ["openai.latency.mean=2"])
