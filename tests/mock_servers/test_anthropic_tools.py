"""The official ``anthropic`` SDK with tools and structured output: ``tool_choice`` any/tool
gives a ``tool_use`` block whose input is valid against its ``input_schema`` (plain and
streamed), ``auto`` answers in text after a ``tool_result``, and ``messages.parse`` with a
pydantic ``output_format`` gets a parsed object.
"""

from __future__ import annotations

from typing import Literal

import anthropic
import jsonschema
import pytest
from pydantic import BaseModel

FAST = ["anthropic.latency.median=0.05", "anthropic.latency.p99=0.1", "anthropic.latency.tokens_per_second=50000"]
MODEL = "claude-haiku-4-5"
TOOL = {"name": "lookup_asin", "description": "Look an ASIN up", "input_schema": {
    "type": "object", "properties": {"asin": {"type": "string", "minLength": 10, "maxLength": 10},
                                     "fields": {"type": "array", "items": {"enum": ["title", "price"]}, "minItems": 1}},
    "required": ["asin", "fields"]}}


class Summary(BaseModel):
    title: str
    price: float
    condition: Literal["new", "used"]


@pytest.fixture
def client(mock_server):
    mock = mock_server(["anthropic"], time_scale=0.01, sets=FAST, seed=8)
    return anthropic.Anthropic(base_url=mock.url("anthropic"), api_key="sk-ant-tools", max_retries=0)


def test_tool_choice_any_gives_a_schema_valid_tool_use(client):
    msg = client.messages.create(model=MODEL, max_tokens=500, tools=[TOOL], tool_choice={"type": "any"},
                                 messages=[{"role": "user", "content": "look up B0088PUEPK"}])
    assert msg.stop_reason == "tool_use"
    block = msg.content[0]
    assert block.type == "tool_use" and block.name == "lookup_asin" and block.id.startswith("toolu_")
    jsonschema.validate(block.input, TOOL["input_schema"])
    follow = client.messages.create(model=MODEL, max_tokens=500, tools=[TOOL], messages=[
        {"role": "user", "content": "look up B0088PUEPK"},
        {"role": "assistant", "content": [block.model_dump()]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": block.id, "content": "a TV"}]}])
    assert follow.stop_reason == "end_turn" and follow.content[0].type == "text"


def test_streamed_tool_use_input_json_deltas(client):
    with client.messages.stream(model=MODEL, max_tokens=500, tools=[TOOL],
                                tool_choice={"type": "tool", "name": "lookup_asin"},
                                messages=[{"role": "user", "content": "look it up"}]) as stream:
        kinds = {e.type for e in stream}
        final = stream.get_final_message()
    assert "input_json" in kinds  # the SDK saw input_json_delta events
    jsonschema.validate(final.content[0].input, TOOL["input_schema"])
    assert final.stop_reason == "tool_use"


def test_parse_with_a_pydantic_output_format(client):
    msg = client.messages.parse(model=MODEL, max_tokens=500, output_format=Summary,
                                messages=[{"role": "user", "content": "summarise the product"}])
    assert isinstance(msg.parsed_output, Summary)
