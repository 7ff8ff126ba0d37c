"""A YAML file that must hold a mapping (a profile, a scenario), read with errors that say which
file and what is wrong: missing, not YAML, or not a mapping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def read_mapping(path: Path, what: str, error: type[Exception]) -> dict[str, Any]:
    """The mapping in ``path``; ``what`` names the document (``profile``, ``scenario``) in the
    ``error`` raised for a missing file, bad YAML or another kind of document."""
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise error(f"{what} file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise error(f"{path}: a {what} is a YAML mapping, got {type(data).__name__}")
    return data
