"""Request templates: any string in a step's path, query, headers, body or ``keep`` may use
Jinja2 over ``row`` (the input row), ``item`` (id, seq, line), ``steps`` (earlier steps' kept
values) and, in ``keep``, ``response`` (the parsed answer).

A string that is exactly one ``{{ expression }}`` keeps the expression's type (a number stays
a number, a list stays a list); any other string renders as text. Templates are compiled
once per scenario; an undefined name fails the item with the template and the reason.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from jinja2 import Environment, StrictUndefined, TemplateError, Undefined

_SINGLE = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.S)

_env = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
_env.filters["tojson_compact"] = lambda v: __import__("orjson").dumps(v).decode()

Renderer = Callable[[dict[str, Any]], Any]


class TemplateFailure(Exception):
    """A template could not be rendered for this item."""


def compile_tree(value: Any, where: str = "") -> Renderer:
    """Compile every string in ``value`` (dicts and lists walked); returns ``render(context)``."""
    if isinstance(value, str):
        return _compile_string(value, where)
    if isinstance(value, dict):
        parts = [(k, compile_tree(v, f"{where}.{k}" if where else str(k))) for k, v in value.items()]
        return lambda ctx: {k: r(ctx) for k, r in parts}
    if isinstance(value, list):
        items = [compile_tree(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return lambda ctx: [r(ctx) for r in items]
    return lambda ctx: value


def _compile_string(text: str, where: str) -> Renderer:
    if "{{" not in text and "{%" not in text:
        return lambda ctx: text
    try:
        m = _SINGLE.match(text)
        if m and "{{" not in m.group(1) and "}}" not in m.group(1):
            expr = _env.compile_expression(m.group(1).strip(), undefined_to_none=False)

            def render_expr(ctx: dict[str, Any]) -> Any:
                try:
                    value = expr(**ctx)
                    if isinstance(value, Undefined):
                        value._fail_with_undefined_error()
                    return value
                except (TemplateError, LookupError, TypeError, ValueError, AttributeError) as exc:
                    raise TemplateFailure(f"{where or 'template'} {text!r}: {_reason(exc)}") from None

            return render_expr
        template = _env.from_string(text)
    except TemplateError as exc:
        raise ValueError(f"{where or 'template'} {text!r}: {exc}") from None

    def render_text(ctx: dict[str, Any]) -> str:
        try:
            return template.render(ctx)
        except (TemplateError, LookupError, TypeError, ValueError, AttributeError) as exc:
            raise TemplateFailure(f"{where or 'template'} {text!r}: {_reason(exc)}") from None

    return render_text


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
