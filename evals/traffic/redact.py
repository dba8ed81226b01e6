"""Replace personal data and credentials with typed placeholders before anything is written.

`<EMAIL_1>`, `<CARD_1>`, `<SECRET_1>`: the number is per sample, and one value
gets one placeholder everywhere in that sample (prompt, tool results and the
reference answer alike), so a task that asks about an address and an answer
that repeats it still line up after redaction. Numbering restarts in every
sample, so placeholders leak nothing across samples.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

from evals.traffic import credentials, pii
from evals.traffic.spans import Span, non_overlapping, occurrences

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
_MIN_SHARED = 4
"""Values shorter than this are replaced only where found: elsewhere they are more likely chance."""


def label_of(kind: str) -> str:
    return LABELS.get(kind, "SECRET")


def _rank(kind: str) -> int:
    return 0 if kind in LABELS else 1


@lru_cache(maxsize=256)
def find_spans(text: str) -> tuple[Span, ...]:
    """What the finders report in one text, without overlaps.

    Memoised: system prompts and few-shot examples recur in nearly every request,
    and looking a string up costs far less than scanning it again.
    """
    found: list[Span] = []
    for finder in _FINDERS:
        found.extend(finder(text))
    return tuple(non_overlapping(found, _rank) if len(found) > 1 else found)


class _Placeholders:
    """One sample's placeholders: the same value always gets the same one, numbered per type."""

    def __init__(self) -> None:
        self._by_value: dict[tuple[str, str], str] = {}
        self._numbers: Counter[str] = Counter()

    def __call__(self, kind: str, value: str) -> str:
        label = label_of(kind)
        key = (label, pii.canonical(kind, value))
        ph = self._by_value.get(key)
        if ph is None:
            self._numbers[label] += 1
            ph = f"<{label}_{self._numbers[label]}>"
            self._by_value[key] = ph
        return ph


def redact_sample(texts: list[str]) -> tuple[list[str], Counter[str]]:
    """Redact all texts of one sample together, and count what was replaced, by kind.

    A value found in one text is replaced wherever it occurs in the others,
    even where nothing around it gives it away there (a token recognised after
    "Bearer" in the prompt and repeated bare in the answer).
    """
    spans = [list(find_spans(t)) if t else [] for t in texts]
    values = {t[s:e]: kind for t, found in zip(texts, spans) for s, e, kind in found if e - s >= _MIN_SHARED}
    found_kinds: Counter[str] = Counter()
    if not values:
        return texts, found_kinds
    placeholder = _Placeholders()
    out = []
    for text, found in zip(texts, spans):
        found += [span for value, kind in values.items() for span in occurrences(text, value, kind)]
        parts: list[str] = []
        pos = 0
        for start, end, kind in non_overlapping(found, _rank):
            parts.append(text[pos:start])
            parts.append(placeholder(kind, text[start:end]))
            found_kinds[kind] += 1
            pos = end
        parts.append(text[pos:])
        out.append("".join(parts))
    return out, found_kinds
