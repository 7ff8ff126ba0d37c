"""Mock servers for rate-limited APIs: OpenAI, Anthropic, SP-API, Keepa and any REST API.

One process serves every chosen provider under its own path prefix, from provider profiles
(YAML) that the batch runner and the capacity planner read too.
"""

from .app import create_app, load_profiles
from .errors import MockError, ProfileError
from .profile import Profile, shipped_profiles
from .providers.base import MockContext
from .timescale import TimeScale

__all__ = [
    "MockContext",
    "MockError",
    "Profile",
    "ProfileError",
    "TimeScale",
    "create_app",
    "load_profiles",
    "shipped_profiles",
]
