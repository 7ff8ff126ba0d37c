"""Values built from JSON schemas are valid against them (what tool arguments and structured
outputs rely on), for the shapes pydantic and hand-written tool schemas use."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Literal, Optional, Union

import jsonschema
import pytest
from pydantic import BaseModel, Field

from mock_servers.schema_instance import instance


class Colour(str, Enum):
    black = "black"
    white = "white"


class Variant(BaseModel):
    size: int = Field(ge=24, le=98)
    colour: Colour
    sku: str = Field(min_length=12, max_length=12)


class Product(BaseModel):
    title: str
    released: date
    price: float = Field(gt=0, lt=10)
    tags: list[str] = Field(min_length=2)
    variants: list[Variant]
    parent: Optional["Product"] = None
    kind: Literal["tv", "monitor"]
    extra: Union[int, str]
    ratings: dict[str, float]


HAND_WRITTEN = [
    {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"], "additionalProperties": False},
    {"type": "object", "properties": {"n": {"type": ["integer", "null"], "minimum": 5, "maximum": 9}}},
    {"type": "array", "items": {"enum": [3, 4]}, "minItems": 3, "maxItems": 3},
    {"allOf": [{"type": "object", "properties": {"a": {"const": 1}}, "required": ["a"]},
               {"properties": {"b": {"type": "boolean"}}, "required": ["b"]}]},
    {"type": "string", "format": "email"},
    {"oneOf": [{"type": "null"}, {"type": "number", "exclusiveMinimum": 10}]},
    {},
]


@pytest.mark.parametrize("schema", [Product.model_json_schema(), Variant.model_json_schema(), *HAND_WRITTEN])
def test_instance_is_valid(schema):
    value = instance(schema)
    jsonschema.validate(value, schema)


def test_pydantic_parses_the_instance():
    assert isinstance(Product.model_validate(instance(Product.model_json_schema())), Product)


class TaskList(BaseModel):
    """The shape of a framework's list wrapper (instructor's): its one field is optional."""

    tasks: Optional[list[Variant]] = None


def test_optional_properties_are_filled_near_the_top():
    value = TaskList.model_validate(instance(TaskList.model_json_schema()))
    assert value.tasks and isinstance(value.tasks[0], Variant)  # not an empty wrapper


def test_optional_properties_stop_deep_down_in_a_recursive_schema():
    value = instance(Product.model_json_schema())
    depth = 0
    while isinstance(value, dict) and value.get("parent") is not None:
        value, depth = value["parent"], depth + 1
    assert 0 < depth < 6  # the optional 'parent' is filled, but the recursion ends
