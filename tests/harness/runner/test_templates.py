"""Request templates: types kept for single expressions, text otherwise, clear failures."""

import pytest

from harness.runner.templates import TemplateFailure, compile_tree


def test_single_expression_keeps_its_type():
    render = compile_tree({"n": "{{ row.n }}", "xs": "{{ row.xs }}", "s": "{{ row.s }}"})
    out = render({"row": {"n": 42, "xs": [1, 2], "s": "007"}})
    assert out == {"n": 42, "xs": [1, 2], "s": "007"}  # "007" stays a string, not 7


def test_mixed_text_renders_as_text_and_walks_lists():
    render = compile_tree({"messages": [{"role": "user", "content": "Describe {{ row.name }} ({{ row.size }} in)"}]})
    assert render({"row": {"name": "TV-1", "size": 55}}) == {
        "messages": [{"role": "user", "content": "Describe TV-1 (55 in)"}]
    }


def test_non_strings_pass_through():
    render = compile_tree({"max_tokens": 200, "stream": False, "x": None})
    assert render({}) == {"max_tokens": 200, "stream": False, "x": None}


def test_filters_work():
    render = compile_tree("{{ row.income | int }}")
    assert render({"row": {"income": "85000"}}) == 85000


def test_undefined_names_fail_with_the_place_and_template():
    render = compile_tree({"content": "{{ row.missing }}"}, "steps.chat.json")
    with pytest.raises(TemplateFailure) as exc:
        render({"row": {}})
    assert "steps.chat.json.content" in str(exc.value)
    assert "missing" in str(exc.value)


def test_index_errors_in_keep_fail_the_item_not_the_run():
    render = compile_tree("{{ response.choices[0].message.content }}", "keep.answer")
    with pytest.raises(TemplateFailure):
        render({"response": {"choices": []}})


def test_syntax_errors_are_reported_at_compile_time():
    with pytest.raises(ValueError) as exc:
        compile_tree("{{ row. }}", "steps.x.path")
    assert "steps.x.path" in str(exc.value)
