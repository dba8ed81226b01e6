"""The README works when followed literally: every command of its fenced bash blocks is run here, in
a temporary copy of the repository's workspace, in README order, or checked when it cannot run here.

- `evals ...` runs, and must exit 0 unless EXPECTED says how it ends without a GPU box, a vLLM
  server or API keys; such an ending must be the message the README documents for it.
- `pip install ...` must install from the repository (`.`, with extras the project defines), never a
  package name from the index (the package is not published).
- `cd` moves the following commands; `export KEY=...` is not run, so the next command shows what
  happens without the key; `vllm serve`, the venv set-up and `python -m pytest` (this suite) are not run.

A new kind of command in the README fails here until this file says how to check it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
KEYS = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY")
EVALS = str(Path(sys.executable).with_name("evals"))


@dataclass(frozen=True)
class Expected:
    exit_code: int
    output: str
    """A line of what the command prints, as the README quotes it (or None where nothing is documented)."""
    documented: str | None
    why: str


EXPECTED: list[tuple[str, Expected]] = [
    (r"^evals import logs/gateway-", Expected(2, "does not exist", None, "a placeholder for your own logs")),
    (r"^evals run .*--runner llama-3\.3-70b-vllm\b", Expected(2, "ANTHROPIC_API_KEY", "set the environment variable ANTHROPIC_API_KEY", "no key here (the vLLM server is not reached: keys are checked first)")),
    (r"^evals measure --runner llama-3\.3-70b-fp8\b", Expected(1, "cannot start 'vllm'", "cannot start 'vllm': No\nsuch file or directory. Is it installed and on PATH?", "no vllm here")),
    (r"^evals run .*--runner llama-3\.3-70b-fp8\b", Expected(2, "ANTHROPIC_API_KEY", "set the environment variable ANTHROPIC_API_KEY", "no key here")),
    (r"^evals cost --runner llama-3\.3-70b-fp8\b", Expected(2, "--capacity llama-3.3-70b-fp8=TASKS_PER_HOUR", "`--capacity RUNNER=TASKS_PER_HOUR`", "nothing measured here")),
    (r"^evals run .*--runner claude-sonnet-[\d.]+ --runner gpt-5\b", Expected(2, "ANTHROPIC_API_KEY", "set the environment variable ANTHROPIC_API_KEY", "no keys here")),
]


def _blocks() -> list[tuple[int, list[str]]]:
    """(line of the block, its commands): continuations joined, comments and blank lines dropped, `&&` split."""
    out = []
    for m in re.finditer(r"^```(bash|sh|shell)\n(.*?)^```", README, re.S | re.M):
        text = m.group(2).replace("\\\n", " ")
        cmds = []
        for line in text.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"):
                cmds += [c.strip() for c in line.split("&&")]
        out.append((README[: m.start()].count("\n") + 1, cmds))
    return out


BLOCKS = _blocks()


def _check_pip(cmd: str) -> None:
    args = shlex.split(cmd)[2:]
    targets = [a for a in args if not a.startswith("-")]
    assert targets, cmd
    extras = set(PYPROJECT["project"]["optional-dependencies"])
    for t in targets:
        m = re.fullmatch(r"\.(?:\[([\w,-]+)\])?", t)
        assert m, f"README: `{cmd}` installs {t!r} from the index; the package is not published: install from the repository (pip install '.[extra]')"
        assert set((m.group(1) or "").split(",")) - {""} <= extras, f"README: `{cmd}` names an extra the project does not define ({sorted(extras)})"


CI_RUN = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()


def _check_pytest(cmd: str) -> None:
    declared = {m.split(":")[0] for m in PYPROJECT["tool"]["pytest"]["ini_options"]["markers"]}
    for marker in re.findall(r"-m (\w+)", cmd.split("pytest", 1)[1]):
        assert marker in declared, f"README: `{cmd}` selects an undeclared marker"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A copy of the repository's workspace (what the README's commands read): tasks, runners, examples."""
    root = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "tasks", root / "tasks")
    shutil.copytree(ROOT / "runners", root / "runners")  # a link to the example workspace's: copied as files
    shutil.copytree(ROOT / "evals" / "examples", root / "evals" / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    return {"root": root}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in KEYS}
    env["CI"] = "1"  # no progress bars
    return env


@pytest.mark.timeout(600)  # the demo block runs the example suite against four simulated runners
@pytest.mark.parametrize(("line", "commands"), BLOCKS, ids=[f"README.md:{n}" for n, _ in BLOCKS])
def test_readme_block(line: int, commands: list[str], workspace: dict[str, Path]) -> None:
    cwd = workspace["root"]
    for cmd in commands:
        where = f"README.md:{line}: `{cmd}`"
        if re.match(r"python3? -m venv |\. \.venv/bin/activate$", cmd):
            continue  # the environment this test already runs in
        if cmd.startswith("pip install "):
            _check_pip(cmd)
            continue
        if re.match(r"python3? -m pytest\b", cmd):
            _check_pytest(cmd)
            continue
        if cmd in ("ruff check .", "mypy"):
            assert f"\n{cmd}\n" in CI_RUN, f"{where}: .ci/run runs the same check"
            continue  # the lint itself is .ci/run's job, on the repository rather than this copy
        if m := re.match(r"export (\w+)=", cmd):
            assert m.group(1) in KEYS, f"{where}: only API keys are exported (and kept unset here)"
            continue
        if cmd.startswith("vllm serve "):
            continue  # needs a GPU box; the commands after it show what happens without one
        if cmd.startswith("cd "):
            cwd = cwd / cmd[3:].strip()
            assert cwd.is_dir(), where
            continue
        assert cmd.startswith("evals "), f"{where}: a command tests/test_readme.py does not know how to check"
        # The installed `evals` script, as the reader runs it (`python -m` would import the copy's evals/examples folder).
        r = subprocess.run([EVALS, *shlex.split(cmd)[1:]], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=540)
        said = r.stdout + r.stderr
        exp = next((e for pattern, e in EXPECTED if re.search(pattern, cmd)), None)
        if exp is None:
            assert r.returncode == 0, f"{where} exited {r.returncode}:\n{said[-2000:]}"
            assert "Traceback" not in said, f"{where}:\n{said[-2000:]}"
            continue
        assert r.returncode == exp.exit_code and exp.output in said, f"{where} ({exp.why}): expected exit {exp.exit_code} saying {exp.output!r}, got {r.returncode}:\n{said[-2000:]}"
        assert "Traceback" not in said, f"{where}:\n{said[-2000:]}"
        if exp.documented:
            assert exp.documented in README, f"{where}: the README does not document what it says without a GPU box or keys: {exp.documented!r}"


def test_every_expected_ending_matches_a_readme_command() -> None:
    """An EXPECTED entry no README command uses is a check that silently stopped checking."""
    commands = [c for _, cmds in BLOCKS for c in cmds]
    for pattern, _ in EXPECTED:
        assert any(re.search(pattern, c) for c in commands), pattern


def test_the_demo_wrote_a_simulated_report(workspace: dict[str, Path]) -> None:
    """Runs after the blocks: `evals demo --out demo` left a report that says SIMULATED."""
    reports = sorted((workspace["root"] / "demo" / "reports").glob("*/index.html"))
    assert reports and "SIMULATED" in reports[-1].read_text(encoding="utf-8")
