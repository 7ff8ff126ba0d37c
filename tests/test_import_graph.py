"""The import graph (grimp, import-linter's graph builder): no cycles anywhere, mock_servers
never imports harness, and the harness's layers only import downwards."""

from __future__ import annotations

import grimp
import pytest

LAYERS = ["harness.cli", "harness.demo", "harness.api", "harness.reporting", "harness.planning", "harness.runner"]


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("harness", "mock_servers", exclude_type_checking_imports=True)


def _edges(graph) -> dict[str, set[str]]:
    return {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        x = stack.pop()
                        on.discard(x)
                        comp.append(x)
                        if x == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
            elif w not in index:
                index[w] = low[w] = len(index)
                stack.append(w)
                on.add(w)
                work.append((w, iter(sorted(edges.get(w, ())))))
            elif w in on:
                low[v] = min(low[v], index[w])
    return out


def test_no_import_cycles(graph):
    assert _cycles(_edges(graph)) == []


def test_mock_servers_never_import_harness(graph):
    bad = [(a, b) for a, bs in _edges(graph).items() if a.startswith("mock_servers") for b in bs
           if b.split(".")[0] == "harness"]
    assert bad == []


def test_layers_import_downwards_only(graph):
    edges = _edges(graph)
    bad = []
    for i, layer in enumerate(LAYERS):
        above = LAYERS[:i]
        for a, bs in edges.items():
            if a == layer or a.startswith(layer + "."):
                bad += [(a, b) for b in bs if any(b == up or b.startswith(up + ".") for up in above)]
    assert bad == []


def test_presenters_import_result_types_not_their_producers(graph):
    edges = _edges(graph)
    for presenter in ("harness.reporting.report", "harness.reporting.plots"):
        assert not edges[presenter] & {"harness.planning.sweep", "harness.planning.planner"}, presenter
