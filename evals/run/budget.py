"""A dollar budget that stops new requests before it would be exceeded.

Each attempt reserves its worst case (an upper bound on its input tokens plus
max_tokens of output) before it is sent and settles to the real cost
afterwards, so the concurrent requests in flight can never overshoot the limit
together.
"""

from __future__ import annotations

import json
from typing import Any

FRAMING_TOKENS = 64
"""Tokens a chat template may add around the whole conversation (BOS, a default
system preamble, the assistant header the reply starts from)."""


def worst_case_input_tokens(messages: list[Any]) -> int:
    """An upper bound on a request's input tokens, from the UTF-8 bytes of its messages.

    Why bytes: byte-level BPE tokenisers (GPT's tiktoken, Llama 3, Qwen,
    Mistral's tekken) and SentencePiece with byte fallback never make a token
    out of less than one byte of text, so n bytes are at most n tokens. A
    characters-per-token guess does not hold: a CJK character is 3 bytes and
    often 1 or 2 tokens, which overshot a "2 characters per token" budget by
    24%. The messages are measured as JSON, so each message's role and
    structure add about 30 bytes, more than the 3 to 10 tokens a chat
    template puts around a message; FRAMING_TOKENS covers the rest. Images
    and other parts count by their encoded size: a large over-estimate, on the
    safe side. A tokeniser that can emit more tokens than bytes would break
    the bound; none of the above can."""
    return len(json.dumps(messages, ensure_ascii=False).encode("utf-8")) + FRAMING_TOKENS


class Budget:
    def __init__(self, limit_usd: float | None) -> None:
        self.limit_usd = limit_usd
        self.spent_usd = 0.0
        self.reserved_usd = 0.0
        self.exhausted = False

    def try_reserve(self, worst_case_usd: float) -> bool:
        if self.limit_usd is None:
            return True
        if self.spent_usd + self.reserved_usd + worst_case_usd > self.limit_usd:
            self.exhausted = True
            return False
        self.reserved_usd += worst_case_usd
        return True

    def settle(self, reserved_usd: float, actual_usd: float) -> None:
        if self.limit_usd is not None:
            self.reserved_usd -= reserved_usd
        self.spent_usd += actual_usd
