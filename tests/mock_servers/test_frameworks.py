"""A framework built on the official SDKs, against the mock with only its base URL and a dummy
key changed: LangChain's ``langchain-openai`` (on ``openai``) and ``langchain-anthropic`` (on
``anthropic``). Structured output (``with_structured_output``) gives a model instance, a tool
call round trip (``bind_tools`` -> tool call with schema-valid arguments -> ``ToolMessage`` ->
answer) works, and a 429 is surfaced as the SDK's ``RateLimitError`` with retries off and
waited out by the SDK's own retries (which LangChain's ``max_retries`` sets) with them on.
"""

from __future__ import annotations

import anthropic
import httpx
import jsonschema
import openai
import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field

FAST = ["openai.latency.median=0.02", "openai.latency.p99=0.03", "openai.latency.tokens_per_second=50000",
        "openai.output_tokens.median=20", "openai.output_tokens.p99=40",
        "anthropic.latency.median=0.02", "anthropic.latency.p99=0.03", "anthropic.latency.tokens_per_second=50000",
        "anthropic.output_tokens.median=20", "anthropic.output_tokens.p99=40"]
OPENAI_MODEL = "gpt-4o-mini"
ANTHROPIC_MODEL = "claude-haiku-4-5"


class Product(BaseModel):
    """A product as a batch job extracts it."""

    title: str = Field(description="the product's title")
    price: float = Field(description="price in dollars")
    tags: list[str] = Field(description="a few keywords")


@tool
def get_price(asin: str, marketplace: str) -> float:
    """The current price of a product on a marketplace."""
    return 19.99


@pytest.fixture(autouse=True)
def _no_tracing(monkeypatch):
    """LangSmith tracing stays off: nothing but the mock is ever called."""
    for name in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGSMITH_API_KEY", "LANGCHAIN_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def mock():
    from harness.runner.mockproc import start_mock

    proc = start_mock(["openai", "anthropic"], time_scale=0.01, sets=FAST, seed=11)
    yield proc
    proc.stop()


def _openai(mock, **kw) -> ChatOpenAI:
    return ChatOpenAI(model=OPENAI_MODEL, base_url=mock.url("openai") + "/v1", api_key="sk-langchain",
                      max_retries=kw.pop("max_retries", 0), timeout=20, **kw)


def _anthropic(mock, **kw) -> ChatAnthropic:
    return ChatAnthropic(model=ANTHROPIC_MODEL, base_url=mock.url("anthropic"), api_key="sk-ant-langchain",
                         max_retries=kw.pop("max_retries", 0), timeout=20, max_tokens=200, **kw)


def _schema_args(tool_call: dict) -> None:
    schema = convert_to_openai_tool(get_price)["function"]["parameters"]
    jsonschema.validate(tool_call["args"], schema)


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_openai_structured_output_is_a_model_instance(mock, method) -> None:
    product = _openai(mock).with_structured_output(Product, method=method).invoke("Describe a television.")
    assert isinstance(product, Product) and product.title and isinstance(product.price, float)
    jsonschema.validate(product.model_dump(), Product.model_json_schema())


def test_anthropic_structured_output_is_a_model_instance(mock) -> None:
    product = _anthropic(mock).with_structured_output(Product).invoke("Describe a television.")
    assert isinstance(product, Product) and product.title


@pytest.mark.parametrize("make, choice", [(_openai, "required"), (_anthropic, "any")])
def test_tool_call_round_trip(mock, make, choice) -> None:
    llm = make(mock)
    bound = llm.bind_tools([get_price], tool_choice=choice)
    question = HumanMessage("What does B0088PUEPK cost on amazon.com?")
    first = bound.invoke([question])
    assert len(first.tool_calls) >= 1 and first.tool_calls[0]["name"] == "get_price"
    call = first.tool_calls[0]
    _schema_args(call)
    result = ToolMessage(content=str(get_price.invoke(call["args"])), tool_call_id=call["id"])
    final = llm.bind_tools([get_price]).invoke([question, first, result])  # the tool's answer goes back
    assert final.content and not final.tool_calls


@pytest.mark.parametrize("provider, make, error", [("openai", _openai, openai.RateLimitError),
                                                   ("anthropic", _anthropic, anthropic.RateLimitError)])
def test_a_429_is_surfaced_without_retries_and_waited_out_with_them(mock_server, provider, make, error) -> None:
    # 2 requests a profile minute: one every 0.3 s of wall clock at 0.01, a burst of 2
    mock = mock_server([provider], time_scale=0.01, sets=[s for s in FAST if s.startswith(provider)]
                       + [f"{provider}.limits.requests_per_minute=2"], seed=12)
    eager = make(mock)
    with pytest.raises(error) as info:
        for _ in range(50):  # bounded: the burst of 2 is spent well before
            eager.invoke("hi")
    assert info.value.status_code == 429 and "retry-after" in info.value.response.headers
    patient = make(mock, max_retries=5)
    answers = [patient.invoke("hi") for _ in range(5)]  # the burst is spent: these wait for the refill
    assert all(a.content for a in answers)
    metrics = httpx.get(mock.base_url + "/metrics", timeout=5).text
    rejected = [line for line in metrics.splitlines() if line.startswith("mock_rate_limited_total{")]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in rejected) >= 2  # the eager one's and at least one more
