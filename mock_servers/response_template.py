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
import uuid as _uuid
from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from .templating import Render, compile_string, compile_tree

__all__ = ["compile_response", "ResponseTemplateError"]

_WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
          "quebec romeo sierra tango uniform victor whiskey xray yankee zulu").split()
_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


class ResponseTemplateError(ValueError):
    """A ``response`` template that cannot be compiled, or not rendered for a request."""


def compile_response(template: Any, where: str) -> Render:
    """Compile every string of ``template`` once; returns ``render(context)``."""
    return compile_tree(template, where, _compile_string)


def _compile_string(text: str, where: str) -> Render:
    def error(exc: Exception) -> ResponseTemplateError:
        return ResponseTemplateError(f"{where}: {text!r}: {exc}")

    return compile_string(_env, text, invalid=error, failed=error)


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
