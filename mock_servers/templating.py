"""Jinja2 templates over JSON-like trees, for the mock's response templates and the runner's
request templates alike (mock_servers never imports harness, so the shared part lives here).

Every string of a tree is compiled once. A string that is exactly one ``{{ expression }}``
keeps the expression's type (a number stays a number, a list a list); any other renders as
text. An undefined name fails the render (``StrictUndefined`` semantics, for expressions too).
Each caller brings its own environment (the mock's is sandboxed) and its own error types.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from jinja2 import Environment, Template, TemplateError, Undefined

Render = Callable[[dict[str, Any]], Any]
Failure = Callable[[Exception], Exception]  # the error a caller raises for a compile or render error

SINGLE = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.S)
RENDER_ERRORS = (TemplateError, LookupError, TypeError, ValueError, AttributeError)


def compile_tree(value: Any, where: str, compile_string: Callable[[str, str], Render]) -> Render:
    """Compile every string in ``value`` (dicts and lists walked) with ``compile_string(text,
    where)``; returns ``render(context)``. ``where`` names each string's place for errors."""
    if isinstance(value, str):
        return compile_string(value, where)
    if isinstance(value, dict):
        parts = [(k, compile_tree(v, f"{where}.{k}" if where else str(k), compile_string)) for k, v in value.items()]
        return lambda ctx: {k: r(ctx) for k, r in parts}
    if isinstance(value, list):
        items = [compile_tree(v, f"{where}[{i}]", compile_string) for i, v in enumerate(value)]
        return lambda ctx: [r(ctx) for r in items]
    return lambda ctx: value


def single_expression(text: str) -> str | None:
    """The expression of a string that is exactly one ``{{ expression }}``, else None."""
    m = SINGLE.match(text)
    if m and "{{" not in m.group(1) and "}}" not in m.group(1):
        return m.group(1).strip()
    return None


def compile_string(env: Environment, text: str, *, invalid: Failure, failed: Failure,
                   fast: Callable[[str, Render], Render] | None = None) -> Render:
    """One string: constant, typed expression or text template. ``invalid(exc)`` is raised for
    a syntax error now, ``failed(exc)`` for an error at render; ``fast(expression, render)`` may
    swap in a quicker renderer for an expression (the runner's plain lookup paths)."""
    if "{{" not in text and "{%" not in text:
        return lambda ctx: text
    try:
        expression = single_expression(text)
        if expression is not None:
            expr = env.compile_expression(expression, undefined_to_none=False)

            def render_expr(ctx: dict[str, Any]) -> Any:
                try:
                    value = expr(**ctx)
                    if isinstance(value, Undefined):
                        value._fail_with_undefined_error()
                    return value
                except RENDER_ERRORS as exc:
                    raise failed(exc) from None

            return render_expr if fast is None else fast(expression, render_expr)
        template = env.from_string(text)
    except TemplateError as exc:
        raise invalid(exc) from None
    return render_template(template, failed)


def render_template(template: Template, failed: Failure) -> Render:
    """``render(context)`` of a compiled text template, its errors raised as ``failed(exc)``."""

    def render_text(ctx: dict[str, Any]) -> str:
        try:
            return template.render(ctx)
        except RENDER_ERRORS as exc:
            raise failed(exc) from None

    return render_text
