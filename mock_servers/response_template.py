"""A REST endpoint's answer body given in the profile: a JSON example whose strings may be
Jinja2 expressions over the request and a few generators.

```yaml
endpoints:
  - name: geocode
    path: /v1/geocode/{city}
    response:
      id: "{{ id }}"
      city: "{{ params.city }}"
      lat: "{{ uniform(-90, 90) }}"        # a string that is one expression keeps its type
      lon: "{{ uniform(-180, 180) }}"
      label: "{{ params.city | upper }}, {{ choice(['FR', 'DE']) }}"   # anything else is text
```

Names: ``id`` (the request id), ``endpoint``, ``request`` (the JSON body), ``params`` (path
parameters), ``query``, ``now`` (ISO 8601, UTC); functions ``uuid()``, ``randint(a, b)``,
``uniform(a, b)``, ``choice(list)``, ``words(n)``. Random values come from the mock's seeded
generator (``--seed``), so answers repeat. Jinja2's sandbox: a profile cannot reach Python.
"""

from __future__ import annotations

import datetime as _dt
import random
import re
import uuid as _uuid
from typing import Any, Callable

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

__all__ = ["compile_response", "ResponseTemplateError"]

_SINGLE = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.S)
_WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
          "quebec romeo sierra tango uniform victor whiskey xray yankee zulu").split()
_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)

Render = Callable[[dict[str, Any]], Any]


class ResponseTemplateError(ValueError):
    """A ``response`` template that cannot be compiled, or not rendered for a request."""


def compile_response(template: Any, where: str) -> Render:
    """Compile every string of ``template`` once; returns ``render(context)``."""
    if isinstance(template, str):
        return _compile_string(template, where)
    if isinstance(template, dict):
        parts = [(k, compile_response(v, f"{where}.{k}")) for k, v in template.items()]
        return lambda ctx: {k: r(ctx) for k, r in parts}
    if isinstance(template, list):
        items = [compile_response(v, f"{where}[{i}]") for i, v in enumerate(template)]
        return lambda ctx: [r(ctx) for r in items]
    return lambda ctx: template


def _compile_string(text: str, where: str) -> Render:
    if "{{" not in text and "{%" not in text:
        return lambda ctx: text
    try:
        m = _SINGLE.match(text)
        if m and "{{" not in m.group(1):
            expr = _env.compile_expression(m.group(1).strip(), undefined_to_none=False)

            def render_expr(ctx: dict[str, Any]) -> Any:
                try:
                    return expr(**ctx)
                except (TemplateError, LookupError, TypeError, ValueError, AttributeError) as exc:
                    raise ResponseTemplateError(f"{where}: {text!r}: {exc}") from None

            return render_expr
        tmpl = _env.from_string(text)
    except TemplateError as exc:
        raise ResponseTemplateError(f"{where}: {text!r}: {exc}") from None

    def render_text(ctx: dict[str, Any]) -> str:
        try:
            return tmpl.render(ctx)
        except (TemplateError, LookupError, TypeError, ValueError, AttributeError) as exc:
            raise ResponseTemplateError(f"{where}: {text!r}: {exc}") from None

    return render_text


def context(rng: random.Random, *, request_id: str, endpoint: str, body: Any, params: dict[str, str],
            query: dict[str, str]) -> dict[str, Any]:
    """What a template sees for one request."""
    return {
        "id": request_id, "endpoint": endpoint, "request": body if body is not None else {}, "params": params,
        "query": query, "now": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "uuid": lambda: str(_uuid.UUID(int=rng.getrandbits(128), version=4)),
        "randint": rng.randint, "uniform": rng.uniform, "choice": rng.choice,
        "words": lambda n=3: " ".join(rng.choice(_WORDS) for _ in range(int(n))),
    }
