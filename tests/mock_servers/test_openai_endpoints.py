"""The official ``openai`` SDK on the endpoints batch teams use besides chat: Responses (plain and
streamed, with their event types and usage), embeddings (lists, dimensions, base64), tools and
structured outputs on chat and Responses (``parse`` with a pydantic model, schema-valid tool
arguments, streamed tool-call deltas). Only ``base_url`` and the key differ from production.
"""

from __future__ import annotations

import json
from typing import Literal

import jsonschema
import openai
import pytest
from pydantic import BaseModel, Field

FAST = ["openai.latency.median=0.02", "openai.latency.p99=0.05", "openai.latency.tokens_per_second=5000",
        "openai.output_tokens.median=20", "openai.output_tokens.p99=40"]
MODEL = "gpt-5-nano"
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                            "parameters": {"type": "object", "properties": {
                                                "city": {"type": "string", "minLength": 2},
                                                "unit": {"type": "string", "enum": ["c", "f"]},
                                                "days": {"type": "integer", "minimum": 1, "maximum": 7}},
                                                "required": ["city", "unit", "days"], "additionalProperties": False}}}


class Metafields(BaseModel):
    screen_size: Literal["43 in", "55 in", "65 in"]
    resolution: str
    hdmi_ports: int = Field(ge=1, le=6)
    hdr: list[str]
    energy_class: str | None


@pytest.fixture
def client(mock_server):
    mock = mock_server(["openai"], time_scale=0.01, sets=FAST, seed=7)
    return openai.OpenAI(base_url=f"{mock.url('openai')}/v1", api_key="sk-endpoints", max_retries=0)


def test_responses_plain_with_reasoning_usage(client):
    r = client.responses.create(model=MODEL, input="Describe this television.", reasoning={"effort": "low"})
    assert r.object == "response" and r.status == "completed" and r.id.startswith("resp_")
    assert r.output[0].type == "reasoning" and r.output[-1].type == "message"
    assert r.output_text and len(r.output_text.split()) > 0
    u = r.usage
    assert u.total_tokens == u.input_tokens + u.output_tokens
    assert u.output_tokens == len(r.output_text.split()) + u.output_tokens_details.reasoning_tokens
    assert u.output_tokens_details.reasoning_tokens > 0
    plain = client.responses.create(model="gpt-4o-mini", input=[{"role": "user", "content": "hi"}])
    assert [o.type for o in plain.output] == ["message"] and plain.usage.output_tokens_details.reasoning_tokens == 0
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-4o-mini", input="hi", reasoning={"effort": "low"})
    assert info.value.body["param"] == "reasoning.effort" and info.value.code == "unsupported_parameter"


def test_responses_stream_event_types(client):
    events = list(client.responses.create(model=MODEL, input="Describe this.", stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[1] == "response.in_progress" and kinds[-1] == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    for k in ("response.output_item.added", "response.content_part.added", "response.output_text.delta",
              "response.output_text.done", "response.content_part.done", "response.output_item.done"):
        assert k in kinds
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    final = events[-1].response
    assert text == final.output_text and final.usage.output_tokens > 0
    with client.responses.stream(model=MODEL, input="again") as stream:
        for _ in stream:
            pass
        assert stream.get_final_response().status == "completed"


def test_embeddings_lists_dimensions_and_base64(client):
    r = client.embeddings.create(model="text-embedding-3-small", input=["red tv", "blue tv", "red tv"])
    assert [d.index for d in r.data] == [0, 1, 2] and len(r.data[0].embedding) == 1536
    assert r.data[0].embedding == r.data[2].embedding != r.data[1].embedding  # deterministic per input
    assert abs(sum(v * v for v in r.data[0].embedding) - 1) < 1e-3
    assert r.usage.prompt_tokens == r.usage.total_tokens > 0
    small = client.embeddings.create(model="text-embedding-3-large", input="tv", dimensions=256)
    assert len(small.data[0].embedding) == 256
    b64 = client.embeddings.create(model="text-embedding-3-small", input="tv", encoding_format="base64")
    assert isinstance(b64.data[0].embedding, str)
    with pytest.raises(openai.BadRequestError) as info:
        client.embeddings.create(model="text-embedding-3-small", input="tv", dimensions=5000)
    assert info.value.body["param"] == "dimensions"
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="text-embedding-3-small", messages=[{"role": "user", "content": "x"}])


def test_chat_tool_choice_required_gives_schema_valid_arguments(client):
    r = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "weather in Paris?"}],
                                       tools=[WEATHER], tool_choice="required")
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather" and call.id.startswith("call_")
    jsonschema.validate(json.loads(call.function.arguments), WEATHER["function"]["parameters"])
    # after the tool's answer, "auto" answers in text: agent loops end
    follow = client.chat.completions.create(model=MODEL, tools=[WEATHER], messages=[
        {"role": "user", "content": "weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"}])
    assert follow.choices[0].finish_reason == "stop" and follow.choices[0].message.content


def test_chat_streamed_tool_call_deltas(client):
    stream = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "weather?"}],
                                            tools=[WEATHER], tool_choice={"type": "function",
                                                                          "function": {"name": "get_weather"}},
                                            stream=True)
    chunks = list(stream)
    args = "".join(tc.function.arguments or "" for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or []))
    jsonschema.validate(json.loads(args), WEATHER["function"]["parameters"])
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    with client.chat.completions.stream(model=MODEL, messages=[{"role": "user", "content": "weather?"}],
                                        tools=[openai.pydantic_function_tool(Metafields)],
                                        tool_choice="required") as s:
        final = s.get_final_completion()
    parsed = final.choices[0].message.tool_calls[0].function.parsed_arguments
    assert isinstance(parsed, Metafields)


def test_parse_with_a_pydantic_model_sets_parsed(client):
    r = client.chat.completions.parse(model=MODEL, response_format=Metafields,
                                      messages=[{"role": "user", "content": "Fill the metafields."}])
    parsed = r.choices[0].message.parsed
    assert isinstance(parsed, Metafields) and parsed.screen_size in ("43 in", "55 in", "65 in")
    jr = client.chat.completions.create(model=MODEL, response_format={"type": "json_object"},
                                        messages=[{"role": "user", "content": "Answer in JSON."}])
    assert isinstance(json.loads(jr.choices[0].message.content), dict)
    rp = client.responses.parse(model=MODEL, input="Fill the metafields.", text_format=Metafields)
    assert isinstance(rp.output_parsed, Metafields)
    tool = client.responses.create(model=MODEL, input="weather?", tool_choice="required", tools=[{
        "type": "function", "name": "get_weather", "parameters": WEATHER["function"]["parameters"]}])
    call = [o for o in tool.output if o.type == "function_call"][0]
    jsonschema.validate(json.loads(call.arguments), WEATHER["function"]["parameters"])
