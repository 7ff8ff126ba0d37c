"""Masking keys in every encoding (issue 14.9), and path segments (issue 14.10), as units."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import quote, quote_plus, urlencode

from harness.runner.masking import Masker, basic_parts, encoded_forms
from harness.runner.templates import compile_path

KEY = "CANARY+kp/9d=8c%7b&x y"


def test_every_wire_form_is_masked() -> None:
    mask = Masker([KEY], basic_parts({"Authorization": "Basic " + base64.b64encode(f"alice:{KEY}".encode()).decode()}))
    texts = [
        KEY, quote(KEY, safe=""), re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(KEY, safe="")), quote_plus(KEY), urlencode({"key": KEY}),
        json.dumps(KEY)[1:-1].replace("/", "\\/"), base64.b64encode(KEY.encode()).decode(),
        base64.b64encode(f"{KEY}:".encode()).decode(), base64.b64encode(f"alice:{KEY}".encode()).decode(),
        quote(quote(KEY, safe=""), safe=""), "&lt;" + KEY.replace("&", "&amp;"),
    ]
    for text in texts:
        out = mask(f"echo [{text}] end")
        assert "***" in out and "CANARY" not in out and "kp" not in out.replace("key", ""), (text, out)


def test_forms_are_built_once_and_plain_text_is_left_alone() -> None:
    mask = Masker([KEY])
    assert mask.forms == frozenset(encoded_forms(KEY))  # precomputed on construction
    assert mask("nothing secret here: 200 OK") == "nothing secret here: 200 OK"
    assert Masker([])("x") == "x"


def test_path_values_stay_one_segment_unless_raw() -> None:
    render = compile_path("/items/{{ row.ref }}/x")
    assert render({"row": {"ref": "../../admin"}}) == "/items/..%2F..%2Fadmin/x"
    assert render({"row": {"ref": ".."}}) == "/items/%2E%2E/x"
    assert render({"row": {"ref": "a?b=1#f"}}) == "/items/a%3Fb=1%23f/x"
    assert render({"row": {"ref": 42}}) == "/items/42/x"
    raw = compile_path("/files/{{ row.path | raw }}")
    assert raw({"row": {"path": "a/b/c.pdf"}}) == "/files/a/b/c.pdf"
    blocks = compile_path("/v/{% if row.x %}{{ row.x }}{% endif %}")
    assert blocks({"row": {"x": "a/b"}}) == "/v/a%2Fb"
    assert compile_path("/static")({}) == "/static"
