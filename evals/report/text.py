"""Text shown to readers: long texts cut to a size a page can hold, and money as people read it."""

from __future__ import annotations

import math


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, with a note of how many were cut."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit:,} more chars)"


def fmt_usd(x: float | None) -> str:
    """Dollars with cents above $1, and up to three significant digits below (tasks cost fractions of a cent)."""
    if x is None:
        return "—"
    if x == 0 or abs(x) >= 1:
        return f"${x:,.2f}"
    digits = f"{x:.{2 - math.floor(math.log10(abs(x)))}f}".rstrip("0")
    return f"${digits:0<{digits.index('.') + 3}}"
