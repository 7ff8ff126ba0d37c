"""The template core the mock's response templates and the runner's request templates share."""

from __future__ import annotations

import pytest

from harness.errors import TemplateFailure
from harness.runner.templates import compile_tree
from mock_servers.response_template import ResponseTemplateError, compile_response
from mock_servers.templating import single_expression


def test_one_expression_keeps_its_type_anything_else_is_text_on_both_sides():
    tree = {"n": "{{ x }}", "s": "x={{ x }}", "l": ["{{ [x, x] }}", 3], "c": "plain"}
    ctx = {"x": 2}
    want = {"n": 2, "s": "x=2", "l": [[2, 2], 3], "c": "plain"}
    assert compile_tree(tree, "t")(ctx) == want
    assert compile_response(tree, "t")(ctx) == want


def test_single_expression():
    assert single_expression(" {{ a.b }} ") == "a.b"
    assert single_expression("{{ a }} and {{ b }}") is None
    assert single_expression("{{ a }} }}") is None  # text: the stray braces are literal


def test_an_undefined_name_fails_the_render_with_each_sides_error():
    with pytest.raises(TemplateFailure, match=r"steps.x 'id {{ nope }}': 'nope' is undefined"):
        compile_tree("id {{ nope }}", "steps.x")({})
    with pytest.raises(ResponseTemplateError, match=r"endpoints.e.response.id: '{{ nope }}'"):
        compile_response({"id": "{{ nope }}"}, "endpoints.e.response")({})


def test_a_syntax_error_is_refused_at_compile_time():
    with pytest.raises(ValueError, match="steps.x"):
        compile_tree("{{ a + }}", "steps.x")
    with pytest.raises(ResponseTemplateError, match="endpoints.e.response"):
        compile_response("{{ a + }}", "endpoints.e.response")
