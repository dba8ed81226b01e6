"""The sandbox and the code_tests scorer against hostile and broken code.

Every hostile run must end as a failure within its limit (plus generous slack:
the machine is shared, so no test asserts on speed) and leave no process
running. Runs that can leave processes behind re-execute themselves with a
unique marker in their command line, so survivors can be found in /proc.

The sandbox tests run under both isolation modes where this machine allows:
bubblewrap (skipped where it does not work) and rlimits-only (forced).
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid

import pytest

from evals.scoring import sandbox
from evals.scoring.code import code_tests, extract_code
from evals.scoring.sandbox import OUTPUT_CAP_BYTES, SandboxResult, isolation_available, run_python
from evals.suite.sample import Sample

SLACK_S = 10.0
"""Allowed beyond a run's own limit before a test calls it a hang."""


@pytest.fixture(params=["bubblewrap", "rlimits-only"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> sandbox._Plan:
    """Run the test under one isolation mode; `run_python` then uses that plan."""
    if request.param == "bubblewrap":
        plan = sandbox._bwrap_plan()
        if plan is None:
            pytest.skip("bubblewrap is not installed or cannot make namespaces here")
    else:
        plan = sandbox._fallback_plan()
    monkeypatch.setattr(sandbox, "_plan", lambda: plan)
    return plan


def marked(body: str) -> tuple[str, str]:
    """Code that re-executes `body` with a unique marker in its argv, which
    every process it forks keeps; and the marker."""
    marker = f"evals-sandbox-test-{uuid.uuid4().hex}"
    code = f"import os, sys\nos.execv(sys.executable, [sys.executable, '-c', {body!r}, {marker!r}])\n"
    return code, marker


def survivors(marker: str, settle_s: float = 2.0) -> list[int]:
    """Processes whose command line holds `marker`, after giving the kernel a moment to finish reaping."""
    deadline = time.monotonic() + settle_s
    while True:
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/cmdline", "rb") as f:
                        if marker.encode() in f.read():
                            found.append(int(entry))
                except OSError:
                    continue
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def assert_failed_within(result: SandboxResult, timeout_s: float) -> None:
    assert result.exit_code != 0 or result.timed_out, result
    assert result.wall_s < timeout_s + SLACK_S, result


# ---------------------------------------------------------------- the sandbox


def test_isolation_is_reported() -> None:
    assert isolation_available() in ("bubblewrap", "rlimits-only")


def test_fork_bomb_ends_and_leaves_nothing(mode: sandbox._Plan) -> None:
    if not mode.process_limit_enforced:
        pytest.skip("no process limit holds in this mode here (root, interpreter unreachable as nobody)")
    code, marker = marked("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n")
    result = run_python(code, timeout_s=2, max_procs=32)
    assert_failed_within(result, 2)
    assert survivors(marker) == []


def test_endless_loop_is_stopped(mode: sandbox._Plan) -> None:
    result = run_python("while True:\n    pass\n", timeout_s=2)
    assert_failed_within(result, 2)
    assert result.timed_out or result.killed_reason == "CPU time limit"


def test_sleep_beyond_the_wall_clock_limit(mode: sandbox._Plan) -> None:
    result = run_python("import time\ntime.sleep(60)\n", timeout_s=2)
    assert_failed_within(result, 2)
    assert result.timed_out and result.killed_reason == "wall-clock timeout"


def test_memory_bomb_hits_the_memory_limit(mode: sandbox._Plan) -> None:
    result = run_python("hoard = []\nwhile len(hoard) < 80:\n    hoard.append(bytearray(50 << 20))\n", memory_mb=256)
    assert_failed_within(result, 10)
    assert "MemoryError" in result.stderr


def test_huge_file_hits_the_file_size_limit(mode: sandbox._Plan) -> None:
    code = "with open('big.bin', 'wb') as f:\n    for _ in range(100):\n        f.write(b'x' * (1 << 20))\n"
    result = run_python(code, max_file_mb=16)
    assert_failed_within(result, 10)
    assert "File too large" in result.stderr


@pytest.mark.parametrize("where", ["loopback", "external"])
def test_no_network(mode: sandbox._Plan, where: str) -> None:
    if mode.isolation != "bubblewrap":
        pytest.skip("rlimits-only does not isolate the network")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        address = listener.getsockname() if where == "loopback" else ("1.1.1.1", 80)
        code = f"import socket\nsocket.create_connection({address!r}, timeout=3)\nprint('connected')\n"
        result = run_python(code, timeout_s=5)
        assert_failed_within(result, 5)
        assert "connected" not in result.stdout
        with pytest.raises(BlockingIOError):
            listener.accept()


def test_environment_is_empty(mode: sandbox._Plan, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALS_TEST_SECRET", "xyz-do-not-leak")
    code = "import os\nprint(sorted(os.environ))\nprint(open('/proc/self/environ').read())\n"
    result = run_python(code)
    assert result.exit_code == 0, result
    assert "xyz-do-not-leak" not in result.stdout
    assert "EVALS_TEST_SECRET" not in result.stdout


def test_child_left_behind_is_killed(mode: sandbox._Plan) -> None:
    body = (
        "import subprocess, sys\n"
        "sleeper = [sys.executable, '-c', 'import time; time.sleep(100)', sys.argv[-1]]\n"
        "subprocess.Popen(sleeper, start_new_session=True)\n"
        "print('left a child')\n"
    )
    code, marker = marked(body)
    result = run_python(code, timeout_s=5)
    assert result.exit_code == 0 and "left a child" in result.stdout, result
    assert result.wall_s < 5 + SLACK_S
    assert survivors(marker) == []


def test_output_is_capped(mode: sandbox._Plan) -> None:
    result = run_python("for i in range(200_000):\n    print('spam' * 25)\nprint('the end')\n")
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.encode()) < OUTPUT_CAP_BYTES + 200
    assert result.stdout.startswith("spam") and result.stdout.endswith("the end\n")
    assert "bytes not kept" in result.stdout


def test_stdin_is_delivered(mode: sandbox._Plan) -> None:
    result = run_python("import sys\nprint(len(sys.stdin.read()))\n", stdin=b"x" * 300_000)
    assert result.exit_code == 0 and result.stdout == "300000\n", result


# ---------------------------------------------------------------- the scorer

ADD_TESTS = "assert add(1, 2) == 3\nassert add(2, 0) == 2\n"


def sample(tests: object = ADD_TESTS, where: str = "reference") -> Sample:
    if where == "reference":
        return Sample(id="s", input=[{"role": "user", "content": "write add"}], reference={"tests": tests})
    return Sample(id="s", input=[{"role": "user", "content": "write add"}], metadata={"tests": tests})


def grade(output: str, s: Sample | None = None, **args: object):
    return asyncio.run(code_tests(**args)(output, s or sample()))


def test_correct_code_passes() -> None:
    score = grade("Here you go:\n```python\ndef add(a, b):\n    return a + b\n```\nDone.")
    assert score.passed and score.value == 1.0 and score.error is None
    assert score.details["tests_total"] == 2 and score.details["tests_passed"] == 2
    assert score.details["isolation"] == isolation_available()


def test_failing_assertion_fails_with_explanation() -> None:
    score = grade("def add(a, b):\n    return a - b\n")
    assert not score.passed and score.value == 0.5
    assert "assert add(1, 2) == 3" in score.explanation and "AssertionError" in score.explanation


def test_test_functions_are_called() -> None:
    tests = (
        "def test_small():\n    assert add(1, 1) == 2\n\n"
        "def test_big():\n    assert add(10**6, 1) == 10**6 + 1, 'big'\n"
    )
    score = grade("def add(a, b):\n    return a + b if a < 100 else 0\n", sample(tests, where="metadata"))
    assert not score.passed and score.value == 0.5
    assert "test_big" in score.explanation and "AssertionError: big" in score.explanation


@pytest.mark.parametrize("exit_call", ["sys.exit(0)", "os._exit(0)"])
def test_exit_before_the_tests_run_fails(exit_call: str) -> None:
    score = grade(f"import os, sys\n{exit_call}\ndef add(a, b):\n    return a + b\n")
    assert not score.passed and score.value == 0.0


def test_exit_inside_a_test_fails() -> None:
    score = grade("import os\ndef add(a, b):\n    os._exit(0)\n")
    assert not score.passed and score.value == 0.0
    assert "the code's process ended" in score.explanation


def test_endless_code_times_out_and_keeps_earlier_passes() -> None:
    score = grade("def add(a, b):\n    while b == 0:\n        pass\n    return a + b\n", timeout_s=2)
    assert not score.passed and score.details["timed_out"]
    assert score.value == 0.5 and "timed out" in score.explanation


def test_chatty_code_still_graded() -> None:
    score = grade("def add(a, b):\n    print('x' * 200_000)\n    return a + b\n")
    assert score.passed, score


def test_missing_tests_are_an_error_not_a_pass() -> None:
    score = grade("def add(a, b):\n    return a + b\n", Sample(id="s", input=[{"role": "user", "content": "x"}]))
    assert not score.passed and score.error is not None


def test_unparseable_tests_are_an_error() -> None:
    score = grade("def add(a, b):\n    return a + b\n", sample("assert add(1, 2) ==\n"))
    assert not score.passed and score.error is not None and "do not parse" in score.error


def test_tests_as_a_list_of_asserts() -> None:
    score = grade("def add(a, b):\n    return a + b\n", sample(["assert add(1, 2) == 3", "assert add(0, 0) == 0"]))
    assert score.passed and score.details["tests_total"] == 2


def test_bad_scorer_arguments_fail_early() -> None:
    with pytest.raises(ValueError, match="timeout_s"):
        code_tests(timeout_s=0)
    with pytest.raises(ValueError, match="memory_mb"):
        code_tests(memory_mb="lots")


@pytest.mark.parametrize(
    ("output", "code"),
    [
        ("```js\nlet a\n```\ntext\n```python\nx = 1\n```\n```python\nx = 2\n```\n", "x = 2\n"),
        ("```\nx = 3\n```\nand\n```text\nx = 4\n```", "x = 4\n"),
        ("x = 5", "x = 5"),
    ],
)
def test_extract_code(output: str, code: str) -> None:
    assert extract_code(output) == code


def test_a_failing_statement_between_asserts_fails_the_sample() -> None:
    """A check written as `if ...: raise AssertionError` is not an assert, but its failure must still fail."""
    import asyncio

    from evals.scoring.base import build
    from evals.suite.sample import Sample

    tests = "assert add(1, 1) == 2\nif add(2, 2) != 4:\n    raise AssertionError('2+2')\n"
    sample = Sample(id="x", input=[{"role": "user", "content": "write add"}], reference={"tests": tests})
    score = asyncio.run(build("code_tests", {})("```python\ndef add(a, b):\n    return a + b if a == 1 else a + b + 1\n```", sample))
    assert not score.passed and "2+2" in score.explanation
