"""A team's own batch script, as seed 000 wrote it: one chat completion per product, through
the official ``openai`` SDK, on a ThreadPoolExecutor of WORKERS threads.

    OPENAI_API_KEY=... python enrich_products.py products.jsonl out.jsonl

It knows nothing about the harness: the tests (test_enrich_products.py) point ``base_url`` at
the harness's mock and check that no product is lost under 429s and 5xx, and that it does not
get slower.
"""

from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Iterable

import openai

WORKERS = int(os.environ.get("ENRICH_WORKERS", "10"))
MODEL = "gpt-5-nano"
PROMPT = ("Fill the Shopify metafields of this television (screen size, resolution, panel type, "
          "refresh rate, HDR formats) as one JSON object, from its title and description:\n{title}\n{description}")


@dataclass
class Enriched:
    id: str
    metafields: str
    tokens: int
    seconds: float  # how long this product took, retries included


def client(base_url: str | None = None, api_key: str | None = None) -> openai.OpenAI:
    # the SDK retries 429s and 5xx itself, honouring retry-after(-ms); enough attempts that a
    # busy minute does not lose a product
    return openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=10, timeout=120)


def enrich_one(oa: openai.OpenAI, product: dict[str, Any], rounds: int = 6) -> Enriched:
    t0 = time.monotonic()
    for attempt in range(rounds):
        try:
            answer = oa.chat.completions.create(
                model=MODEL, max_completion_tokens=300,
                messages=[{"role": "user", "content": PROMPT.format(**product)}],
            )
            break
        except (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError):
            # the SDK's own retries are spent: threads that keep losing the race for a freed
            # request slot get another round after a pause, rather than a lost product
            if attempt == rounds - 1:
                raise
            time.sleep(0.05 * 2 ** attempt)
    return Enriched(product["id"], answer.choices[0].message.content or "", answer.usage.total_tokens,
                    time.monotonic() - t0)


def enrich(products: Iterable[dict[str, Any]], base_url: str | None = None, api_key: str | None = None,
           workers: int | None = None) -> list[Enriched]:
    """Every product through the model, WORKERS at a time; results in input order."""
    oa = client(base_url, api_key)
    with ThreadPoolExecutor(max_workers=workers or WORKERS) as pool:
        return list(pool.map(lambda p: enrich_one(oa, p), products))


def main(argv: list[str]) -> None:
    src, dst = argv[1], argv[2]
    with open(src) as f:
        products = [json.loads(line) for line in f if line.strip()]
    with open(dst, "w") as out:
        for e in enrich(products):
            out.write(json.dumps(e.__dict__) + "\n")


if __name__ == "__main__":
    main(sys.argv)
