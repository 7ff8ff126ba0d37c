"""Plain lookup paths are walked without Jinja; the answer and the failures must be Jinja's."""

import pytest

from harness.runner.templates import TemplateFailure, _env, _path, compile_tree

CTX = {
    "row": {"user_id": "u1", "n": 7, "none": None, "keys": "k", "a b": 1, 0: "int key"},
    "response": {"choices": [{"message": {"content": "hi"}}], "usage": {"prompt_tokens": 3}},
    "steps": {"first": {"id": "x"}},
    "obj": type("O", (), {"attr": 5})(),
}

EXPRESSIONS = [
    "row.user_id", "row.n", "row.none", "row['a b']", "row[0]", "row.keys", "row.items",
    "response.choices[0].message.content", "response.choices[-1]['message'].content",
    "response.usage.prompt_tokens", "steps.first.id", "obj.attr", "response.choices.count",
]
FAILING = ["row.missing", "response.choices[1].message", "response.usage.prompt_tokens.x", "nothing.here",
           "row.n.real_missing"]


@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_same_value_as_jinja(expr):
    expected = _env.compile_expression(expr, undefined_to_none=False)(**CTX)
    got = compile_tree("{{ " + expr + " }}")(CTX)
    assert got == expected or (callable(got) and repr(got) == repr(expected))


@pytest.mark.parametrize("expr", FAILING)
def test_same_failure_as_jinja(expr):
    with pytest.raises(TemplateFailure) as exc:
        compile_tree("{{ " + expr + " }}", "keep.x")(CTX)
    assert "keep.x" in str(exc.value)


def test_only_plain_paths_take_the_fast_path():
    assert _path("row.user_id") == ("row", ((True, "user_id"),))
    assert _path("response.choices[0].message") == ("response", ((True, "choices"), (False, 0), (True, "message")))
    for expr in ("row.a | int", "row.items", "true", "row.a + 1", "f(row)", "row[row.k]"):
        assert _path(expr) is None, expr
