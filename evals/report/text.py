"""Long texts cut to a size a page can hold, saying how much was cut."""

from __future__ import annotations


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, with a note of how many were cut."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit:,} more chars)"
