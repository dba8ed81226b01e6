"""The LLM judge's prompt format, shared by the judge scorers and the simulated judge.

It lives outside `evals.scoring` and `evals.sim` so the simulated server can
read judge prompts without importing the scorers, and so the code that writes
the format and the code that reads it cannot drift apart.

Untrusted text (the candidate answer, and for safety the task and the
reference too) goes into data blocks `<name-NONCE>` ... `</name-NONCE>`,
where NONCE is a hash of the whole request, the candidate's own text included
(`derived_nonce`): an identical judge request gets an identical nonce, so its
stored verdict is reused, yet a candidate cannot name its block's tag without
containing a hash of itself. Anything in it that looks like one of these tags
is defused first (`neutralise`).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from evals.suite.sample import content_text

JUDGE_MARKER = "### workload-evals judge v1"
"""First line of every judge prompt; how the simulated server tells a judge request from a task."""

RUBRIC = "rubric"
PAIRWISE = "pairwise"

TASK = "task"
REFERENCE = "reference"
CANDIDATE = "candidate"
ANSWER_A = "answer-a"
ANSWER_B = "answer-b"
DATA_TAGS = (TASK, REFERENCE, CANDIDATE, ANSWER_A, ANSWER_B)

_NONCE_HEX = 16
_LOOKALIKE = re.compile(r"<(\s*/?\s*(?:" + "|".join(map(re.escape, DATA_TAGS)) + r")\s*-)", re.IGNORECASE)
_MODE = re.compile(r"^mode: (\w+)$", re.MULTILINE)
_USER_HEADER = "[user]\n"


def derived_nonce(*parts: str | None) -> str:
    """A nonce fixed by the request's content (scorer, judge, rubric, sample, candidate, reference),
    so an identical judge request has an identical key and its stored verdict is reused rather
    than paid for again. Still unforgeable: the candidate's own text is hashed into it, so an
    answer would have to contain a hash of itself to name its block's tag."""
    blob = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:_NONCE_HEX]


def neutralise(text: str) -> str:
    """`text` with the `<` of anything resembling a data tag (any case, spacing
    or slash) escaped, so it cannot open or close a block, even a guessed one."""
    return _LOOKALIKE.sub(r"&lt;\1", text)


def wrap(tag: str, nonce: str, text: str) -> str:
    return f"<{tag}-{nonce}>\n{neutralise(text)}\n</{tag}-{nonce}>"


def unwrap(prompt: str, tag: str) -> str | None:
    """The text of the `tag` block of a judge prompt, or None when it has none."""
    m = re.search(rf"<{tag}-([0-9a-f]{{{_NONCE_HEX}}})>\n(.*?)\n</{tag}-\1>", prompt, re.DOTALL)
    return m.group(2) if m else None


_NONCE_LINE = "The data blocks of this message are tagged with the nonce {}."
_NONCE_LINE_RE = re.compile(rf"^The data blocks of this message are tagged with the nonce ([0-9a-f]{{{_NONCE_HEX}}})\.$", re.MULTILINE)


def nonce_line(nonce: str) -> str:
    return _NONCE_LINE.format(nonce)


def read_nonce(prompt: str) -> str | None:
    """The nonce a judge prompt states; a judge's verdict must carry it."""
    m = _NONCE_LINE_RE.search(prompt)
    return m.group(1) if m else None


def mode_line(mode: str) -> str:
    return f"mode: {mode}"


def read_mode(prompt: str) -> str | None:
    m = _MODE.search(prompt)
    return m.group(1) if m else None


def render_conversation(messages: list[dict[str, Any]]) -> str:
    """A sample's chat messages as the judge reads them: `[role]` then the text."""
    return "\n\n".join(f"[{m.get('role', 'user')}]\n{content_text(m.get('content'))}" for m in messages)


def last_user_text(conversation: str) -> str | None:
    """The last user message of a rendered conversation, when it ends the
    conversation (best effort: a message that itself contains a `[user]`
    header line confuses it)."""
    at = ("\n" + conversation).rfind("\n" + _USER_HEADER)
    return None if at < 0 else conversation[at + len(_USER_HEADER) :]
