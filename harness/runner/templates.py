"""Request templates: any string in a step's path, query, headers, body or ``keep`` may use
Jinja2 over ``row`` (the input row), ``item`` (id, seq, line), ``steps`` (earlier steps' kept
values) and, in ``keep``, ``response`` (the parsed answer).

A string that is exactly one ``{{ expression }}`` keeps the expression's type (a number stays
a number, a list stays a list); any other string renders as text. Templates are compiled
once per scenario; an undefined name fails the item with the template and the reason.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Callable
from urllib.parse import quote

from jinja2 import Environment, StrictUndefined, TemplateError, Undefined

from harness.errors import TemplateFailure

_SINGLE = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.S)

_env = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
_env.filters["tojson_compact"] = lambda v: __import__("orjson").dumps(v).decode()

Renderer = Callable[[dict[str, Any]], Any]


class _Raw(str):
    """A value the template inserts into a path as it is (``{{ row.path | raw }}``)."""


_env.filters["raw"] = _Raw
# RFC 3986 pchar: what may stand in one path segment unencoded ("/", "?", "#", "%" may not)
_SEGMENT_SAFE = ":@!$&'()*+,;="


def path_segment(value: Any) -> str:
    """``value`` as one path segment: percent-encoded so it can neither leave its segment
    (``/``, ``..``, ``%2e%2e``) nor start a query (``?``) or fragment (``#``)."""
    if isinstance(value, _Raw):
        return str(value)
    text = quote(str(value), safe=_SEGMENT_SAFE)
    if text in (".", ".."):
        text = text.replace(".", "%2E")
    return text


def _finalize(value: Any) -> Any:
    return path_segment(value)


_path_env = _env.overlay(finalize=_finalize)
_EXPR = re.compile(r"\{\{(.*?)\}\}", re.S)
_RAW_FILTER = re.compile(r"\|\s*raw\s*$")


def compile_path(text: Any, where: str = "") -> Renderer:
    """A step's ``path``: each ``{{ expression }}`` is inserted as one percent-encoded path
    segment (row data cannot escape the base URL or add query parameters) unless it ends in
    ``| raw``. Plain expressions keep the fast lookup of :func:`compile_tree`."""
    if not isinstance(text, str) or ("{{" not in text and "{%" not in text):
        return compile_tree(text, where)
    if "{%" in text:  # blocks: Jinja itself, every output through path_segment
        try:
            template = _path_env.from_string(text)
        except TemplateError as exc:
            raise ValueError(f"{where or 'template'} {text!r}: {exc}") from None

        def render_blocks(ctx: dict[str, Any]) -> str:
            try:
                return template.render(ctx)
            except (TemplateError, LookupError, TypeError, ValueError, AttributeError) as exc:
                raise TemplateFailure(f"{where or 'template'} {text!r}: {_reason(exc)}") from None

        return render_blocks
    pieces: list[tuple[str, Renderer, bool]] = []
    pos = 0
    for m in _EXPR.finditer(text):
        expr = m.group(1).strip()
        raw = bool(_RAW_FILTER.search(expr))
        if raw:
            expr = _RAW_FILTER.sub("", expr).strip()
        pieces.append((text[pos:m.start()], _compile_string("{{ " + expr + " }}", where), raw))
        pos = m.end()
    tail = text[pos:]

    def render_path(ctx: dict[str, Any]) -> str:
        out = []
        for literal, render, raw in pieces:
            value = render(ctx)
            out.append(literal)
            out.append(str(value) if raw else path_segment(value))
        out.append(tail)
        return "".join(out)

    return render_path


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


@functools.lru_cache(maxsize=4096)  # renderers are pure: the planner compiles each step once per sample row
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

            path = _path(m.group(1).strip())
            return render_expr if path is None else _path_renderer(path, render_expr)
        template = _env.from_string(text)
    except TemplateError as exc:
        raise ValueError(f"{where or 'template'} {text!r}: {exc}") from None

    def render_text(ctx: dict[str, Any]) -> str:
        try:
            return template.render(ctx)
        except (TemplateError, LookupError, TypeError, ValueError, AttributeError) as exc:
            raise TemplateFailure(f"{where or 'template'} {text!r}: {_reason(exc)}") from None

    return render_text


# A plain lookup path (``row.user_id``, ``response.choices[0].message.content``) is by far the
# commonest template, and Jinja spends ~10 us a call building a context for it; such paths are
# walked directly. Only the lookups Jinja would make on dicts and lists are done here; anything
# else (another type, an attribute dicts have such as ``row.items``, a missing key or index, a
# name not in the context) goes to Jinja itself, so results and errors stay Jinja's own.
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_PATH = re.compile(rf"^{_NAME}(?:\s*(?:\.\s*{_NAME}|\[\s*(?:-?\d+|'[^'\\]*'|\"[^\"\\]*\")\s*\]))*$")
_STEP = re.compile(rf"\.\s*({_NAME})|\[\s*(-?\d+|'[^'\\]*'|\"[^\"\\]*\")\s*\]")
_DICT_ATTRS = frozenset(dir(dict))
_JINJA_NAMES = frozenset({"true", "false", "none", "True", "False", "None", "not", "and", "or", "in", "is", "if",
                          "else"})


def _path(expr: str) -> tuple[str, tuple[tuple[bool, Any], ...]] | None:
    """``(name, ((is_attribute, key), ...))`` for a plain lookup path, else None."""
    if not _PATH.match(expr):
        return None
    head = re.match(_NAME, expr)
    assert head is not None
    name = head.group(0)
    if name in _JINJA_NAMES:
        return None
    steps: list[tuple[bool, Any]] = []
    for attr, key in _STEP.findall(expr[head.end():]):
        if attr:
            if attr in _DICT_ATTRS:
                return None
            steps.append((True, attr))
        elif key[0] in "'\"":
            steps.append((False, key[1:-1]))
        else:
            steps.append((False, int(key)))
    return name, tuple(steps)


def _path_renderer(path: tuple[str, tuple[tuple[bool, Any], ...]], slow: Renderer) -> Renderer:
    name, steps = path

    def render_path(ctx: dict[str, Any]) -> Any:
        value = ctx.get(name, _MISSING)
        for is_attr, key in steps:
            kind = type(value)
            if kind is dict:
                # Jinja: getattr first (a dict has no such attribute: _DICT_ATTRS), then the item
                value = value.get(key, _MISSING) if (is_attr or type(key) is str) else _MISSING
            elif kind is list and not is_attr and type(key) is int and -len(value) <= key < len(value):
                value = value[key]
            else:
                value = _MISSING
            if value is _MISSING:
                return slow(ctx)
        if value is _MISSING:
            return slow(ctx)
        return value

    return render_path


_MISSING = object()


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
