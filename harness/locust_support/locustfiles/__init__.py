"""The shipped locustfiles, one per provider, installed with the package.

``locust -f "$(harness locustfile openai)"`` names one after a plain ``pip install``;
:func:`path` gives the same path from Python. Importing this package does not import Locust.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
NAMES = ("anthropic", "cardgenius", "keepa", "openai", "spapi")


def path(name: str) -> Path:
    """The file of the shipped locustfile ``name`` (``openai``, ``cardgenius``, ...)."""
    if name not in NAMES:
        raise KeyError(f"no shipped locustfile {name!r}; choose one of {', '.join(NAMES)}")
    return HERE / f"{name}.py"
