"""Tokens and dollars of a call, by the provider rules (:mod:`mock_servers.rules`); these names
stay for the modules that import them."""

from __future__ import annotations

from typing import Any

from mock_servers.profile import Profile
from mock_servers.rules import Usage, rules_for

__all__ = ["Usage", "limiter_cost", "price_of", "usage_of"]


def limiter_cost(profile: Profile, body: Any) -> dict[str, float]:
    return rules_for(profile).admission(profile, body)


def usage_of(profile: Profile, response: Any) -> Usage:
    return rules_for(profile).usage(response)


def price_of(profile: Profile, model: str | None, usage: Usage) -> float:
    return rules_for(profile).price(profile, model, usage)
