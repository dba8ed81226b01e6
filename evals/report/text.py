"""Text shown to readers: long texts cut to a size a page can hold, and numbers as people read them.

One place formats money and small numbers for the terminal, the report, its charts, JUnit and
summary.md, so a figure reads the same everywhere: thousands separators, cents above a dollar, and
never scientific notation (`$8.63713e-05` or a `1e-05` p-value reads as noise to most people).
"""

from __future__ import annotations

import math


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, with a note of how many were cut.

    The cut falls at a line end when one is near the limit, so code is not
    left with half a line that reads like a bug in the answer.
    """
    if len(text) <= limit:
        return text
    end = text.rfind("\n", limit * 4 // 5, limit)
    end = limit if end < 0 else end
    return f"{text[:end]}… ({len(text) - end:,} more chars)"


def fmt_usd(x: float | None) -> str:
    """Dollars with cents above $1, and up to three significant digits below (tasks cost fractions of a cent)."""
    if x is None:
        return "—"
    if x == 0 or abs(x) >= 1:
        return f"${x:,.2f}"
    digits = f"{x:.{2 - math.floor(math.log10(abs(x)))}f}".rstrip("0")
    return f"${digits:0<{digits.index('.') + 3}}"


def fmt_sig(x: float | None, significant: int = 3) -> str:
    """A plain number to a few significant digits, positional (0.0000123, 12,300), never `1.23e-05`."""
    if x is None:
        return "—"
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    decimals = max(0, significant - 1 - math.floor(math.log10(abs(x))))
    text = f"{x:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_p(p: float | None) -> str:
    """A p-value: three significant digits, and `< 0.0001` below that, where more digits say nothing more."""
    if p is None:
        return "—"
    return "< 0.0001" if p < 0.0001 else fmt_sig(p)


def fmt_points(x: float) -> str:
    """A margin or tolerance in percentage points (0.05 -> `5`), as `%g` would print it but never in exponent form."""
    return fmt_sig(100 * x, 4)
