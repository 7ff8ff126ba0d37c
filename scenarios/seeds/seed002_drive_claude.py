"""Seed 002 as a step function: download a prescription PDF from Drive, then have Claude
Sonnet 4.5 extract its fields.

``call(target, method, path, json=..., query=..., endpoint=...)`` goes through the runner, so
the client-side limits, retries, metrics and cost apply to both calls.

Prompt size. The document's cost, $0.02-0.05 per file at Sonnet 4.5's $3 / $15 per million
tokens with ~270 output tokens ($0.004), means 5,400-15,400 input tokens per file: the PDF's
pages (Claude bills a PDF page as its text plus its image, ~2,400 tokens a page here) and
~400 tokens of instructions. The runner hands a step function a binary body only as its size,
and the mock counts only text blocks as tokens, so the pages are sent as a text block of
``PAGE_TOKENS`` x 4 characters each (the mock's 4 characters a token) instead of a base64
``document`` block. The request then weighs ~10 KB a page, not the ~110 KB a page of base64.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

MODEL = "claude-sonnet-4-5"
MAX_TOKENS = 1024
PAGE_TOKENS = 2400          # tokens Claude bills for one PDF page (text layer + page image)
CHARS_PER_TOKEN = 4         # mock_servers.text.CHARS_PER_TOKEN

INSTRUCTIONS = (
    "You read one scanned medical prescription (printed form, handwritten entries) and return a JSON object with "
    "the keys: patient_name, patient_age, patient_sex, date, doctor_name, doctor_registration_no, clinic, "
    "diagnosis, medicines (a list of {name, strength, form, dose, frequency, duration, instructions}), tests "
    "advised, follow_up_date, notes. Copy names and numbers exactly as written; expand common Latin "
    "abbreviations (od, bd, tds, qid, hs, sos, ac, pc) into plain words in 'frequency'; keep the original in "
    "'instructions'. When a field is illegible put null and add the reason to 'notes'; never guess a medicine "
    "name or a dose. Dates as YYYY-MM-DD. If the document is not a prescription, answer "
    '{"error": "not a prescription"}. Answer with the JSON object only, no prose before or after it. '
) * 2  # ~1,600 characters, ~400 tokens (the real prompt adds field definitions and two examples)

_LINE = "Rx  Tab. Paracetamol 650 mg  1-0-1 x 5 days after food;  Cap. Amoxicillin 500 mg  1-1-1 x 7 days;  "


def page_text(file_id: str, page: int) -> str:
    """One page's worth of text: ``PAGE_TOKENS`` tokens as the mock counts them."""
    head = f"[{file_id} page {page}] "
    n = PAGE_TOKENS * CHARS_PER_TOKEN - len(head)
    return head + (_LINE * (n // len(_LINE) + 1))[:n]


async def process(item: dict[str, Any], call: Callable[..., Awaitable[Any]]) -> dict[str, Any]:
    row = item["row"]
    pdf = await call("drive", "GET", f"/drive/v3/files/{row['file_id']}", query={"alt": "media"},
                     endpoint="download")
    pages = int(row.get("pages") or 1)
    content = [{"type": "text", "text": page_text(row["file_id"], p)} for p in range(1, pages + 1)]
    content.append({"type": "text", "text": INSTRUCTIONS + f"File: {row['name']} ({pdf['bytes']} bytes, {pages} pages)."})
    answer = await call("claude", "POST", "/v1/messages", endpoint="extract", json={
        "model": MODEL,
        "max_tokens": MAX_TOKENS,
        "messages": [{"role": "user", "content": content}],
    })
    usage = answer["usage"]
    return {"pdf_bytes": pdf["bytes"], "pages": pages, "extraction": answer["content"][0]["text"],
            "input_tokens": usage["input_tokens"], "output_tokens": usage["output_tokens"]}
