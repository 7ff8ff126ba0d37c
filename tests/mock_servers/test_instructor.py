"""instructor (structured output built on the official ``openai`` SDK) against the OpenAI mock,
unchanged but for the client's ``base_url``: ``response_model`` with a pydantic model in its
tool mode (a forced function call whose arguments must validate) and its JSON-schema mode
(``response_format`` json_schema), plus its streamed partial objects. instructor validates what
comes back and retries on a validation error, so a mock answer off the schema fails these tests.
"""

from __future__ import annotations

import instructor
import openai
import pytest

from tests.mock_servers.test_openai_endpoints import FAST, MODEL, Metafields

PROMPT = [{"role": "user", "content": "Extract the television's metafields from: 55 in, 4K, 3 HDMI, HDR10."}]


@pytest.fixture
def raw(mock_server):
    mock = mock_server(["openai"], time_scale=0.01, sets=FAST, seed=11)
    return openai.OpenAI(base_url=f"{mock.url('openai')}/v1", api_key="sk-instructor", max_retries=0)


@pytest.mark.parametrize("mode", [instructor.Mode.TOOLS, instructor.Mode.JSON_SCHEMA])
def test_response_model_is_filled_in_each_mode(raw, mode):
    client = instructor.from_openai(raw, mode=mode)
    for _ in range(5):  # several draws: each must validate at the first attempt
        item, completion = client.chat.completions.create_with_completion(
            model=MODEL, response_model=Metafields, messages=PROMPT, max_retries=0)
        assert isinstance(item, Metafields) and 1 <= item.hdmi_ports <= 6
        message = completion.choices[0].message
        if mode is instructor.Mode.JSON_SCHEMA:
            assert message.content and not message.tool_calls
        else:  # the forced call of the model's function, as instructor asks for it
            assert completion.choices[0].finish_reason in ("tool_calls", "stop")
            assert message.tool_calls[0].function.name == "Metafields"
        assert completion.usage.completion_tokens > 0


def test_streamed_partials_end_in_the_full_object(raw):
    client = instructor.from_openai(raw, mode=instructor.Mode.TOOLS)
    partials = list(client.chat.completions.create_partial(model=MODEL, response_model=Metafields, messages=PROMPT,
                                                           max_retries=0))
    assert len(partials) > 1
    final = Metafields.model_validate(partials[-1].model_dump())
    assert final.screen_size in ("43 in", "55 in", "65 in")


def test_a_list_of_objects_through_the_tool_mode(raw):
    client = instructor.from_openai(raw, mode=instructor.Mode.TOOLS)
    items = client.chat.completions.create(model=MODEL, response_model=list[Metafields], messages=PROMPT, max_retries=0)
    assert isinstance(items, list) and items and all(isinstance(i, Metafields) for i in items)


def test_responses_tools_mode(raw):
    client = instructor.from_openai(raw, mode=instructor.Mode.RESPONSES_TOOLS)
    item = client.responses.create(model=MODEL, response_model=Metafields, input=PROMPT, max_retries=0)
    assert isinstance(item, Metafields)
