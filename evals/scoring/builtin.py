"""The built-in scorers: exact, contains, regex, numeric, label, json_valid,
json_schema and similarity.

Each factory checks its suite.yaml settings once, when the suite is loaded,
and raises a ValueError naming the scorer and the argument, so a typo fails
before any model is paid for. Grading itself never raises on bad data: a
sample whose reference is missing or unusable gets a Score with `error` set,
which never counts as a pass.

A reference that is a list of strings lists acceptable alternatives for the
text scorers (exact, contains, similarity), as question-answering sets with
answer aliases do.
"""

from __future__ import annotations

import math
import re
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from sacrebleu.metrics import BLEU, CHRF

from evals.providers.base import Completion
from evals.scoring.base import Score, ScoreFn, scorer
from evals.scoring.extract import Number, extract_json, last_number
from evals.scoring.extract import normalize as normalize_text
from evals.scoring.structure import reference_calls
from evals.suite.sample import Sample

# ---------------------------------------------------------------- shared helpers


def _bad_arg(name: str, arg: str, why: str) -> ValueError:
    return ValueError(f"scorer {name!r}: argument `{arg}`: {why}")


def _ungradable(name: str, why: str, **details: Any) -> Score:
    """The sample cannot be graded (bad or missing reference): an error, never a pass."""
    return Score(value=0.0, passed=False, explanation=why, error=f"{name}: {why}", details=details)


def _verdict(ok: bool, explanation: str, **details: Any) -> Score:
    return Score(value=float(ok), passed=ok, explanation=explanation, details=details)


def _clip(text: str, limit: int = 80) -> str:
    """Short enough for an explanation line in a report table."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_bool(name: str, arg: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise _bad_arg(name, arg, f"must be true or false, got {v!r}")
    return v


def _check_number(name: str, arg: str, v: Any, lo: float, hi: float = math.inf) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
        bounds = f"at least {lo}" if hi == math.inf else f"between {lo} and {hi}"
        raise _bad_arg(name, arg, f"must be a number {bounds}, got {v!r}")
    return float(v)


def _check_strings(name: str, arg: str, v: Any) -> list[str]:
    if not isinstance(v, list) or not v or not all(isinstance(x, str) and x for x in v):
        raise _bad_arg(name, arg, f"must be a non-empty list of non-empty strings, got {v!r}")
    return v


def _reference_texts(reference: Any) -> list[str] | None:
    """The acceptable answers a reference names, or None when it names none a text scorer can use."""
    if isinstance(reference, str):
        return [reference]
    if isinstance(reference, (int, float)):
        return [str(reference)]
    if isinstance(reference, list) and reference and all(isinstance(r, str) for r in reference):
        return reference
    return None


def _no_text_reference(name: str, reference: Any) -> Score:
    if reference is None:
        return _ungradable(name, "sample has no reference")
    return _ungradable(name, f"reference must be a string or a list of strings, got {type(reference).__name__}")


# ---------------------------------------------------------------- exact, contains, regex


@scorer("exact")
def exact(normalize: bool = True) -> ScoreFn:
    """The output equals the reference (or one of its alternatives); with
    `normalize`, after case-folding, whitespace collapsing and stripping of
    quotes and trailing punctuation."""
    use_norm = _check_bool("exact", "normalize", normalize)
    prepare = normalize_text if use_norm else (lambda s: s)

    async def score(output: str, sample: Sample) -> Score:
        refs = _reference_texts(sample.reference)
        if refs is None:
            return _no_text_reference("exact", sample.reference)
        got = prepare(output)
        ok = any(prepare(r) == got for r in refs)
        why = "matches the reference" if ok else f"expected {_clip(refs[0])!r}, got {_clip(output)!r}"
        return _verdict(ok, why, expected=refs if len(refs) > 1 else refs[0], got=_clip(output, 200))

    return score


@scorer("contains")
def contains(all: list[str] | None = None, any: list[str] | None = None, case_sensitive: bool = False) -> ScoreFn:
    """Required phrases (`all`), alternatives (`any`, one suffices), or, with
    neither, the reference (or one of its alternatives) appear in the output.

    Whitespace runs count as one space on both sides, so a line break in the
    output does not hide a phrase. The value is the share of checks met: one
    per `all` phrase, plus one for the `any` group (or for the reference).
    """
    required = _check_strings("contains", "all", all) if all is not None else []
    alternatives = _check_strings("contains", "any", any) if any is not None else []
    sensitive = _check_bool("contains", "case_sensitive", case_sensitive)

    def prep(s: str) -> str:
        s = " ".join(s.split())
        return s if sensitive else s.casefold()

    async def score(output: str, sample: Sample) -> Score:
        options = alternatives
        if not required and not alternatives:
            refs = _reference_texts(sample.reference)
            if refs is None:
                return _no_text_reference("contains", sample.reference)
            options = refs
        text = prep(output)
        missing = [p for p in required if prep(p) not in text]
        found = [o for o in options if prep(o) in text]
        any_ok = not options or bool(found)
        checks = len(required) + (1 if options else 0)
        met = len(required) - len(missing) + (1 if options and any_ok else 0)
        problems = [f"missing {_clip(p, 40)!r}" for p in missing]
        if not any_ok:
            problems.append("none of " + ", ".join(repr(_clip(o, 40)) for o in options[:5]) + " found")
        ok = not problems
        return Score(
            value=met / checks,
            passed=ok,
            explanation="all found" if ok else "; ".join(problems),
            details={"missing": missing, "found": found},
        )

    return score


_REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}


@scorer("regex")
def regex(pattern: str, flags: str = "", fullmatch: bool = False) -> ScoreFn:
    """The output matches `pattern` (searched anywhere, or, with `fullmatch`,
    the whole output once surrounding whitespace is stripped)."""
    if not isinstance(flags, str) or set(flags) - set(_REGEX_FLAGS):
        raise _bad_arg("regex", "flags", f"letters from i, m, s only, got {flags!r}")
    if not isinstance(pattern, str):
        raise _bad_arg("regex", "pattern", f"must be a string, got {pattern!r}")
    whole = _check_bool("regex", "fullmatch", fullmatch)
    bits = 0
    for letter in flags:
        bits |= _REGEX_FLAGS[letter]
    try:
        compiled = re.compile(pattern, bits)
    except re.error as e:
        raise _bad_arg("regex", "pattern", f"invalid regular expression {pattern!r}: {e}") from None

    async def score(output: str, sample: Sample) -> Score:
        m = compiled.fullmatch(output.strip()) if whole else compiled.search(output)
        if m is None:
            how = "does not fully match" if whole else "no match for"
            return _verdict(False, f"{how} /{_clip(pattern, 60)}/", match=None)
        return _verdict(True, f"matched {_clip(m.group(0), 60)!r}", match=_clip(m.group(0), 200))

    return score


# ---------------------------------------------------------------- numeric


def _reference_number(reference: Any) -> Number | None:
    if isinstance(reference, (int, float)) and not isinstance(reference, bool):
        return Number(float(reference), False)
    if isinstance(reference, str):
        return last_number(reference)
    return None


@scorer("numeric")
def numeric(abs_tol: float = 0.0, rel_tol: float = 0.01) -> ScoreFn:
    """The last number in the output is within tolerance of the reference:
    |got - expected| <= max(abs_tol, rel_tol * |expected|).

    The last number, because models give their working before the answer.
    A percentage is read both ways (12% is 12 or 0.12), on either side, since
    a reference of 0.12 and an answer of 12% say the same thing.
    """
    a_tol = _check_number("numeric", "abs_tol", abs_tol, 0.0)
    r_tol = _check_number("numeric", "rel_tol", rel_tol, 0.0)

    async def score(output: str, sample: Sample) -> Score:
        expected = _reference_number(sample.reference)
        if expected is None:
            if sample.reference is None:
                return _ungradable("numeric", "sample has no reference")
            return _ungradable("numeric", f"reference {_clip(str(sample.reference), 40)!r} is not a number")
        got = last_number(output)
        if got is None:
            return _verdict(False, "no number in the output", expected=expected.value, predicted=None)
        ok = any(
            abs(g - e) <= max(a_tol, r_tol * abs(e)) for g in got.readings() for e in expected.readings()
        )
        why = f"{got.value:g} {'matches' if ok else 'differs from'} {expected.value:g}"
        return _verdict(ok, why, expected=expected.value, predicted=got.value)

    return score


# ---------------------------------------------------------------- label


def _named_labels(text: str, labels: list[str]) -> list[int]:
    """Indexes of the labels `text` mentions as whole words, ignoring a mention
    that lies inside a mention of a longer label ("not spam" is not "spam")."""
    spans = {
        i: [m.span() for m in re.finditer(rf"(?<!\w){re.escape(lab)}(?!\w)", text)] for i, lab in enumerate(labels)
    }
    present = [i for i, s in spans.items() if s]

    def inside_longer(i: int, a: int, b: int) -> bool:
        return any(a2 <= a and b <= b2 and b2 - a2 > b - a for j in present if j != i for a2, b2 in spans[j])

    return [i for i in present if not all(inside_longer(i, a, b) for a, b in spans[i])]


@scorer("label", sees="completion", produces=("labels", "format_check"))
def label(labels: list[str], on: str = "text") -> ScoreFn:
    """Classification: which of `labels` the output names, against the reference label.

    The output is that label when it equals one after normalisation, else the
    single label it mentions as a word; several or none is no prediction,
    which fails (a format failure: production could see it without a reference).
    With `on: tool_name` the label is the tool the answer called (routing by
    tool choice); the reference is then a tool name, or logged tool calls.
`details` carry expected and predicted for the confusion matrix.
    """
    if on not in ("text", "tool_name"):
        raise _bad_arg("label", "on", f"text or tool_name, got {on!r}")
    names = _check_strings("label", "labels", labels)
    normed = [normalize_text(x) for x in names]
    if "" in normed or len(set(normed)) != len(normed):
        why = f"labels must differ after normalisation (case, quotes, punctuation): {names!r}"
        raise _bad_arg("label", "labels", why)

    async def score(answer: Completion | str, sample: Sample) -> Score:
        ref = sample.reference
        output = answer.text if isinstance(answer, Completion) else answer
        if on == "tool_name":
            calls = reference_calls(ref)
            ref = calls[0]["name"] if calls and len({c["name"] for c in calls}) == 1 else ref
            chosen = sorted({(t.get("function") or {}).get("name") or "" for t in answer.tool_calls}) if isinstance(answer, Completion) else []
            output = " ".join(chosen)
        if ref is None:
            return _ungradable("label", "sample has no reference label", expected=None, predicted=None)
        # Labels read from CSV arrive as numbers or booleans; they name a label by their text.
        ref_text = normalize_text(str(ref)) if isinstance(ref, (str, int)) else None
        if ref_text not in normed:
            why = f"reference {_clip(str(ref), 40)!r} is not one of the labels"
            return _ungradable("label", why, expected=None, predicted=None)
        expected = names[normed.index(ref_text)]
        text = normalize_text(output)
        if text in normed:
            hits = [normed.index(text)]
        else:
            hits = _named_labels(text, normed)
        if len(hits) != 1:
            several = "output names several labels: " + ", ".join(names[i] for i in hits)
            why = several if hits else "output names none of the labels"
            return _verdict(False, why, expected=expected, predicted=None, format_failed=True)
        predicted = names[hits[0]]
        ok = predicted == expected
        why = f"predicted {predicted!r}" + ("" if ok else f", expected {expected!r}")
        return _verdict(ok, why, expected=expected, predicted=predicted)

    return score


# ---------------------------------------------------------------- JSON


@scorer("json_valid", produces=("format_check",))
def json_valid() -> ScoreFn:
    """The output carries JSON: raw, in a fenced block, or embedded in prose."""

    async def score(output: str, sample: Sample) -> Score:
        _, error = extract_json(output)
        return _verdict(error is None, error or "valid JSON", **({"format_failed": True} if error else {}))

    return score


def _values_equal(expected: Any, got: Any) -> bool:
    """Reference comparison: strings normalised, numbers by value, booleans only
    with booleans, containers recursively (extra keys in the output allowed)."""
    if isinstance(expected, bool) or isinstance(got, bool):
        return expected is got
    if isinstance(expected, (int, float)) and isinstance(got, (int, float)):
        return expected == got
    if isinstance(expected, str) and isinstance(got, str):
        return normalize_text(expected) == normalize_text(got)
    if isinstance(expected, dict) and isinstance(got, dict):
        return all(k in got and _values_equal(v, got[k]) for k, v in expected.items())
    if isinstance(expected, list) and isinstance(got, list):
        return len(expected) == len(got) and all(_values_equal(e, g) for e, g in zip(expected, got))
    return expected is None and got is None


def _schema_errors(validator: Draft202012Validator, value: Any) -> list[str]:
    errors = sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{e.json_path}: {_clip(e.message, 100)}" for e in errors]


@scorer("json_schema", produces=("format_check",))
def json_schema(schema: dict[str, Any] | None = None, match_reference: bool = False) -> ScoreFn:
    """The output's JSON is valid against `schema` (JSON Schema 2020-12, formats
    checked) and, with `match_reference`, every field of the dict reference
    has the same value in the output. A text reference holding a JSON object
    (a logged answer, as `evals import` writes it) counts as that object.

    The value is the share of reference fields matched (1 without
    `match_reference`), and 0 when the JSON is missing or breaks the schema.
    """
    checks_fields = _check_bool("json_schema", "match_reference", match_reference)
    if schema is None and not checks_fields:
        raise _bad_arg("json_schema", "schema", "give a schema, or match_reference: true (or use json_valid)")
    validator = None
    if schema is not None:
        if not isinstance(schema, dict):
            why = f"must be a mapping (a JSON Schema object), got {type(schema).__name__}"
            raise _bad_arg("json_schema", "schema", why)
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as e:
            raise _bad_arg("json_schema", "schema", f"not a valid JSON Schema: {e.message}") from None
        validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)

    async def score(output: str, sample: Sample) -> Score:
        ref = sample.reference
        if checks_fields and isinstance(ref, str):
            parsed, _ = extract_json(ref)
            ref = parsed if isinstance(parsed, dict) else ref
        if checks_fields and (not isinstance(ref, dict) or not ref):
            kind = type(ref).__name__
            why = "sample has no reference" if ref is None else f"reference must be a non-empty mapping, got {kind}"
            return _ungradable("json_schema", why)
        value, error = extract_json(output)
        if error is not None:
            return Score(value=0.0, passed=False, explanation=error, details={"format_failed": True})
        problems = _schema_errors(validator, value) if validator is not None else []
        if problems:
            more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
            why = f"schema: {'; '.join(problems[:3])}{more}"
            return Score(value=0.0, passed=False, explanation=why, details={"schema_errors": problems, "format_failed": True})
        if not checks_fields:
            return _verdict(True, "valid against the schema")
        if not isinstance(value, dict):
            why = f"output JSON is a {type(value).__name__}, not an object"
            return Score(value=0.0, passed=False, explanation=why, details={"mismatched": list(ref)})
        mismatched = [k for k, v in ref.items() if k not in value or not _values_equal(v, value[k])]
        ok = not mismatched
        why = "all reference fields match" if ok else "mismatched fields: " + ", ".join(map(str, mismatched))
        return Score(
            value=(len(ref) - len(mismatched)) / len(ref),
            passed=ok,
            explanation=why,
            details={"mismatched": mismatched},
        )

    return score


# ---------------------------------------------------------------- similarity


class _UnicodeTokenizer:
    """rouge-score's default tokenizer drops every non-ASCII character, which
    scores any non-English answer 0. This one gives the same tokens on ASCII
    text (lower-cased alphanumeric runs, Porter-stemmed past 3 characters) and
    keeps other scripts: letters and digits of any script, and Chinese and
    Japanese characters one by one, as they are not space-delimited."""

    _TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W_]+")

    def __init__(self, stemmer: Any) -> None:
        self._stemmer = stemmer

    def tokenize(self, text: str) -> list[str]:
        tokens = self._TOKEN.findall(text.lower())
        return [self._stemmer.stem(t) if len(t) > 3 and t.isascii() else t for t in tokens]


_METRICS = ("rougeL", "bleu", "chrf")


@scorer("similarity")
def similarity(metric: str = "rougeL", threshold: float = 0.5) -> ScoreFn:
    """Closeness to the reference text, in [0, 1]: ROUGE-L F-measure
    (rouge-score), or sentence BLEU / chrF (sacrebleu) divided by 100.
    Against several reference alternatives: ROUGE-L takes the best, BLEU and
    chrF use them as multiple references. chrF suits languages written
    without spaces better than BLEU's 13a tokenisation does."""
    if metric not in _METRICS:
        raise _bad_arg("similarity", "metric", f"one of {', '.join(_METRICS)}, got {metric!r}")
    cut = _check_number("similarity", "threshold", threshold, 0.0, 1.0)
    if metric == "rougeL":
        # Imported here: rouge-score pulls in all of nltk (about a second), which
        # every command that loads the scorer registry would otherwise pay.
        from nltk.stem.porter import PorterStemmer
        from rouge_score import rouge_scorer

        rouge = rouge_scorer.RougeScorer(["rougeL"], tokenizer=_UnicodeTokenizer(PorterStemmer()))

        def measure(output: str, refs: list[str]) -> float:
            return rouge.score_multi(refs, output)["rougeL"].fmeasure
    else:
        sentence = BLEU(effective_order=True) if metric == "bleu" else CHRF()

        def measure(output: str, refs: list[str]) -> float:
            return sentence.sentence_score(output, refs).score / 100

    async def score(output: str, sample: Sample) -> Score:
        refs = _reference_texts(sample.reference)
        if refs is None:
            return _no_text_reference("similarity", sample.reference)
        value = min(max(measure(output, refs), 0.0), 1.0)
        ok = value >= cut
        return Score(
            value=value,
            passed=ok,
            explanation=f"{metric} {value:.3f} {'>=' if ok else '<'} {cut:g}",
            details={"metric": metric},
        )

    return score
