"""The `code_tests` scorer: run the model's code against the sample's unit tests.

The code is the output's last ```python block, else its last fenced block of
any language, else the whole output. The tests come from
`sample.reference[tests_field]` when the reference is a dict holding that
field, else from `sample.metadata[tests_field]`: Python source (or a list of
lines, as MBPP's `test_list`). If the tests define `test*` functions, each
function is a test and the rest of the source is setup; otherwise each
top-level `assert` is a test and the other statements are setup, run in order.
A sample without tests is an error, never a pass.

How a pass is told from a fake one. The code and the tests never share a
process (`evals.scoring.sandbox.run_python_pair`): the code runs alone in one
sandbox as a module named `solution`; the tests run in another, where every
name the module defines is a stand-in that sends the call to the code's
process and gets back only data (numbers, strings, bytes, lists, tuples, sets,
dicts, dates and times, ...), rebuilt there from JSON by the tests' own process. A result that
is not data comes back as an opaque handle: it can be called, iterated,
indexed, measured and asked for attributes, but it is equal only to itself,
so an object "equal to everything" compares unequal to every expected value.
The pass is read from the tests' process alone: a line per test on a stdout
the code cannot reach (separate pid, IPC, network and mount namespaces under
bubblewrap), a "done" line, and exit code 0. Whatever the code does to its
own interpreter (replacing exec, compile, builtins, unittest or AssertionError,
walking the stack, scanning memory, printing pass lines, exiting with 0 at
import, in a call or from atexit) stays in its process and can only change the
values it returns. A test that times out fails, and the ones that passed
before it still count towards the value.

Limits, honestly: values cross as copies, so a test that checks an argument
the code mutated in place, passes its own function or object to the code
(a callback), catches an exception class the code defined, or compares two
objects of the code's own classes with their `__eq__` fails. Without
bubblewrap ("rlimits-only") both processes run with one uid; the tests'
process makes itself non-dumpable, but as a normal user the code can still
reach the evaluating process itself, which that mode never protected.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
from typing import Any

from evals.scoring.base import Score, ScoreFn, scorer
from evals.scoring.builtin import _bad_arg, _clip, _ungradable
from evals.scoring.extract import fenced_blocks
from evals.scoring.sandbox import SandboxResult, run_python_pair
from evals.suite.sample import Sample

_PYTHON_LABELS = {"python", "python3", "py"}
_EXPLANATION_CHARS = 300

# Both scripts below run in sandboxes, stdlib only. _WIRE is the value format
# they share: JSON, with tagged objects for what JSON lacks and for handles.
_WIRE = r'''
import collections, datetime, decimal, fractions, json, math, os

LINE_CAP = 64 << 20


def encode(value, handle, depth=0):
    """Data as JSON-ready values; anything else through handle(value)."""
    if value is None or isinstance(value, bool):
        return None if value is None else bool(value)
    if depth > 200:
        return handle(value)
    down = lambda items: [encode(item, handle, depth + 1) for item in items]
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        number = float(value)
        return number if math.isfinite(number) else {"$": "float", "v": repr(number)}
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, (bytes, bytearray)):
        return {"$": "bytearray" if isinstance(value, bytearray) else "bytes", "v": bytes(value).hex()}
    if isinstance(value, complex):
        return {"$": "complex", "v": [repr(value.real), repr(value.imag)]}
    if isinstance(value, collections.deque):
        return {"$": "deque", "v": down(value)}
    if isinstance(value, dict):
        return {"$": "dict", "v": [[encode(k, handle, depth + 1), encode(v, handle, depth + 1)] for k, v in value.items()]}
    if isinstance(value, list):
        return down(value)
    if isinstance(value, tuple):
        return {"$": "tuple", "v": down(value)}
    if isinstance(value, (set, frozenset)):
        return {"$": "frozenset" if isinstance(value, frozenset) else "set", "v": down(value)}
    if isinstance(value, decimal.Decimal):
        return {"$": "Decimal", "v": str(value)}
    if isinstance(value, fractions.Fraction):
        return {"$": "Fraction", "v": str(value)}
    if isinstance(value, range):
        return {"$": "range", "v": [value.start, value.stop, value.step]}
    for kind in (datetime.datetime, datetime.date, datetime.time):  # datetime before its base class date
        if isinstance(value, kind):
            return {"$": kind.__name__, "v": kind.isoformat(value)}
    if isinstance(value, datetime.timedelta):
        return {"$": "timedelta", "v": [value.days, value.seconds, value.microseconds]}
    return handle(value)


def decode(obj, remote):
    """Rebuild a value from its JSON form; handles through remote(id, type name)."""
    if isinstance(obj, list):
        return [decode(item, remote) for item in obj]
    if not isinstance(obj, dict):
        if obj is None or type(obj) in (bool, int, float, str):
            return obj
        raise ValueError(f"not a value: {type(obj).__name__}")
    tag, v = obj.get("$"), obj.get("v")
    items = lambda: [decode(item, remote) for item in v]
    if tag == "handle":
        return remote(int(obj["id"]), str(obj.get("type", "object"))[:80])
    if tag == "float":
        return float(str(v))
    if tag == "tuple":
        return tuple(items())
    if tag == "set":
        return set(items())
    if tag == "frozenset":
        return frozenset(items())
    if tag == "deque":
        return collections.deque(items())
    if tag == "dict":
        return {decode(k, remote): decode(x, remote) for k, x in v}
    if tag in ("bytes", "bytearray"):
        return (bytes if tag == "bytes" else bytearray).fromhex(str(v))
    if tag == "complex":
        return complex(float(str(v[0])), float(str(v[1])))
    if tag == "Decimal":
        return decimal.Decimal(str(v))
    if tag == "Fraction":
        return fractions.Fraction(str(v))
    if tag == "range":
        return range(*[int(n) for n in v])
    if tag in ("datetime", "date", "time"):
        return getattr(datetime, tag).fromisoformat(str(v))
    if tag == "timedelta":
        return datetime.timedelta(*[int(n) for n in v])
    raise ValueError(f"unknown value tag {tag!r}")


def send(fd, message):
    data = (json.dumps(message) + "\n").encode()
    while data:
        data = data[os.write(fd, data):]


def describe(exc, filename):
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    where = f"line {frames[-1].lineno}: {frames[-1].line} -> " if frames else ""
    return (where + "".join(traceback.format_exception_only(type(exc), exc)).strip())[:500]
'''

# The code's process: runs the code as module `solution`, then answers the
# tests' requests on its stdin with values on its stdout. It holds no secret
# and decides nothing; the scorer appends serve(candidate_source).
_SERVER = r'''
import linecache, sys, types


def serve(candidate):
    requests = os.fdopen(os.dup(0), "rb")
    channel = os.dup(1)  # the code's own prints go to stderr, its stdin is empty
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)
    handles = {}

    def handle(value):
        handles[id(value)] = value
        return {"$": "handle", "id": id(value), "type": type(value).__name__}

    linecache.cache["<solution>"] = (len(candidate), None, candidate.splitlines(True), "<solution>")
    module = types.ModuleType("solution")
    sys.modules["solution"] = module
    try:
        exec(compile(candidate, "<solution>", "exec"), module.__dict__)
    except BaseException as exc:
        send(channel, {"setup": describe(exc, "<solution>")})
        os._exit(0)
    names = {}
    for name, value in list(module.__dict__.items()):
        if not name.startswith("__"):
            names[name] = {"$": "module", "v": value.__name__} if isinstance(value, types.ModuleType) else encode(value, handle)
    send(channel, {"names": names})
    for line in requests:
        try:
            reply = {"ok": encode(answer(json.loads(line), handles), handle)}
        except StopIteration:
            reply = {"stop": True}
        except BaseException as exc:
            reply = {"raise": [type(exc).__name__, describe(exc, "<solution>")]}
        send(channel, reply)
    os._exit(0)


def answer(request, handles):
    target = handles[request["id"]]
    args = [decode(arg, lambda i, _: handles[i]) for arg in request["args"]]
    op = request["op"]
    if op == "call":
        return target(*args, **{k: decode(v, lambda i, _: handles[i]) for k, v in request["kwargs"]})
    if op == "getattr":
        return getattr(target, request["name"])
    if op == "iter":
        return iter(target)
    if op == "next":
        return next(target)
    if op == "len":
        return len(target)
    if op == "getitem":
        return target[args[0]]
    if op == "contains":
        return args[0] in target
    if op == "bool":
        return bool(target)
    if op == "repr":
        return repr(target)
    if op == "str":
        return str(target)
    raise ValueError(f"unknown request {op!r}")
'''

# The tests' process: the only one whose word counts. It makes itself
# non-dumpable (nothing of the same uid can trace it or open its descriptors),
# binds every name of the code to a stand-in that asks the code's process,
# runs the tests and reports one line per test on its stdout, which only the
# scorer reads. The scorer appends main(tests_source, test_functions).
_CLIENT = r'''
import ast, builtins, ctypes, importlib, inspect, linecache, sys, types

ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0


class CodeError(Exception):
    """What the code's process answered instead of a value, or that it could not answer."""


class Remote:
    """A value of the code's that is not data: usable, but equal only to itself."""

    __slots__ = ("_id", "_type")

    def __init__(self, ident, type_name):
        object.__setattr__(self, "_id", ident)
        object.__setattr__(self, "_type", type_name)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return ask("getattr", self, name=name)

    def __call__(self, *args, **kwargs):
        return ask("call", self, args, kwargs)

    def __iter__(self):
        it = ask("iter", self)
        return it if isinstance(it, Remote) else iter(it)

    def __next__(self):
        return ask("next", self)

    def __len__(self):
        return checked(ask("len", self), int, "len")

    def __getitem__(self, key):
        return ask("getitem", self, (key,))

    def __contains__(self, item):
        return ask("contains", self, (item,)) is True

    def __bool__(self):
        return ask("bool", self) is True

    def __repr__(self):
        return checked(ask("repr", self), str, "repr")

    def __str__(self):
        return checked(ask("str", self), str, "str")


def checked(value, kind, what):
    if type(value) is not kind:
        raise CodeError(f"{what}() of a value of the code gave a {type(value).__name__}")
    return value


def local(value):
    if type(value) is Remote:
        return {"$": "handle", "id": value._id}
    raise TypeError(f"cannot pass a {type(value).__name__} to the code under test: only data crosses to its process")


def receive():
    line = responses.readline(LINE_CAP)
    if not line.endswith(b"\n"):
        raise CodeError("the code's process ended (it exited, crashed or was killed) before answering")
    reply = json.loads(line)
    if not isinstance(reply, dict):
        raise CodeError("the code's process sent a garbled reply")
    return reply


def ask(op, target, args=(), kwargs=None, name=None):
    request = {"op": op, "id": target._id, "args": [encode(a, local) for a in args]}
    request["kwargs"] = [[k, encode(v, local)] for k, v in (kwargs or {}).items()]
    if name is not None:
        request["name"] = name
    try:
        send(requests, request)
    except OSError:
        raise CodeError("the code's process ended (it exited, crashed or was killed)") from None
    reply = receive()
    if "ok" in reply:
        return decode(reply["ok"], Remote)
    if reply.get("stop") is True:
        raise StopIteration
    kind, message = (reply.get("raise") or ["?", "?"])[:2]
    kind, message = str(kind)[:80], str(message)[:500]
    cls = getattr(builtins, kind, None)
    if isinstance(cls, type) and issubclass(cls, Exception) and cls is not StopIteration:
        try:
            error = cls(message)
        except Exception:
            error = CodeError(f"{kind}: {message}")
        raise error
    raise CodeError(f"{kind}: {message}")


def main(tests, functions):
    global requests, responses
    requests, responses = int(sys.argv[1]), os.fdopen(0, "rb")
    channel = os.dup(1)  # ours alone; the tests' own prints go to stderr
    os.dup2(2, 1)
    failed = False

    def report(kind, index=None, message=None):
        nonlocal failed
        words = [kind] + ([str(index)] if index is not None else [])
        if message is not None and not failed:
            words.append(json.dumps(message))
        failed = failed or message is not None
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os.write(channel, ("\n" + " ".join(words) + "\n").encode())

    def finish():
        report("done")
        os._exit(0)

    linecache.cache["<tests>"] = (len(tests), None, tests.splitlines(True), "<tests>")
    try:
        hello = receive()
        if "setup" in hello:
            raise CodeError("the code failed before the tests ran: " + str(hello["setup"])[:500])
        namespace = {"__name__": "tests"}
        for name, value in dict(hello["names"]).items():
            if isinstance(value, dict) and value.get("$") == "module":
                if value.get("v") in sys.stdlib_module_names:
                    namespace[str(name)] = importlib.import_module(value["v"])
            else:
                namespace[str(name)] = decode(value, Remote)
    except Exception as exc:
        report("setup", message=str(exc) if isinstance(exc, CodeError) else f"the code's names could not be read: {exc!r}"[:500])
        finish()
    module = types.ModuleType("solution")
    module.__dict__.update(namespace)
    sys.modules["solution"] = module

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

        server = f"{_WIRE}\n{_SERVER}\nserve({extract_code(output)!r})\n"
        client = f"{_WIRE}\n{_CLIENT}\nmain({tests!r}, {functions!r})\n"
        _, result = await asyncio.to_thread(
            run_python_pair, server, client, timeout_s=timeout_s, memory_mb=memory_mb
        )
        return _grade(result, total, timeout_s)

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


def _grade(result: SandboxResult, total: int, timeout_s: float) -> Score:
    """Read the tests' process's report lines: the code's process cannot write there."""
    passed: set[int] = set()
    first_failure = None
    done = False
    setup_failed = False  # a failing non-assert statement (e.g. `raise AssertionError` in an if) fails the sample
    for match in re.finditer(r"^(pass|fail|setup|done)(?: (\d+))?(?: (.+))?$", result.stdout, re.MULTILINE):
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
