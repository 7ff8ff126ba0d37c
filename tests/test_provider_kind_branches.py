"""Nothing in harness/ branches on the provider kind: every provider-specific rule is asked of
its rules object (mock_servers.rules.PROVIDER_RULES), so the mock, the runner and the planner
read one rule. The check walks the syntax tree (not text), so a branch split over lines or
written as ``not in`` is found too."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

from mock_servers.profile import ProviderKind
from mock_servers.rules import PROVIDER_RULES

ROOT = Path(__file__).resolve().parents[1]
PROVIDER_NAMES = frozenset(get_args(ProviderKind)) | frozenset(PROVIDER_RULES)


def _is_kind(node: ast.expr) -> bool:
    """``x.kind``, ``kind``, ``x.get("kind")`` or ``x["kind"]``."""
    if isinstance(node, ast.Attribute):
        return node.attr == "kind"
    if isinstance(node, ast.Name):
        return node.id == "kind"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
        return bool(node.args) and isinstance(node.args[0], ast.Constant) and node.args[0].value == "kind"
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value == "kind"
    return False


def _names_a_provider(node: ast.expr) -> bool:
    """A provider name literal, a collection holding one, or a ``*KINDS`` constant."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and sub.value in PROVIDER_NAMES:
            return True
        if isinstance(sub, (ast.Name, ast.Attribute)):
            name = sub.id if isinstance(sub, ast.Name) else sub.attr
            if name.upper().endswith("KINDS"):
                return True
    return False


def provider_kind_branches(source: str, filename: str = "<source>") -> list[str]:
    """``file:line`` of every comparison of a kind against a provider name (or a match on it)."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_is_kind(s) for s in sides) and any(_names_a_provider(s) for s in sides if not _is_kind(s)):
                found.append(f"{filename}:{node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.Match) and _is_kind(node.subject):
            if any(_names_a_provider(c.pattern) for c in node.cases):
                found.append(f"{filename}:{node.lineno}: match {ast.unparse(node.subject)}")
    return found


def test_the_check_finds_a_kind_branch() -> None:
    bad = '''
if profile.kind == "openai":
    pass
llm = fig.kind in LLM_KINDS
rest = [d for d in docs if d.get("kind") not in ("openai", "anthropic")]
if "keepa" != target.profile.kind:
    pass
match p.kind:
    case "spapi":
        pass
'''
    assert sorted(int(f.split(":")[1]) for f in provider_kind_branches(bad)) == [2, 4, 5, 6, 8]


def test_the_check_leaves_other_kinds_alone() -> None:
    ok = '''
if o.state == "ok" or r.kind == "points" or step.kind == "http":
    pass
if rules_for(profile).llm:
    pass
'''
    assert provider_kind_branches(ok) == []


def test_harness_never_branches_on_the_provider_kind() -> None:
    found = []
    for path in sorted((ROOT / "harness").rglob("*.py")):
        found += provider_kind_branches(path.read_text(), str(path.relative_to(ROOT)))
    assert found == [], ("harness/ branches on the provider kind; ask the provider's rules object in "
                         "mock_servers/rules.py instead:\n" + "\n".join(found))
