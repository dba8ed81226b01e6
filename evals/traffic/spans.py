"""Spans of sensitive text, `(start, end, kind)`, and the two operations every finder needs on them."""

from __future__ import annotations

from collections.abc import Callable

Span = tuple[int, int, str]


def occurrences(text: str, value: str, kind: str) -> list[Span]:
    """Every occurrence of `value` in `text`: plugins report values, not positions."""
    spans: list[Span] = []
    start = text.find(value) if value else -1
    while start >= 0:
        spans.append((start, start + len(value), kind))
        start = text.find(value, start + len(value))
    return spans


def non_overlapping(spans: list[Span], rank: Callable[[str], int]) -> list[Span]:
    """Spans that do not overlap, left to right: of overlapping spans the higher-ranked kind wins, then the longer.

    Ranking lets a credential beat personal data it overlaps (the password in
    a URL's user-info over the `password@host` an email pattern sees there),
    and length lets a whole PEM block beat a token inside it.
    """
    kept: list[Span] = []
    for span in sorted(spans, key=lambda s: (-rank(s[2]), s[0] - s[1], s[0])):
        if all(span[1] <= k[0] or span[0] >= k[1] for k in kept):
            kept.append(span)
    return sorted(kept)
