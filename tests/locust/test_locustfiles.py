"""The locustfiles ship in the package; scenarios/locust/ keeps working as thin re-exports."""

from __future__ import annotations

import subprocess

import pytest

from harness.locust_support import locustfiles

from .runlocust import LOCUST, ROOT

USERS = {"openai": "OpenAIUser", "anthropic": "AnthropicUser", "cardgenius": "CardGeniusUser",
         "spapi": "SPAPIUser", "keepa": "KeepaUser"}


def _listed(path) -> set[str]:
    proc = subprocess.run([LOCUST, "-f", str(path), "--list"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {line.strip() for line in proc.stdout.splitlines()[1:] if line.strip()}


@pytest.mark.parametrize("name", sorted(USERS))
def test_shipped_and_checkout_locustfiles_offer_the_same_user(name):
    shipped = locustfiles.path(name)
    assert shipped.is_file() and shipped.parent.name == "locustfiles"
    assert _listed(shipped) == _listed(ROOT / "scenarios" / "locust" / f"{name}.py") == {USERS[name]}


def test_unknown_locustfile_names_the_choices():
    with pytest.raises(KeyError, match="openai"):
        locustfiles.path("nope")
