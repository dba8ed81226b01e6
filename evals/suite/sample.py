"""The Sample schema: one task of a suite."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Sample(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    """Stable across runs; a content hash when the source has none."""
    input: list[dict[str, Any]]
    """Chat messages ({role, content})."""
    reference: Any = None
    """Expected answer: a string, or structured data (labels, JSON, unit tests)."""
    category: str = "all"
    metadata: dict[str, Any] = Field(default_factory=dict)
    scorers: list[dict[str, Any]] | None = None
    """Per-sample scorer settings, merged over the suite's scorer args by name."""


def content_id(messages: list[dict[str, Any]]) -> str:
    blob = json.dumps(messages, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def content_text(content: Any) -> str:
    """The text of a message's content: a string, or a list of blocks whose text
    blocks are joined by newlines (images and other blocks carry no text here)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = (b.get("text") for b in content if isinstance(b, dict) and b.get("type", "text") == "text")
        return "\n".join(t for t in texts if isinstance(t, str))
    return ""
