"""What readers yield: one usable request (`Record`) or one line that could not be used (`Skip`).

Readers never raise on bad input; they yield a `Skip` saying where and why, so
one broken line costs one line, and the importer decides when too many broken
lines mean the file itself is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

ReferenceStatus = Literal["ok", "error", "truncated", "refused", "missing"]
"""What the logged response is worth as a reference: only `ok` is a complete answer."""


@dataclass(slots=True)
class Record:
    """One logged request in canonical form, as read (the importer redacts it in place)."""

    messages: list[dict[str, Any]]
    """Chat messages, OpenAI-style: {role, content} plus tool_calls / tool_call_id where logged."""
    reference: str | None = None
    """The logged answer's text (or its tool calls as JSON when it made no text)."""
    reference_status: ReferenceStatus = "missing"
    reference_kind: Literal["text", "tool_calls"] | None = None
    reference_model: str | None = None
    """Which model produced the logged answer."""
    timestamp: float | None = None
    """Unix epoch seconds (UTC)."""
    input_tokens: int | None = None
    """As the server reported them; None when the log has no usage."""
    output_tokens: int | None = None
    category: str | None = None
    """The raw value of the category field, when the source has one."""
    source_id: str | None = None
    tools: str | None = None
    """Tool definitions sent with the request, OpenAI function shape, as JSON text (redaction reads it as text)."""
    tool_choice: str | dict[str, Any] | None = None
    """auto / none / required, or {type: function, function: {name}}."""
    response_format: dict[str, Any] | None = None
    """{type: json_object} or {type: json_schema, json_schema: {name, schema}}."""
    settings: dict[str, Any] | None = None
    """The request's own generation settings (max_tokens, stop, temperature, top_p, seed, parallel_tool_calls)."""
    metadata: dict[str, Any] | None = None
    """The request's own `metadata` object as logged (tags a client attached: feature, ticket, unit tests)."""
    images: dict[int, tuple[list[dict[str, Any]], list[dict[str, Any]]]] | None = None
    """Image parts of the input, OpenAI `image_url` shape, by index in `messages`: (those before the
    message's text, those after it). Kept apart so that categorising, redaction and deduplication read
    text only; the sample puts them back in place."""
    non_text_parts: int = 0
    """Audio, files and other parts in the input that a sample cannot carry."""
    line: int = 0
    """Line (or row) of its file: `metadata.source` traces a sample back to it."""


@dataclass(frozen=True, slots=True)
class Skip:
    """A line or row that was not used, and why (the reason never quotes the line: it may hold PII)."""

    line: int
    reason: str
