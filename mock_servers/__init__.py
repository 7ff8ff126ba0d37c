"""Mock servers for rate-limited APIs: OpenAI, Anthropic, SP-API, Keepa and any REST API.

One process serves every chosen provider under its own path prefix, from provider profiles
(YAML) that the batch runner and the capacity planner read too.
"""

from __future__ import annotations

import importlib
from typing import Any

# the names import lazily (PEP 562): the runner and planner read mock_servers.rules and
# mock_servers.profile without paying for the aiohttp server behind create_app
_WHERE = {
    "MockContext": ".providers.base",
    "MockError": ".errors",
    "Profile": ".profile",
    "ProfileError": ".errors",
    "TimeScale": ".timescale",
    "create_app": ".app",
    "load_profiles": ".app",
    "shipped_profiles": ".profile",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'mock_servers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
