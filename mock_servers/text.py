"""Token estimates for prompts and generated text for completions.

Rate limiters count prompt tokens before tokenising exactly; the providers document about
four characters per token for English, which is what this estimate uses. A real tokenizer
(tiktoken) would need encoding files fetched at run time, so it is not used here.
"""

from __future__ import annotations

from typing import Any

CHARS_PER_TOKEN = 4
PER_MESSAGE_TOKENS = 3

_WORDS = (
    "the quick model writes a clear answer about this product with useful detail and "
    "notes on size colour price quality battery screen sound warranty delivery and care"
).split()
# One word (with its leading space) is one token of the mock's output.
_TOKENS = [(" " + w) for w in _WORDS]


def estimate_tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def content_text(content: Any) -> str:
    """The text of an OpenAI/Anthropic message content (a string or a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    parts.append(text)
            elif isinstance(part, str):
                parts.append(part)
        return "".join(parts)
    return ""


def estimate_message_tokens(messages: list[Any], system: Any = None) -> int:
    total = PER_MESSAGE_TOKENS
    if system is not None:
        total += estimate_tokens(content_text(system)) + PER_MESSAGE_TOKENS
    for msg in messages:
        if isinstance(msg, dict):
            total += PER_MESSAGE_TOKENS + estimate_tokens(content_text(msg.get("content")))
    return total


def token_pieces(n: int, offset: int = 0) -> list[str]:
    """``n`` output tokens as text pieces (the first without its leading space)."""
    k = len(_TOKENS)
    pieces = [_TOKENS[(offset + i) % k] for i in range(n)]
    if offset == 0 and pieces:
        pieces[0] = pieces[0].lstrip()
    return pieces


def completion_text(n: int) -> str:
    return "".join(token_pieces(n))
