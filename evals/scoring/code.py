"""The `code_tests` scorer: run the model's code against the sample's unit tests.

The code is the output's last ```python block, else its last fenced block of
any language, else the whole output. The tests come from
`sample.reference[tests_field]` when the reference is a dict holding that
field, else from `sample.metadata[tests_field]`: Python source (or a list of
lines, as MBPP's `test_list`). If the tests define `test*` functions, each
function is a test and the rest of the source is setup; otherwise each
top-level `assert` is a test and the other statements are setup, run in order.
A sample without tests is an error, never a pass.

How a pass is told from a fake one. Code and tests run in one sandboxed
process (`evals.scoring.sandbox`): the code as a module named `solution`,
then each test in a namespace holding the module's names. The harness reports
on a line tagged with a random nonce made by the scorer for this run, and the
score needs a tagged "pass" for every test, the tagged "done" after the last
one, and exit code 0. The nonce is not in the script, argv or environment: it
arrives on stdin, which the harness reads and replaces with /dev/null before
any of the code runs, and the harness writes to a private duplicate of
stdout, the code's own stdout going to stderr. So `print("ALL PASSED")`,
printing a guessed tag line, `sys.exit(0)` or `os._exit(0)` at import or in
a test, or a crash all fail; a test that times out fails, and the ones that
passed before it still count towards the value.

Limits, honestly: code and harness share one interpreter, so code written to
attack the grader (walking the stack or the heap for the nonce, patching the
harness, reading the tests out of the script to hard-code answers) can fake
a pass. The nonce stops accidents and naive cheats, not a
determined adversary; the sandbox is what keeps such code away from the host.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
import secrets
from typing import Any

from evals.scoring.base import Score, ScoreFn, scorer
from evals.scoring.builtin import _bad_arg, _clip, _ungradable
from evals.scoring.extract import fenced_blocks
from evals.scoring.sandbox import SandboxResult, run_python
from evals.suite.sample import Sample

_PYTHON_LABELS = {"python", "python3", "py"}
_EXPLANATION_CHARS = 300

# Runs in the sandbox, before and around the candidate code; stdlib only.
# The scorer appends one call: main(candidate_source, tests_source, test_functions).
_HARNESS = r'''
import ast, inspect, json, linecache, os, sys, traceback, types


def read_nonce():
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(0, 128)
        if not chunk:
            break
        data += chunk
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return data.decode().strip()


def describe(exc, filename):
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    where = f"line {frames[-1].lineno}: {frames[-1].line} -> " if frames else ""
    return (where + "".join(traceback.format_exception_only(type(exc), exc)).strip())[:500]


def main(candidate, tests, functions):
    nonce = read_nonce()
    channel = os.dup(1)  # ours alone; the code's stdout goes to stderr
    os.dup2(2, 1)
    write, dumps, exit_now = os.write, json.dumps, os._exit
    failed = False

    def report(kind, index=None, message=None):
        nonlocal failed
        words = [nonce, kind] + ([str(index)] if index is not None else [])
        if message is not None and not failed:
            words.append(dumps(message))
        failed = failed or message is not None
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        write(channel, ("\n" + " ".join(words) + "\n").encode())

    def finish():
        report("done")
        exit_now(0)

    for name, source in (("<solution>", candidate), ("<tests>", tests)):
        linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    module = types.ModuleType("solution")
    sys.modules["solution"] = module
    try:
        exec(compile(candidate, "<solution>", "exec"), module.__dict__)
    except BaseException as exc:
        report("setup", message="the code failed before the tests ran: " + describe(exc, "<solution>"))
        finish()

    namespace = dict(module.__dict__, __name__="tests")
    tree = ast.parse(tests, "<tests>")
    if functions:
        try:
            exec(compile(tree, "<tests>", "exec"), namespace)
        except BaseException as exc:
            report("setup", message="test setup failed: " + describe(exc, "<tests>"))
            finish()
        for index, name in enumerate(functions):
            try:
                result = namespace[name]()
                if inspect.iscoroutine(result):
                    import asyncio

                    asyncio.run(result)
            except BaseException as exc:
                report("fail", index, f"{name}: " + describe(exc, "<tests>"))
            else:
                report("pass", index)
        finish()

    index = 0
    for node in tree.body:
        is_test = isinstance(node, ast.Assert)
        try:
            exec(compile(ast.Module([node], []), "<tests>", "exec"), namespace)
        except BaseException as exc:
            if is_test:
                report("fail", index, describe(exc, "<tests>"))
            else:
                report("setup", message="test setup failed: " + describe(exc, "<tests>"))
        else:
            if is_test:
                report("pass", index)
        index += is_test
    finish()
'''


@scorer("code_tests")
def code_tests(timeout_s: float = 10, memory_mb: int = 512, tests_field: str = "tests") -> ScoreFn:
    """Share of the sample's unit tests the output's code passes, run in the sandbox.

    Settings are checked here, when the suite loads, so a typo fails before any model is paid for."""
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not 0 < timeout_s <= 600:
        raise _bad_arg("code_tests", "timeout_s", f"must be a number of seconds in (0, 600], got {timeout_s!r}")
    if isinstance(memory_mb, bool) or not isinstance(memory_mb, int) or memory_mb < 64:
        raise _bad_arg("code_tests", "memory_mb", f"must be an integer of at least 64, got {memory_mb!r}")
    if not isinstance(tests_field, str) or not tests_field:
        raise _bad_arg("code_tests", "tests_field", f"must be a field name, got {tests_field!r}")

    async def score(output: str, sample: Sample) -> Score:
        tests = _tests_of(sample, tests_field)
        if tests is None:
            why = f"no unit tests: neither reference[{tests_field!r}] nor metadata[{tests_field!r}] holds Python source"
            return _ungradable("code_tests", why)
        try:
            tree = ast.parse(tests)
        except SyntaxError as e:
            return _ungradable("code_tests", f"the unit tests do not parse: {e}")
        functions = [
            node.name
            for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test")
        ]
        total = len(functions) or sum(isinstance(node, ast.Assert) for node in tree.body)
        if total == 0:
            return _ungradable("code_tests", "the unit tests hold no top-level assert and no test* function")

        nonce = secrets.token_hex(16)
        script = f"{_HARNESS}\nmain({extract_code(output)!r}, {tests!r}, {functions!r})\n"
        result = await asyncio.to_thread(
            run_python, script, timeout_s=timeout_s, memory_mb=memory_mb, stdin=f"{nonce}\n".encode()
        )
        return _grade(result, nonce, total, timeout_s)

    return score


def extract_code(output: str) -> str:
    """The code a model's answer carries: its last ```python block, else its
    last fenced block, else all of it (a bare code answer)."""
    blocks = fenced_blocks(output)
    python = [body for label, body in blocks if label.lower() in _PYTHON_LABELS]
    if python:
        return python[-1]
    return blocks[-1][1] if blocks else output


def _tests_of(sample: Sample, field: str) -> str | None:
    if isinstance(sample.reference, dict) and field in sample.reference:
        raw = sample.reference[field]
    else:
        raw = sample.metadata.get(field)
    if isinstance(raw, list) and all(isinstance(line, str) for line in raw):
        raw = "\n".join(raw)
    return raw if isinstance(raw, str) and raw.strip() else None


def _grade(result: SandboxResult, nonce: str, total: int, timeout_s: float) -> Score:
    """Read the harness's nonce-tagged lines; anything else the code printed counts for nothing."""
    passed: set[int] = set()
    first_failure = None
    done = False
    setup_failed = False  # a failing non-assert statement (e.g. `raise AssertionError` in an if) fails the sample
    for match in re.finditer(rf"^{nonce} (pass|fail|setup|done)(?: (\d+))?(?: (.+))?$", result.stdout, re.M):
        kind, index, message = match.groups()
        if kind == "pass" and index is not None and int(index) < total:
            passed.add(int(index))
        elif kind == "done":
            done = True
        elif kind == "setup":
            setup_failed = True
        if message and first_failure is None:
            first_failure = _json_string(message)

    all_passed = done and not setup_failed and len(passed) == total and result.exit_code == 0 and not result.timed_out
    summary = f"{len(passed)}/{total} tests passed"
    if all_passed:
        explanation = f"all {total} tests passed"
    elif result.timed_out:
        explanation = f"{summary}; timed out after {timeout_s:g} s"
    elif first_failure:
        explanation = f"{summary}; first failure: {first_failure}"
    elif not done:
        how = f"exit code {result.exit_code}" + (f", {result.killed_reason}" if result.killed_reason else "")
        last = result.stderr.strip().splitlines()[-1:] or ["no error output"]
        explanation = f"{summary}; the process ended before the tests finished ({how}): {last[0]}"
    else:
        explanation = f"{summary}; exit code {result.exit_code}"
    return Score(
        value=len(passed) / total,
        passed=all_passed,
        explanation=_clip(explanation, _EXPLANATION_CHARS),
        details={
            "tests_total": total,
            "tests_passed": len(passed),
            "isolation": result.isolation,
            "timed_out": result.timed_out,
            "process_limit_enforced": result.process_limit_enforced,
        },
    )


def _json_string(text: str) -> str:
    try:
        value: Any = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, str) else text
