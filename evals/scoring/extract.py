"""Peel the gradable answer out of a model's free-form output.

Models wrap answers in prose, quotes, Markdown and code fences. The built-in
scorers compare what these pure functions leave, so a right answer is not
failed for its wrapping and a wrong one is not passed for it either.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any, NamedTuple

# Opening mark -> closing mark. `*` covers Markdown bold/italic (`**Paris**`),
# the commonest wrapping of a one-word answer.
_PAIRS = {'"': '"', "'": "'", "`": "`", "\u201c": "\u201d", "\u2018": "\u2019", "\u00ab": "\u00bb", "*": "*"}
_TRAILING = ".,;:!?\u3002"


def normalize(text: str) -> str:
    """Case-fold, unify Unicode forms, collapse whitespace, and strip surrounding
    quotes and trailing punctuation, so `"Paris."` and `paris` compare equal."""
    s = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    previous = None
    while s != previous:
        previous = s
        s = s.rstrip(_TRAILING).strip()
        if len(s) >= 2 and _PAIRS.get(s[0]) == s[-1]:
            s = s[1:-1].strip()
    return s


class Number(NamedTuple):
    """A number as written; `percent` when it carried a `%` sign."""

    value: float
    percent: bool

    def readings(self) -> tuple[float, ...]:
        """What the number may mean: `12%` is 12 or 0.12, depending on how the reference was written."""
        return (self.value, self.value / 100) if self.percent else (self.value,)


_NUMBER = re.compile(
    r"""
    (?<![\w.])                                   # not inside a word, a date or a version string
    (?P<sign>[-+\u2212])?
    (?P<body>\d{1,3}(?:,\d{3})+(?:\.\d+)?        # 1,234.5
            |\d+(?:\.\d+)?                       # 1234.5
            |\.\d+)                              # .5
    (?P<exp>[eE][-+]?\d+)?                       # 1e3
    (?P<percent>\s?%)?
    """,
    re.VERBOSE,
)


def numbers(text: str) -> list[Number]:
    """Every number in `text`, in order of appearance."""
    found = []
    for m in _NUMBER.finditer(text):
        value = float(m["body"].replace(",", "") + (m["exp"] or ""))
        if m["sign"] in ("-", "\u2212"):
            value = -value
        found.append(Number(value, m["percent"] is not None))
    return found


def last_number(text: str) -> Number | None:
    """The last number in `text`: models state their final answer after their working."""
    found = numbers(text)
    return found[-1] if found else None


_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)```", re.DOTALL)


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """Every Markdown code fence in `text`, in order: (language label, body)."""
    return _FENCE.findall(text)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _loads(text: str) -> Any:
    """Strict JSON: Python's extensions (NaN, Infinity) are rejected like any other non-JSON."""
    return json.loads(text, parse_constant=_reject_constant)


def _describe(err: Exception) -> str:
    if isinstance(err, json.JSONDecodeError):
        return f"{err.msg} at line {err.lineno} column {err.colno}"
    if isinstance(err, RecursionError):
        return "nested too deeply"
    return str(err)


_MAX_NESTING = 16
"""Deepest bracket nesting at which an embedded JSON candidate is tried; bounds
the work on degenerate output (a model looping on `[[[[`) to linear time."""


def _bracket_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every balanced `{...}` / `[...]` opened at most
    `_MAX_NESTING` deep, outer before inner, in one pass. Double-quoted strings
    inside brackets are skipped, so a `}` inside a JSON string does not close."""
    closer = {"{": "}", "[": "]"}
    stack: list[tuple[int, str]] = []
    spans = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in closer:
            stack.append((i, closer[ch]))
        elif stack and ch == stack[-1][1]:
            start, _ = stack.pop()
            if len(stack) < _MAX_NESTING:
                spans.append((start, i + 1))
        elif stack and ch == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        i += 1
    return sorted(spans)


def extract_json(text: str) -> tuple[Any, str | None]:
    """The JSON value an output carries, and None; or None and why there is none.

    Tried in order: the whole output; fenced code blocks (```json first, then
    unlabelled or other labels); the first balanced `{...}` or `[...]` that
    parses, inside chatty text (so "[see below]" before the real object is
    passed over). A value of `None` with no error is the JSON literal `null`.
    """
    try:
        return _loads(text.strip()), None
    except (ValueError, RecursionError) as e:
        whole_error = _describe(e)

    fence_error = None
    for _, body in sorted(fenced_blocks(text), key=lambda f: f[0].lower() != "json"):
        try:
            return _loads(body.strip()), None
        except (ValueError, RecursionError) as e:
            fence_error = fence_error or f"fenced block is not valid JSON: {_describe(e)}"

    embedded_error = None
    for start, end in _bracket_spans(text):
        try:
            return _loads(text[start:end]), None
        except (ValueError, RecursionError) as e:
            embedded_error = embedded_error or f"no parseable JSON object or array (first try: {_describe(e)})"

    return None, fence_error or embedded_error or f"no JSON in the output ({whole_error})"
