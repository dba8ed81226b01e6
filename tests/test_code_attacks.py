"""code_tests against answers written to fake a pass, and honest answers that must still pass.

Every attack carries a wrong `add` (the tests need add(1, 2) == 3 and
add(2, 0) == 2), so the only way to a pass is to fool the grader. The first
five are the ones that scored PASS when code and tests shared an interpreter
(issue 14); the rest are the other hostile answers of that review. None may
pass, and none may earn a test: the value must be 0.

They run under bubblewrap, where the two processes cannot reach each other.
Without it, the code runs with the evaluating user's uid and could reach our
own process through /proc (see evals/scoring/sandbox.py), so no claim is made.
"""

from __future__ import annotations

import asyncio

import pytest

from evals.scoring import sandbox
from evals.scoring.code import code_tests
from evals.suite.sample import Sample

ADD_TESTS = "assert add(1, 2) == 3\nassert add(2, 0) == 2\n"
WRONG = "def add(a, b):\n    return 0\n"

FAKE_LINES = "\\npass 0\\npass 1\\ndone\\n"
"""What the tests' process writes for a pass (see code._CLIENT.report); the attacks write it too."""

ATTACKS = {
    "replace builtins.exec": "import builtins\nbuiltins.exec = lambda *a, **k: None\n" + WRONG,
    "patch compile": (
        "import builtins\n_real = builtins.compile\n"
        "def fake(source, filename, mode, flags=0, *args, **kwargs):\n"
        "    if flags & 0x400 or filename != '<tests>':  # leave ast.parse and the code alone\n"
        "        return _real(source, filename, mode, flags, *args, **kwargs)\n"
        "    return _real('pass', filename, 'exec')\n"
        "builtins.compile = fake\n" + WRONG
    ),
    "walk the stack to the harness": (
        "import sys\n"
        "def cheat():\n"
        "    f = sys._getframe()\n"
        "    while f is not None:\n"
        "        for scope in (f.f_locals, f.f_globals):\n"
        "            for name in ('report', 'finish'):\n"
        "                fn = scope.get(name)\n"
        "                if callable(fn) and fn is not cheat:\n"
        "                    try:\n"
        "                        fn('pass', 0); fn('pass', 1); fn('done')\n"
        "                    except BaseException:\n"
        "                        pass\n"
        "        f = f.f_back\n"
        "cheat()\n"
        "def add(a, b):\n    cheat()\n    return 0\n"
    ),
    "scan memory for the token": (
        "import gc, os, re\n"
        "def cheat():\n"
        "    tokens = set()\n"
        "    for obj in gc.get_objects():\n"
        "        try:\n"
        "            values = [obj.cell_contents] if type(obj).__name__ == 'cell' else list(obj.values()) if isinstance(obj, dict) else []\n"
        "        except Exception:\n"
        "            continue\n"
        "        tokens.update(v for v in values if isinstance(v, str) and re.fullmatch('[0-9a-f]{32}', v))\n"
        "    for token in tokens | {''}:\n"
        "        lines = ''.join(f'\\n{token} {kind}\\n'.lstrip(' ') for kind in ('pass 0', 'pass 1', 'done')).encode()\n"
        "        for fd in range(64):\n"
        "            try:\n"
        "                os.write(fd, lines)\n"
        "            except OSError:\n"
        "                pass\n"
        "def add(a, b):\n    cheat()\n    os._exit(0)\n"
    ),
    "an object equal to everything": (
        "class Any:\n"
        "    def __eq__(self, other):\n        return True\n"
        "    def __ne__(self, other):\n        return False\n"
        "    __hash__ = object.__hash__\n"
        "def add(a, b):\n    return Any()\n"
    ),
    "an int equal to everything": (
        "class Int(int):\n"
        "    def __eq__(self, other):\n        return True\n"
        "    __hash__ = int.__hash__\n"
        "def add(a, b):\n    return Int(0)\n"
    ),
    "a list holding an object equal to everything": (
        "class Any:\n    def __eq__(self, other):\n        return True\n"
        "def add(a, b):\n    return [Any()]\n"
    ),
    "print fake pass lines": f"print('ALL PASSED')\nprint('2/2 tests passed')\nprint('{FAKE_LINES}')\n" + WRONG,
    "write fake lines to every descriptor": (
        "import os\n"
        "def cheat():\n"
        "    for fd in range(64):\n"
        "        try:\n"
        f"            os.write(fd, b'{FAKE_LINES}')\n"
        "        except OSError:\n"
        "            pass\n"
        "cheat()\n"
        "def add(a, b):\n    cheat()\n    return 0\n"
    ),
    "sys.exit(0) at import": "import sys\nsys.exit(0)\n" + WRONG,
    "os._exit(0) at import": "import os\nos._exit(0)\n" + WRONG,
    "os._exit(0) inside the call": "import os\ndef add(a, b):\n    os._exit(0)\n",
    "SystemExit from atexit": (
        "import atexit, sys\n"
        "def bye():\n"
        f"    print('{FAKE_LINES}')\n"
        "    raise SystemExit(0)\n"
        "atexit.register(bye)\n" + WRONG
    ),
    "monkeypatch assert and unittest": (
        "import builtins, unittest\n"
        "class Never(BaseException):\n    pass\n"
        "builtins.AssertionError = Never\n"
        "unittest.TestCase.assertEqual = lambda *a, **k: None\n"
        "unittest.TestCase.assertTrue = lambda *a, **k: None\n" + WRONG
    ),
    "patch the harness's modules": (
        "import json, os, sys, traceback\n"
        "json.dumps = lambda *a, **k: '{\"ok\": 3}'\n"
        "json.loads = lambda *a, **k: {'op': 'bool', 'id': 0, 'args': []}\n"
        "traceback.extract_tb = lambda *a, **k: []\n"
        "os._exit = lambda code=0: None\n"
        "sys.modules['inspect'] = None\n" + WRONG
    ),
    "a thread that keeps printing pass lines": (
        "import os, threading, time\n"
        "def spam():\n"
        "    while True:\n"
        f"        os.write(1, b'{FAKE_LINES}')\n"
        "        time.sleep(0.01)\n"
        "threading.Thread(target=spam, daemon=False).start()\n" + WRONG
    ),
    "a child that outlives the code and writes later": (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    time.sleep(0.5)\n"
        "    for fd in range(64):\n"
        "        try:\n"
        f"            os.write(fd, b'{FAKE_LINES}')\n"
        "        except OSError:\n"
        "            pass\n"
        "    os._exit(0)\n" + WRONG
    ),
    "write to other processes' descriptors through /proc": (
        "import os\n"
        "def cheat():\n"
        "    for pid in os.listdir('/proc'):\n"
        "        if pid.isdigit() and int(pid) != os.getpid():\n"
        "            try:\n"
        "                fds = os.listdir(f'/proc/{pid}/fd')\n"
        "            except OSError:\n"
        "                continue\n"
        "            for fd in fds:\n"
        "                try:\n"
        "                    w = os.open(f'/proc/{pid}/fd/{fd}', os.O_WRONLY | os.O_NONBLOCK)\n"
        f"                    os.write(w, b'{FAKE_LINES}')\n"
        "                    os.close(w)\n"
        "                except OSError:\n"
        "                    pass\n"
        "cheat()\n"
        "def add(a, b):\n    cheat()\n    return 0\n"
    ),
    "kill every process it can reach": (
        "import os, signal\n"
        "def add(a, b):\n"
        "    for sig in (signal.SIGSTOP, signal.SIGKILL):\n"
        "        try:\n"
        "            os.kill(-1, sig)\n"
        "        except OSError:\n"
        "            pass\n"
        "    return 0\n"
    ),
}


@pytest.fixture(autouse=True)
def bubblewrap(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = sandbox._bwrap_plan()
    if plan is None:
        pytest.skip("bubblewrap is not installed or cannot make namespaces here")
    monkeypatch.setattr(sandbox, "_plan", lambda: plan)


def grade(output: str, tests: str = ADD_TESTS, timeout_s: float = 10):
    sample = Sample(id="s", input=[{"role": "user", "content": "write it"}], reference={"tests": tests})
    return asyncio.run(code_tests(timeout_s=timeout_s)(output, sample))


def test_there_are_nineteen_attacks() -> None:
    assert len(ATTACKS) == 19


@pytest.mark.parametrize("name", list(ATTACKS))
def test_attack_does_not_pass(name: str) -> None:
    score = grade(f"```python\n{ATTACKS[name]}```", timeout_s=5)
    assert not score.passed, score
    assert score.value == 0.0, score


def test_the_same_tests_pass_a_correct_add() -> None:
    """The control: the attacks fail because they are wrong, not because the harness fails everyone."""
    score = grade("def add(a, b):\n    return a + b\n")
    assert score.passed and score.value == 1.0, score


def test_graders_in_parallel_threads_all_pass_a_correct_answer() -> None:
    """The score stage grades many answers at once, each pair of sandboxes from its own thread. A pipe
    end closed twice (once after start, again in cleanup) closed a number another thread had just been
    given: 'Bad file descriptor' scorer errors, 42 of 1,144 in a demo run. Here 24 graders run 8 at a time."""
    sample = Sample(id="s", input=[{"role": "user", "content": "write it"}], reference={"tests": ADD_TESTS})
    fn = code_tests(timeout_s=20)

    async def many() -> list:  # type: ignore[type-arg]
        sem = asyncio.Semaphore(8)

        async def one() -> object:
            async with sem:
                return await fn("def add(a, b):\n    return a + b\n", sample)

        return await asyncio.gather(*(one() for _ in range(24)))

    scores = asyncio.run(many())
    assert [(s.passed, s.error) for s in scores] == [(True, None)] * 24


HONEST = [
    # data of every kind the wire carries
    (
        "from collections import Counter, deque, OrderedDict, namedtuple\n"
        "from decimal import Decimal\nfrom fractions import Fraction\n"
        "P = namedtuple('P', 'x y')\n"
        "def f():\n"
        "    return (1, 2.5, 'x', b'\\x00', bytearray(b'a'), {1, 2}, frozenset({3}), {(1, 2): [None, True]},\n"
        "            Counter('aab'), deque([1]), Decimal('1.10'), Fraction(1, 3), complex(1, -2), float('inf'),\n"
        "            range(3), P(1, 2), OrderedDict(a=1), 10**30)\n"
        "import datetime as dt\n"
        "def later(when, days):\n    return when + dt.timedelta(days=days), dt.date(2026, 1, 31), dt.time(9, 30), dt.timedelta(hours=1)\n",
        "assert f() == (1, 2.5, 'x', b'\\x00', bytearray(b'a'), {1, 2}, frozenset({3}), {(1, 2): [None, True]},\n"
        "               {'a': 2, 'b': 1}, __import__('collections').deque([1]), __import__('decimal').Decimal('1.10'),\n"
        "               __import__('fractions').Fraction(1, 3), complex(1, -2), float('inf'), range(3), (1, 2), {'a': 1}, 10**30)\n"
        "from datetime import date, datetime, time, timedelta, timezone\n"
        "start = datetime(2026, 10, 5, 9, 0, tzinfo=timezone(timedelta(hours=2)))\n"
        "assert later(start, 1) == (datetime(2026, 10, 6, 7, 0, tzinfo=timezone.utc), date(2026, 1, 31), time(9, 30), timedelta(seconds=3600))\n",
    ),
    # a class with methods, state kept in the code's process
    (
        "class Stack:\n"
        "    def __init__(self):\n        self.items = []\n"
        "    def push(self, x):\n        self.items.append(x)\n"
        "    def pop(self):\n        return self.items.pop()\n"
        "    def __len__(self):\n        return len(self.items)\n",
        "s = Stack()\ns.push(1)\ns.push(2)\nassert len(s) == 2\nassert s.pop() == 2\nassert s.items == [1]\n",
    ),
    # generators, keyword arguments, exceptions the tests expect, a module the code imported
    (
        "import math\n"
        "def count(n, *, step=1):\n    yield from range(0, n, step)\n"
        "def root(x):\n"
        "    if x < 0:\n        raise ValueError('negative')\n"
        "    return math.sqrt(x)\n",
        "assert list(count(5, step=2)) == [0, 2, 4]\n"
        "assert math.isclose(root(2), 1.41421356, rel_tol=1e-6)\n"
        "try:\n    root(-1)\nexcept ValueError as e:\n    assert 'negative' in str(e)\nelse:\n    raise AssertionError('no error')\n"
        "assert root(4) == 2\n",
    ),
    # HumanEval style: check(candidate), and `from solution import`
    (
        "def incr_list(l):\n    return [x + 1 for x in l]\n",
        "from solution import incr_list as f\n"
        "def check(candidate):\n    assert candidate([1, 2]) == [2, 3]\n    assert candidate([]) == []\n"
        "check(f)\nassert f([0]) == [1]\n",
    ),
]


@pytest.mark.parametrize(("code", "tests"), HONEST)
def test_honest_answers_still_pass(code: str, tests: str) -> None:
    score = grade(f"```python\n{code}```", tests)
    assert score.passed, score


def test_honest_answer_that_is_wrong_still_fails() -> None:
    score = grade("def incr_list(l):\n    return l\n", HONEST[3][1])
    assert not score.passed and "AssertionError" in score.explanation


def test_a_callback_from_the_tests_is_refused_with_a_reason() -> None:
    score = grade("def apply(f, x):\n    return f(x)\n", "assert apply(lambda v: v + 1, 1) == 2\n")
    assert not score.passed and "only data crosses" in score.explanation
