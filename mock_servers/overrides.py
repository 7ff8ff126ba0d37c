"""``--set PROVIDER.FIELD=VALUE`` overrides: a dotted path into a profile's data.

Keys may themselves hold dots (model names such as ``gpt-4.1``), so each step takes the
longest key that exists; list items (endpoints) are picked by their ``name`` or index.
"""

from __future__ import annotations

from typing import Any

import yaml

from .errors import ProfileError


def parse_assignment(text: str) -> tuple[str, str, Any]:
    """Split ``openai.limits.requests_per_minute=500`` into provider, path and value."""
    path, sep, raw = text.partition("=")
    if not sep or not path:
        raise ProfileError(f"--set {text!r}: expected PROVIDER.FIELD=VALUE, e.g. openai.limits.requests_per_minute=500")
    provider, field = split_key(path, text)
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return provider, field, value


def split_key(key: str, text: str | None = None) -> tuple[str, str]:
    """``openai.limits.requests_per_minute`` -> (``openai``, ``limits.requests_per_minute``)."""
    provider, dot, field = key.strip().partition(".")
    if not dot or not field:
        raise ProfileError(f"--set {text or key!r}: name a field after the provider, e.g. {provider}.latency.median=2.7")
    return provider, field


def apply_override(data: dict[str, Any], field: str, value: Any) -> None:
    """Set ``field`` (dotted) in ``data`` to ``value``, in place."""
    parts = field.split(".")
    node: Any = data
    i = 0
    while i < len(parts) - 1:
        node, i = _descend(node, parts, i, field)
    last = ".".join(parts[i:])
    if isinstance(node, list):
        raise ProfileError(f"--set {field}: {last!r} names a list item, not a field")
    node[last] = value


def _descend(node: Any, parts: list[str], i: int, field: str) -> tuple[Any, int]:
    if isinstance(node, dict):
        for j in range(len(parts) - 1, i, -1):
            key = ".".join(parts[i:j])
            if key in node and isinstance(node[key], (dict, list)):
                return node[key], j
        key = parts[i]
        if node.get(key) is None:
            node[key] = {}
        if not isinstance(node[key], (dict, list)):
            raise ProfileError(f"--set {field}: {key!r} is a value ({node[key]!r}), not a section")
        return node[key], i + 1
    if isinstance(node, list):
        for j in range(len(parts) - 1, i, -1):
            key = ".".join(parts[i:j])
            for item in node:
                if isinstance(item, dict) and item.get("name") == key:
                    return item, j
        if parts[i].isdigit() and int(parts[i]) < len(node):
            return node[int(parts[i])], i + 1
        names = [item.get("name") for item in node if isinstance(item, dict)]
        raise ProfileError(f"--set {field}: no item named {parts[i]!r}; known: {', '.join(map(str, names))}")
    raise ProfileError(f"--set {field}: cannot descend into {node!r}")
