"""Replace personal data and credentials with typed placeholders before anything is written.

`<EMAIL_1>`, `<CARD_1>`, `<SECRET_1>`: the number is per sample, and one value
gets one placeholder everywhere in that sample (prompt, tool results and the
reference answer alike), so a task that asks about an address and an answer
that repeats it still line up after redaction. Numbering restarts in every
sample, so placeholders leak nothing across samples.
"""

from __future__ import annotations

from collections import Counter

from evals.traffic import credentials, pii
from evals.traffic.pii import Span

LABELS: dict[str, str] = {
    "email": "EMAIL",
    "phone": "PHONE",
    "card": "CARD",
    "iban": "IBAN",
    "ipv4": "IP",
    "ipv6": "IP",
    "ssn": "SSN",
}
"""Kinds of personal data and their placeholder label; every other kind is a credential: SECRET."""

_FINDERS = pii.FINDERS + credentials.FINDERS


def label_of(kind: str) -> str:
    return LABELS.get(kind, "SECRET")


def find_spans(text: str) -> list[Span]:
    """Non-overlapping findings, left to right; where two overlap the longer wins (a JWT over the bearer word)."""
    found: list[Span] = []
    for finder in _FINDERS:
        found.extend(finder(text))
    if len(found) < 2:
        return found
    found.sort(key=lambda s: (s[0], s[0] - s[1]))
    kept: list[Span] = []
    for span in found:
        if kept and span[0] < kept[-1][1]:
            if span[1] - span[0] > kept[-1][1] - kept[-1][0]:
                kept[-1] = span
            continue
        kept.append(span)
    return kept


class SampleRedaction:
    """Placeholders for one sample: the same value always maps to the same placeholder."""

    def __init__(self) -> None:
        self._placeholders: dict[tuple[str, str], str] = {}
        self._numbers: Counter[str] = Counter()
        self.found: Counter[str] = Counter()
        """Occurrences replaced in this sample, by kind."""

    def __call__(self, text: str) -> str:
        if not text:
            return text
        spans = find_spans(text)
        if not spans:
            return text
        out: list[str] = []
        pos = 0
        for start, end, kind in spans:
            out.append(text[pos:start])
            out.append(self._placeholder(kind, text[start:end]))
            self.found[kind] += 1
            pos = end
        out.append(text[pos:])
        return "".join(out)

    def _placeholder(self, kind: str, value: str) -> str:
        label = label_of(kind)
        key = (label, pii.canonical(kind, value))
        ph = self._placeholders.get(key)
        if ph is None:
            self._numbers[label] += 1
            ph = f"<{label}_{self._numbers[label]}>"
            self._placeholders[key] = ph
        return ph
