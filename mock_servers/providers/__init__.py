"""One module per provider; ``PROVIDER_CLASSES`` maps a profile's ``kind`` to its class."""

from .anthropic import AnthropicProvider
from .base import Provider
from .keepa import KeepaProvider
from .openai import OpenAIProvider
from .rest import RestProvider
from .spapi import SPAPIProvider

PROVIDER_CLASSES: dict[str, type[Provider]] = {
    "openai": OpenAIProvider,
    "anthropic": AnthropicProvider,
    "spapi": SPAPIProvider,
    "keepa": KeepaProvider,
    "rest": RestProvider,
}

__all__ = ["PROVIDER_CLASSES", "Provider"]
