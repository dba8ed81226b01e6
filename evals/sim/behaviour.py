"""What a simulated model says, how long it takes, and when it fails: pure functions.

Everything here is deterministic so that a simulated run is reproducible: the
answer to a sample depends only on (seed, model, sample id), never on timing or
on how often the request was retried. Only the fault draw consumes a per-model
RNG, so a retried request can succeed where its first attempt failed.

The work that does not depend on the request (rendering references, choosing
each sample's wrong answer) happens once, in `index_samples`, so that serving a
request costs a dict lookup and one short hash.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from evals import judge_protocol as jp
from evals.config import SimBehaviour
from evals.scoring.structure import reference_calls
from evals.suite.sample import Sample, content_text, tool_names

UNKNOWN_ANSWER = "I'm not sure."
"""What a simulated model says to a prompt that is not in its samples (or has no reference)."""

JUDGE_NONSENSE = "I think it's fine."
"""What a simulated judge says instead of a verdict when it misbehaves (accuracy["judge"] < 1)."""

MAX_CHUNKS = 16
"""Upper bound on streamed content chunks per response; keeps the server cheap on CPU."""

Outcome = Literal["ok", "rate_limited", "error", "dropped", "stalled"]

# Each piece is one token together with the whitespace before it, so the pieces
# of a text concatenate back to exactly that text (trailing whitespace is a piece
# of its own). Counting pieces counts words and punctuation marks.
_PIECE = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")
_TOP_LEVEL_DEF = re.compile(r"^def [^\n]*:[ \t]*$", re.MULTILINE)


# ---------------------------------------------------------------- tokens


@lru_cache(maxsize=8192)
def tokenise(text: str) -> tuple[str, ...]:
    """Split an answer into the pieces that are streamed and counted as output tokens.

    Cached because answers come from a small fixed set (one right and one wrong
    answer per sample), so each is split once per server.
    """
    return tuple(_PIECE.findall(text))


def count_tokens(text: str) -> int:
    """Tokens in a prompt text, by the same rule as `tokenise`."""
    return len(_PIECE.findall(text))


def last_user_text(messages: Iterable[Any]) -> str | None:
    """Text of the last user message, which is what identifies a sample. An Anthropic user turn
    that only carries tool results is the protocol's form of OpenAI's tool messages: it is skipped."""
    text = None
    for m in messages:
        if isinstance(m, dict) and m.get("role") == "user":
            content = m.get("content")
            if isinstance(content, list) and content and all(isinstance(b, dict) and b.get("type") == "tool_result" for b in content):
                continue
            text = content_text(content)
    return text


def prompt_tokens(messages: Iterable[Any], system: Any = None) -> int:
    """Input tokens of a request: the text of every message plus the system prompt."""
    total = count_tokens(content_text(system)) if system is not None else 0
    for m in messages:
        if isinstance(m, dict):
            total += count_tokens(content_text(m.get("content")))
    return total


def chunk_bounds(n_tokens: int, max_chunks: int = MAX_CHUNKS) -> tuple[tuple[int, int], ...]:
    """Token ranges of the streamed chunks: the first token alone (its arrival is
    the time to first token), then the rest in at most `max_chunks - 1` groups."""
    if n_tokens == 0:
        return ()
    rest = n_tokens - 1
    groups = min(max_chunks - 1, rest)
    bounds = [(0, 1)]
    bounds.extend((1 + i * rest // groups, 1 + (i + 1) * rest // groups) for i in range(groups))
    return tuple(bounds)


def due_s(behaviour: SimBehaviour, token_index: int) -> float:
    """Seconds after the request arrived at which token `token_index` (0-based) is
    produced: the first after ttft, the others at tokens_per_second."""
    return behaviour.ttft_ms / 1000.0 + token_index / behaviour.tokens_per_second


# ---------------------------------------------------------------- faults


def draw_fault(rng: random.Random, behaviour: SimBehaviour) -> Outcome:
    """One draw per request decides its fate. Exactly one number is drawn whatever
    the rates, so a model's sequence of outcomes depends only on its seed."""
    u = rng.random()
    rates: tuple[tuple[Outcome, float], ...] = (
        ("rate_limited", behaviour.rate_limit_rate),
        ("error", behaviour.error_rate),
        ("dropped", behaviour.drop_rate),
        ("stalled", behaviour.stall_rate),
    )
    for outcome, rate in rates:
        if u < rate:
            return outcome
        u -= rate
    return "ok"


def unit_draw(*parts: object) -> float:
    """A uniform number in [0, 1) fixed by `parts`; stable across processes and
    Python versions (unlike `hash`)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


# ---------------------------------------------------------------- answers


def is_code_reference(reference: Any) -> bool:
    """Code tasks carry a dict reference with unit tests (and the solution)."""
    return isinstance(reference, dict) and "tests" in reference


def _fence(code: str) -> str:
    return f"```python\n{code.strip(chr(10))}\n```"


def render_reference(reference: Any) -> str:
    """The text a model answers with when it is right."""
    if reference is None:
        return UNKNOWN_ANSWER
    if isinstance(reference, str):
        return reference
    if is_code_reference(reference):
        return _fence(str(reference.get("solution", "")))
    return json.dumps(reference, separators=(",", ":"), ensure_ascii=False)


def _returns_none(solution: str) -> str:
    """Every top-level function of `solution`, with a body that returns None: code
    that runs, so its tests fail on the answer rather than on a syntax error."""
    heads = _TOP_LEVEL_DEF.findall(solution) or ["def solution(*args, **kwargs):"]
    return "\n\n".join(f"{h.rstrip()}\n    return None" for h in heads)


def _perturb(value: Any, u: float) -> Any:
    """`value` with one field changed: the kind of slip a model makes when it
    extracts almost all of a record right."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, dict) and value:
        key = list(value)[int(u * len(value))]
        return {**value, key: _perturb(value[key], u)}
    if isinstance(value, list) and value:
        return value[:-1]
    return "N/A" if value != "N/A" else None


def _drop_words(text: str) -> str:
    words = text.split()
    shorter = " ".join(words[: len(words) // 2])
    return shorter if shorter and shorter != text else UNKNOWN_ANSWER


@dataclass(frozen=True)
class Answers:
    """A sample's two possible answers, rendered once; for a sample whose reference is
    tool calls (and which has tools), the two possible sets of calls too."""

    category: str
    right: str
    wrong: str
    right_calls: tuple[Call, ...] = ()
    wrong_calls: tuple[Call, ...] = ()


@dataclass(frozen=True)
class Call:
    """One simulated tool call: the function's name and its arguments as JSON text."""

    name: str
    arguments: str


def _calls(reference: Any) -> tuple[Call, ...]:
    out = []
    for c in reference_calls(reference) or ():
        args = c.get("arguments")
        out.append(Call(str(c["name"]), args if isinstance(args, str) else json.dumps(args or {}, ensure_ascii=False)))
    return tuple(out)


def _wrong_calls(right: tuple[Call, ...], tool_names: list[str], u: float) -> tuple[Call, ...]:
    """The slip a model makes: the wrong tool (when there is another), or one argument changed."""
    first, rest = right[0], right[1:]
    others = [n for n in tool_names if n != first.name]
    if others and u < 0.5:
        return (Call(others[int(u * 2 * len(others)) % len(others)], first.arguments), *rest)
    try:
        args = json.loads(first.arguments)
    except ValueError:
        args = None
    changed = _perturb(args, u) if isinstance(args, dict) and args else {"unexpected": True}
    return (Call(first.name, json.dumps(changed, ensure_ascii=False)), *rest)


@dataclass(frozen=True)
class SampleIndex:
    """Samples by the text of their last user message; the first sample wins when
    two share it."""

    by_prompt: dict[str, tuple[str, Answers]]
    """Last user text -> (sample id, answers)."""


def index_samples(samples: Iterable[Sample]) -> SampleIndex:
    """Precompute every sample's right and wrong answer."""
    kept: dict[str, Sample] = {}
    for s in samples:
        text = last_user_text(s.input)
        if text is not None and text not in kept:
            kept[text] = s

    # Distinct rendered plain references (labels, short answers, numbers, lists)
    # per category: a wrong answer to one is another one of them.
    peers: dict[str, dict[str, int]] = {}
    for s in kept.values():
        if s.reference is not None and not isinstance(s.reference, dict):
            pos = peers.setdefault(s.category, {})
            pos.setdefault(render_reference(s.reference), len(pos))
    peer_lists = {c: list(pos) for c, pos in peers.items()}

    def wrong(s: Sample, right: str) -> str:
        ref, u = s.reference, unit_draw("wrong", s.id)
        if ref is None:
            return UNKNOWN_ANSWER
        if is_code_reference(ref):
            if "wrong_solution" in ref:
                return _fence(str(ref["wrong_solution"]))
            return _fence(_returns_none(str(ref.get("solution", ""))))
        if isinstance(ref, dict):
            return render_reference(_perturb(ref, u))
        others = peer_lists[s.category]
        if len(others) < 2:
            return _drop_words(right)
        own = peers[s.category][right]
        j = int(u * (len(others) - 1))
        return others[j if j < own else j + 1]

    by_prompt: dict[str, tuple[str, Answers]] = {}
    for text, s in kept.items():
        right = render_reference(s.reference)
        calls = _calls(s.reference) if s.tools else ()
        wrong_calls = _wrong_calls(calls, tool_names(s.tools), unit_draw("wrong", s.id)) if calls else ()
        by_prompt[text] = (s.id, Answers(s.category, right, wrong(s, right), calls, wrong_calls))
    return SampleIndex(by_prompt)


def choose_answer(index: SampleIndex, behaviour: SimBehaviour, model: str, prompt: str | None, tools: bool = False, draw: int | None = None) -> str | tuple[Call, ...]:
    """The answer `model` gives to the sample whose last user text is `prompt`:
    its text, or, when the request offered tools and the sample's reference is
    tool calls, those calls.

    Right with probability accuracy[category] (else accuracy["default"], else 1),
    decided by (seed, model, sample id) alone, so the same request always gets
    the same answer; except on the share `flakiness` of samples when the request
    samples (`draw` is the how-manieth such request for this sample, None for a
    greedy one), where each draw is decided afresh at the same probability.
    """
    found = index.by_prompt.get(prompt) if prompt is not None else None
    if found is None:
        if prompt is not None and prompt.startswith(jp.JUDGE_MARKER):
            return judge_verdict(index, behaviour, model, prompt)
        return UNKNOWN_ANSWER
    sample_id, answers = found
    acc = behaviour.accuracy
    p = acc.get(answers.category, acc.get("default", 1.0))
    flaky = draw is not None and behaviour.flakiness > 0 and unit_draw("flaky", behaviour.seed, model, sample_id) < behaviour.flakiness
    right = (unit_draw(behaviour.seed, model, sample_id, draw) if flaky else unit_draw(behaviour.seed, model, sample_id)) < p
    if tools and answers.right_calls:
        calls = answers.right_calls if right else answers.wrong_calls
        if "tool_calls_as_text" in behaviour.quirks:
            # What a server started without the right --tool-call-parser returns: the template's markup as text.
            return "".join(f'<tool_call>\n{{"name": {json.dumps(c.name)}, "arguments": {c.arguments}}}\n</tool_call>' for c in calls)
        return calls
    return answers.right if right else answers.wrong


# ---------------------------------------------------------------- the simulated judge

_WORD = re.compile(r"\w+")


def closeness(answer: str, reference: str) -> float:
    """How close an answer is to the reference, in [0, 1]: 1 when it holds the
    reference's words in order, else the Jaccard overlap of their word sets.
    Cheap and deterministic, which is all a simulated judge needs."""
    a, r = _WORD.findall(answer.casefold()), _WORD.findall(reference.casefold())
    if not r:
        return float(answer.strip() == reference.strip())
    if f" {' '.join(r)} " in f" {' '.join(a)} ":
        return 1.0
    sa, sr = set(a), set(r)
    return len(sa & sr) / len(sa | sr)


def judge_verdict(index: SampleIndex, behaviour: SimBehaviour, model: str, prompt: str) -> str:
    """A simulated judge's reply to a judge prompt (see evals.judge_protocol).

    It grades only what is inside the prompt's data blocks, against the
    reference block or else the answer it knows for the task's sample.
    Rubric: {"score": closeness, "reason"}. Pairwise: the answer closer to the
    known answer wins; when both are equally close it picks A, the position
    bias real judges show, which asking both orders cancels. With probability
    1 - accuracy["judge"] (default 1), decided by the graded content alone, it
    answers JUDGE_NONSENSE instead of a verdict.
    """
    mode = jp.read_mode(prompt)
    blocks: tuple[str | None, ...]
    if mode == jp.PAIRWISE:
        blocks = (jp.unwrap(prompt, jp.ANSWER_A), jp.unwrap(prompt, jp.ANSWER_B))
    elif mode == jp.RUBRIC:
        blocks = (jp.unwrap(prompt, jp.CANDIDATE),)
    else:
        return JUDGE_NONSENSE
    question = jp.last_user_text(jp.unwrap(prompt, jp.TASK) or "")
    known = index.by_prompt.get(question) if question is not None else None
    reference = jp.unwrap(prompt, jp.REFERENCE) if mode == jp.RUBRIC else None
    reference = reference or (known[1].right if known else None)
    graded = (mode, *blocks, reference)
    if None in blocks or unit_draw(behaviour.seed, model, *graded) >= behaviour.accuracy.get("judge", 1.0):
        return JUDGE_NONSENSE
    verdict: dict[str, Any]
    if reference is None:
        verdict = {"winner": "tie"} if mode == jp.PAIRWISE else {"score": 0.5}
        verdict["reason"] = "no reference answer known for this task"
    elif mode == jp.PAIRWISE:
        ca, cb = (closeness(text or "", reference) for text in blocks)
        verdict = {"winner": "A" if ca >= cb else "B", "reason": f"closeness to the reference: A {ca:.2f}, B {cb:.2f}"}
    else:
        value = closeness(blocks[0] or "", reference)
        verdict = {"score": round(value, 3), "reason": f"closeness to the reference {value:.2f}"}
    verdict["nonce"] = jp.read_nonce(prompt)
    return json.dumps(verdict)
