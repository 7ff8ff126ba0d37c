"""Seed 002 as a Python step function: download a PDF from Drive, then ask Claude about it.

``call(target, method, path, json=..., query=...)`` goes through the runner, so the limits,
retries, metrics and cost apply to both calls.
"""

from typing import Any, Awaitable, Callable


async def process(item: dict[str, Any], call: Callable[..., Awaitable[Any]]) -> dict[str, Any]:
    row = item["row"]
    pdf = await call("drive", "GET", f"/drive/v3/files/{row['file_id']}", query={"alt": "media"},
                     endpoint="download")
    answer = await call("claude", "POST", "/v1/messages", endpoint="extract", json={
        "model": "claude-haiku-4-5",
        "max_tokens": 120,
        "messages": [{"role": "user", "content": f"Extract the prescription of patient {row['patient']} "
                                                  f"from this {pdf['bytes']}-byte PDF."}],
    })
    return {"pdf_bytes": pdf["bytes"], "extraction": answer["content"][0]["text"],
            "cost_tokens": answer["usage"]["input_tokens"] + answer["usage"]["output_tokens"]}
