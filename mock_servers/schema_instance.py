"""A JSON value valid against a JSON schema: the arguments of a mock tool call and the content
of a structured output, so that clients which validate or parse them (``chat.completions.parse``,
pydantic tool helpers) get what the real API's constrained decoding guarantees.

Covers what tool and response schemas use: objects, arrays, scalars, enum/const, anyOf/oneOf/
allOf, $ref into $defs/definitions, formats, bounds and lengths.
"""

from __future__ import annotations

from typing import Any

_FORMATS = {"date-time": "2025-01-01T00:00:00Z", "date": "2025-01-01", "time": "00:00:00Z",
            "email": "mock@example.com", "uri": "https://example.com/mock", "uuid": "00000000-0000-4000-8000-000000000000"}


OPTIONAL_DEPTH = 6  # below this nesting depth optional properties are filled as well


def instance(schema: Any, root: Any = None, depth: int = 0) -> Any:
    """The first simple value ``schema`` accepts (deterministic, so retries agree)."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > 12:
        return {}
    if "$ref" in schema:
        return instance(_resolve(schema["$ref"], root), root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            options = [s for s in schema[key] if not (isinstance(s, dict) and s.get("type") == "null")]
            return instance((options or schema[key])[0], root, depth + 1)
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            part = _resolve(part["$ref"], root) if isinstance(part, dict) and "$ref" in part else part
            for k, v in (part or {}).items():
                if k in ("properties",) and k in merged:
                    merged[k] = {**merged[k], **v}
                elif k == "required" and k in merged:
                    merged[k] = [*merged[k], *v]
                else:
                    merged[k] = v
        return instance(merged, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else ("array" if "items" in schema else "string")
    if kind == "object":
        props = schema.get("properties") or {}
        required = schema.get("required")
        # optional properties too, as a model asked to fill them does (instructor's list wrapper
        # makes its one field, ``tasks``, optional); not deep down, where a recursive schema recurs
        keys = list(required or [])
        if required is None or depth < OPTIONAL_DEPTH:
            keys += [k for k in props if k not in keys]
        extra = schema.get("additionalProperties")
        extra = extra if isinstance(extra, dict) else {}
        return {k: instance(props.get(k, extra), root, depth + 1) for k in keys}
    if kind == "array":
        n = max(1, int(schema.get("minItems", 1)))
        n = min(n, int(schema.get("maxItems", n)))
        item = schema.get("items") or {}
        if schema.get("prefixItems"):
            return [instance(s, root, depth + 1) for s in schema["prefixItems"]]
        return [instance(item, root, depth + 1) for _ in range(n)]
    if kind == "string":
        if schema.get("format") in _FORMATS:
            return _FORMATS[schema["format"]]
        text = "mock"
        lo, hi = int(schema.get("minLength", 0)), schema.get("maxLength")
        if len(text) < lo:
            text = text + "x" * (lo - len(text))
        if hi is not None:
            text = text[: int(hi)]
        return text
    if kind in ("integer", "number"):
        value: float = 1
        if "minimum" in schema:
            value = max(value, schema["minimum"])
        if "exclusiveMinimum" in schema:
            value = max(value, schema["exclusiveMinimum"] + 1)
        if "maximum" in schema:
            value = min(value, schema["maximum"])
        if "exclusiveMaximum" in schema:
            value = min(value, schema["exclusiveMaximum"] - 1)
        if kind == "integer":
            return int(value)
        return value
    if kind == "boolean":
        return True
    return None


def _resolve(ref: str, root: Any) -> Any:
    if not ref.startswith("#"):
        return {}
    node = root
    for part in ref.lstrip("#/").split("/"):
        if not part:
            continue
        if not isinstance(node, dict):
            return {}
        node = node.get(part.replace("~1", "/").replace("~0", "~"), {})
    return node
