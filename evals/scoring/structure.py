"""Scorers for structured answers: tool calls compared as data, and answers checked
against the schema the request itself asked for.

How a tool call matches (`compare_call`, `match_calls`):

- the function name is compared exactly;
- every argument the tool's schema requires must be present;
- every argument the reference call has must be present and equal; an
  optional argument the reference lacks is ignored;
- values are compared by type: numbers within tolerance
  (|got - expected| <= max(abs_tol, rel_tol * |expected|), an integer and a
  float of the same value are equal), strings after normalisation (case,
  whitespace, quotes, trailing punctuation), enum values (from the tool's
  schema) exactly, booleans only with booleans, objects key by key and arrays
  item by item in order, recursively to any depth;
- parallel calls are a multiset: order does not matter, counts do (the best
  one-to-one pairing is found with scipy's assignment solver);
- the first difference is named: the call, the argument path, expected and got.

Where this differs from the Berkeley Function Calling Leaderboard's AST
checker (bfcl_eval/eval_checker/ast_eval/ast_checker.py in
github.com/ShishirPatil/gorilla, read 2026-12-03):

- BFCL grades against hand-written lists of acceptable values per parameter
  ("" marking an optional one); here the reference is the one call production
  logged, so there is one expected value per argument.
- BFCL fails any parameter the answer has and the possible answer lacks
  ("Unexpected parameter"); here an optional argument the reference did not
  send is ignored (models often fill in defaults), but an argument the tool's
  schema does not define is a failure in `schema` mode.
- BFCL compares numbers exactly (an int may stand for a float) and strings
  with spaces and ,./-_*^ removed; here numbers take a tolerance and strings
  keep their punctuation inside (normalise only case, whitespace, quotes and
  trailing punctuation), and enum values are compared exactly.
- BFCL checks nested values one level deep; here objects and arrays are
  compared recursively.
- BFCL's parallel checker also pairs calls order-free; both fail on a
  different number of calls.
"""

from __future__ import annotations

import json
import math
from typing import Any

from evals.providers.base import Completion
from evals.providers.translate import text_tool_call
from evals.scoring.base import Score, ScoreFn, scorer
from evals.scoring.confusion import NONE
from evals.scoring.extract import normalize as normalize_text
from evals.suite.sample import Sample, response_schema


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _show(v: Any) -> str:
    text = json.dumps(v, ensure_ascii=False)
    return text if len(text) <= 60 else text[:59] + "…"


def compare_value(expected: Any, got: Any, schema: dict[str, Any] | None, path: str, abs_tol: float, rel_tol: float) -> str | None:
    """The first difference between two argument values, or None when they match."""
    schema = schema if isinstance(schema, dict) else {}
    if "enum" in schema:
        return None if got == expected and type(got) is type(expected) else f"{path}: expected {_show(expected)}, got {_show(got)} (enum values compare exactly)"
    if isinstance(expected, bool) or isinstance(got, bool):
        return None if got is expected else f"{path}: expected {_show(expected)}, got {_show(got)}"
    if _is_number(expected) and _is_number(got):
        ok = abs(got - expected) <= max(abs_tol, rel_tol * abs(expected))
        return None if ok else f"{path}: expected {expected:g}, got {got:g}"
    if isinstance(expected, str) and isinstance(got, str):
        return None if normalize_text(expected) == normalize_text(got) else f"{path}: expected {_show(expected)}, got {_show(got)}"
    if isinstance(expected, dict) and isinstance(got, dict):
        props: dict[str, Any] = schema["properties"] if isinstance(schema.get("properties"), dict) else {}
        for key in schema.get("required") or ():
            if key not in got:
                return f"{path}.{key}: required, missing"
        for key, value in expected.items():
            if key not in got:
                return f"{path}.{key}: expected {_show(value)}, missing"
            diff = compare_value(value, got[key], props.get(key), f"{path}.{key}", abs_tol, rel_tol)
            if diff:
                return diff
        return None
    if isinstance(expected, list) and isinstance(got, list):
        if len(expected) != len(got):
            return f"{path}: expected {len(expected)} items, got {len(got)}"
        items = schema.get("items") if isinstance(schema.get("items"), dict) else None
        for i, (e, g) in enumerate(zip(expected, got)):
            diff = compare_value(e, g, items, f"{path}[{i}]", abs_tol, rel_tol)
            if diff:
                return diff
        return None
    if expected is None and got is None:
        return None
    return f"{path}: expected {_show(expected)}, got {_show(got)}"


def parse_arguments(arguments: Any) -> tuple[Any, str | None]:
    """(arguments as data, error): arguments arrive as JSON text (OpenAI) or as an object (Anthropic, hand-written references)."""
    if isinstance(arguments, str):
        try:
            return json.loads(arguments or "{}"), None
        except ValueError as e:
            return None, f"arguments are not valid JSON ({e})"
    return arguments if arguments is not None else {}, None


def compare_call(expected: dict[str, Any], got: dict[str, Any], parameters: dict[str, Any] | None, abs_tol: float = 0.0, rel_tol: float = 1e-6) -> str | None:
    """Why `got` is not the `expected` call ({name, arguments} each), or None when it is."""
    name = expected.get("name")
    if got.get("name") != name:
        return f"called {got.get('name')!r}, expected {name!r}"
    want, _ = parse_arguments(expected.get("arguments"))
    args, error = parse_arguments(got.get("arguments"))
    if error:
        return f"{name}: {error}"
    if not isinstance(args, dict):
        return f"{name}: arguments are a {type(args).__name__}, not an object"
    return compare_value(want, args, parameters or {}, name or "call", abs_tol, rel_tol)


def match_calls(
    expected: list[dict[str, Any]], got: list[dict[str, Any]], schemas: dict[str, dict[str, Any]], abs_tol: float = 0.0, rel_tol: float = 1e-6
) -> tuple[int, list[str]]:
    """(calls matched, differences): the best one-to-one pairing of expected and
    produced calls, order-free. Each unmatched expected call is explained against
    the produced call it was paired with (or as missing), and each extra call as extra."""
    if not expected or not got:
        return 0, [f"expected call {e.get('name')!r} was not made" for e in expected] + [f"extra call {g.get('name')!r}" for g in got]
    from scipy.optimize import linear_sum_assignment  # scipy is heavy; only scoring needs it

    diffs = [[compare_call(e, g, schemas.get(str(e.get("name"))), abs_tol, rel_tol) for g in got] for e in expected]
    # Cost 0 for a match, 1 for a same-name mismatch, 2 otherwise: mismatches pair with the call closest in kind.
    cost = [[0 if d is None else 1 if e.get("name") == g.get("name") else 2 for d, g in zip(row, got)] for row, e in zip(diffs, expected)]
    rows, cols = linear_sum_assignment(cost)
    matched = sum(1 for r, c in zip(rows, cols) if diffs[r][c] is None)
    problems = [str(diffs[r][c]) for r, c in zip(rows, cols) if diffs[r][c] is not None]
    paired_e, paired_g = set(rows.tolist()), set(cols.tolist())
    problems += [f"expected call {e.get('name')!r} was not made" for i, e in enumerate(expected) if i not in paired_e]
    problems += [f"extra call {g.get('name')!r}" for j, g in enumerate(got) if j not in paired_g]
    return matched, problems


def validate_calls(got: list[dict[str, Any]], schemas: dict[str, dict[str, Any]]) -> list[str]:
    """What is wrong with each produced call against the request's own tools: an
    unknown tool, arguments that are not JSON, or arguments that break its schema."""
    from jsonschema import Draft202012Validator  # loaded by the scorer, not by every importer of this module

    problems = []
    for call in got:
        name = call.get("name")
        if name not in schemas:
            problems.append(f"called {name!r}, which is not one of the request's tools ({', '.join(sorted(schemas))})")
            continue
        args, error = parse_arguments(call.get("arguments"))
        if error:
            problems.append(f"{name}: {error}")
            continue
        for e in sorted(Draft202012Validator(schemas[name] or {}).iter_errors(args), key=lambda e: list(map(str, e.absolute_path))):
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e.absolute_path)
            problems.append(f"{name}{where}: {e.message}")
    return problems


def reference_calls(reference: Any) -> list[dict[str, Any]] | None:
    """The calls a reference names: a list of {name, arguments} (as `evals import`
    writes them), one such object, or that JSON as text; None when it names none."""
    if isinstance(reference, str):
        try:
            reference = json.loads(reference)
        except ValueError:
            return None
    if isinstance(reference, dict):
        reference = [reference]
    if isinstance(reference, list) and reference and all(isinstance(c, dict) and isinstance(c.get("name"), str) for c in reference):
        # OpenAI's {type: function, function: {name, arguments}} wrapper is accepted too
        return [c["function"] if isinstance(c.get("function"), dict) else c for c in reference]
    if isinstance(reference, list) and reference and all(isinstance(c, dict) and isinstance(c.get("function"), dict) for c in reference):
        return [c["function"] for c in reference]
    return None


def tool_schemas(tools: list[dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """Tool name -> its parameters' JSON Schema (an empty object schema when it declares none)."""
    return {t["function"]["name"]: t["function"].get("parameters") or {"type": "object"} for t in tools or []}


def check_tolerance(abs_tol: Any, rel_tol: Any) -> tuple[float, float]:
    for name, v in (("abs_tol", abs_tol), ("rel_tol", rel_tol)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or math.isnan(v):
            raise ValueError(f"scorer 'tool_call': argument `{name}`: must be a number >= 0, got {v!r}")
    return float(abs_tol), float(rel_tol)


# ---------------------------------------------------------------- the scorers


def _ungradable(name: str, why: str) -> Score:
    return Score(value=0.0, passed=False, explanation=why, error=f"{name}: {why}")


def _produced(c: Completion) -> list[dict[str, Any]]:
    return [{"name": (t.get("function") or {}).get("name"), "arguments": (t.get("function") or {}).get("arguments")} for t in c.tool_calls]


def chosen(calls: list[dict[str, Any]]) -> str:
    """The tools a set of calls chose, as one label: names sorted and joined with '+', '(none)' for no call."""
    return "+".join(sorted(str(c.get("name")) for c in calls)) or NONE


@scorer("tool_call", sees="completion", produces=("labels",))
def tool_call(mode: str = "reference", abs_tol: float = 0.0, rel_tol: float = 1e-6) -> ScoreFn:
    """The answer's tool calls, compared as data (see the module docstring).

    `mode: reference` matches them against the sample's reference calls (as
    `evals import` writes them); `mode: schema` only checks them against the
    request's own tools (a known tool, JSON arguments valid against its
    parameters). The value is the share of calls matched (or valid); the
    label pair (expected and chosen tools) feeds the confusion matrix.
    """
    if mode not in ("reference", "schema"):
        raise ValueError(f"scorer 'tool_call': argument `mode`: reference or schema, got {mode!r}")
    a_tol, r_tol = check_tolerance(abs_tol, rel_tol)

    async def score(c: Completion, sample: Sample) -> Score:
        if not sample.tools:
            return _ungradable("tool_call", "the sample's request has no tools")
        schemas = tool_schemas(sample.tools)
        got = _produced(c)
        if mode == "schema":
            if not got:
                return Score(value=0.0, passed=False, explanation=_no_call(c, sample), details={"expected": None, "predicted": NONE})
            problems = validate_calls(got, schemas)
            valid = sum(1 for g in got if not validate_calls([g], schemas))
            why = "; ".join(problems[:3]) or "every call valid against its tool's schema"
            return Score(value=valid / len(got), passed=not problems, explanation=why, details={"calls": got})
        expected = reference_calls(sample.reference)
        if expected is None:
            return _ungradable("tool_call", "the reference is not tool calls (a list of {name, arguments})")
        matched, problems = match_calls(expected, got, schemas, a_tol, r_tol)
        ok = not problems
        why = "the calls match the reference" if ok else "; ".join(problems[:3]) + (f" (+{len(problems) - 3} more)" if len(problems) > 3 else "")
        if not got:
            why = f"{why}; {_no_call(c, sample)}"
        return Score(
            value=matched / max(len(expected), len(got)),
            passed=ok,
            explanation=why,
            details={"expected": chosen(expected), "predicted": chosen(got), "reference_calls": expected, "calls": got},
        )

    return score


def _no_call(c: Completion, sample: Sample) -> str:
    """Why there is no call: no call made, or calls written as text the server did not parse."""
    spoken = text_tool_call(c.text, sample.tools)
    if spoken:
        return f"no tool call: {spoken}; the server did not parse tool calls: check --tool-call-parser"
    return "no tool call was made"


@scorer("response_schema", sees="completion", produces=("format_check",))
def response_schema_scorer() -> ScoreFn:
    """The answer is JSON valid against the schema the request itself asked for
    (`response_format` json_schema; plain JSON mode only needs a JSON object)."""

    async def score(c: Completion, sample: Sample) -> Score:
        rf = sample.response_format
        if rf is None:
            return _ungradable("response_schema", "the sample's request asked for no response_format")
        try:
            value = json.loads(c.text)
        except ValueError as e:
            return Score(value=0.0, passed=False, explanation=f"not JSON: {e}", details={"format_failed": True})
        schema = response_schema(rf) or {"type": "object"}
        from jsonschema import Draft202012Validator

        errors = sorted(Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))
        problems = [f"{e.json_path}: {e.message}" for e in errors]
        ok = not problems
        return Score(
            value=float(ok), passed=ok, explanation="valid against the requested schema" if ok else "; ".join(problems[:3]), details={} if ok else {"format_failed": True, "schema_errors": problems}
        )

    return score
