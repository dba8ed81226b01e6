"""The example workspace that `evals init` copies and `evals demo` runs.

A broken example is the first thing a new user meets, so every file in it
must load, every sample must be a valid Sample, every code sample must grade
the way its reference says (the solution passes, the buggy one fails), the
shipped traffic log must be exactly what the generator writes, and the
shipped suite exactly what the README's import command makes of that log.
"""

from __future__ import annotations

import asyncio
import gzip
import importlib.util
import json
import os
import random
import re
import shlex
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from types import ModuleType

import jsonschema
import pytest

import evals
from evals.config import load_runner, load_suite
from evals.providers.base import Completion, Status
from evals.suite.sample import Sample

EXAMPLES = Path(evals.__file__).resolve().parent / "examples"
WORKSPACE = EXAMPLES / "workspace"
SUITE_DIR = WORKSPACE / "tasks" / "support"
RUNNERS = sorted((WORKSPACE / "runners").glob("*.yaml"))
GENERATOR = EXAMPLES / "make_support_suite.py"
TRAFFIC = EXAMPLES / "traffic" / "support-traffic.jsonl.gz"
REPO = EXAMPLES.parent.parent
SUITE_FILES = ("samples.jsonl", "suite.yaml", "workload.json", "import_report.json")


def _samples() -> list[dict]:
    with open(SUITE_DIR / "samples.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@cache
def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_support_suite", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def _tasks() -> dict[str, dict]:
    """The generator's tasks by id: what each sample was made from, buggy solutions included."""
    return {t["id"]: t for t in _generator().build()}


def _by_name() -> dict:
    return {p.stem: load_runner(p) for p in RUNNERS}


@pytest.mark.parametrize("path", RUNNERS, ids=lambda p: p.stem)
def test_runner_profile_loads_and_is_named_after_its_file(path: Path) -> None:
    runner = load_runner(path)
    assert runner.name == path.stem


def test_every_simulated_runner_twins_a_real_one() -> None:
    """The demo's figures stand in for the real runners', so twins must share model, role and pricing."""
    runners = _by_name()
    sims = {n: r for n, r in runners.items() if r.simulated}
    assert len(sims) == 4
    for name, sim in sims.items():
        assert "SIMULATED" in sim.description
        assert sim.concurrency == 32
        twins = [r for r in runners.values() if not r.simulated and r.model == sim.model]
        assert len(twins) == 1, f"{name} has no single real twin"
        twin = twins[0]
        assert sim.pricing == twin.pricing, name
        assert sim.role == twin.role, name
        expected_protocol = "anthropic" if twin.provider == "anthropic" else "openai"
        assert sim.simulate.protocol == expected_protocol, name
    assert sorted(n for n, r in runners.items() if r.role == "reference") == ["claude-sonnet-5.5", "claude-sonnet-5.5-sim"]


def test_suite_loads_and_covers_every_category() -> None:
    suite = load_suite(SUITE_DIR)
    categories = {s["category"] for s in _samples()}
    assert set(suite.categories) == categories
    assert suite.scorers_for("triage")[0].name == "label"
    w = suite.workload
    assert w is not None and w["volume_from"] == "timestamps" and w["estimated"] is False
    # 320 logged requests over 7 days, 1 in 500 logged: 320 / 7 / 0.002 = 22,857.1 a day; a working-hours peak.
    assert (w["requests"], w["days_observed"], w["requests_per_day"]) == (320, 7, 22857.1)
    assert 0.1 < w["peak_hour_share"] < 0.25
    assert set(w["categories"]) == categories


def test_samples_are_valid_and_varied() -> None:
    rows = _samples()
    samples = [Sample.model_validate(r) for r in rows]
    assert len(samples) >= 200
    counts: dict[str, int] = {}
    for s in samples:
        counts[s.category] = counts.get(s.category, 0) + 1
        assert s.id.startswith(f"{s.category}-")
        roles = [m["role"] for m in s.input]
        # agent conversations may carry an earlier tool call and its result after the question
        assert roles == ["system", "user"] or (s.category == "agent" and roles == ["system", "user", "assistant", "tool"]), s.id
        assert s.metadata["source"].startswith("support-traffic.jsonl.gz:")
        assert s.metadata["reference_status"] == "ok", s.id
        assert isinstance(s.reference, str) and s.reference, s.id
    assert len(counts) >= 4, counts
    assert sorted(s.id for s in samples) == sorted(_tasks()), "every task of the generator, once"
    # The simulated server answers by the last user message: each must name one sample.
    last_user = [s.input[-1]["content"] for s in samples]
    assert len(last_user) == len(set(last_user))


def _builtin_scorers() -> dict:
    pytest.importorskip("evals.scoring.builtin", reason="built-in scorers not installed yet")
    from evals.scoring.base import registered

    known = registered()
    if "code_tests" not in known:
        pytest.skip("the code_tests scorer is not registered yet")
    return known


def test_suite_scorers_build_with_these_arguments() -> None:
    """Scorer names and arguments are otherwise only checked when a run builds them."""
    _builtin_scorers()
    from evals.scoring.stage import check_scorers

    check_scorers(load_suite(SUITE_DIR))


def test_reference_answers_pass_and_buggy_code_fails() -> None:
    """Graded by the suite's own scorers: a model answering with the reference
    (JSON for extraction, the solution for code) passes every sample, and the
    buggy code fails, so the demo's accuracies mean what the runners say."""
    _builtin_scorers()
    from evals.scoring.base import build
    from evals.scoring.passrule import combine

    suite = load_suite(SUITE_DIR)
    fns = {c: [(spec, build(spec.name, spec.args)) for spec in suite.scorers_for(c)] for c in suite.categories}

    async def grade(sample: Sample, output: str, calls: list | None = None) -> bool:
        c = Completion(status=Status.ok, text=output, tool_calls=calls or [])
        results = [(spec, await fn(c, sample)) for spec, fn in fns[sample.category]]
        return combine(results, suite.pass_rule_for(sample.category))[1]

    async def check_all() -> list[str]:
        wrong = []
        for s in map(Sample.model_validate, _samples()):
            # an agent's answer is its tool calls (OpenAI shape), every other answer its text
            calls = [{"type": "function", "function": c} for c in json.loads(s.reference)] if s.category == "agent" else None
            if not await grade(s, "" if calls else s.reference, calls):
                wrong.append(f"{s.id}: reference fails")
            if s.category == "code" and await grade(s, f"```python\n{_tasks()[s.id]['reference']['wrong_solution']}```"):
                wrong.append(f"{s.id}: wrong_solution passes")
        return wrong

    wrong = asyncio.run(check_all())
    assert not wrong, wrong


def test_references_satisfy_their_scorers() -> None:
    """A reference that its own scorer would reject makes a perfect model look wrong."""
    suite = load_suite(SUITE_DIR)
    labels = suite.scorers_for("triage")[0].args["labels"]
    schema = suite.scorers_for("extract")[0].args["schema"]
    for s in _samples():
        if s["category"] == "triage":
            assert s["reference"] in labels, s["id"]
        elif s["category"] == "extract":
            jsonschema.validate(json.loads(s["reference"]), schema)
        elif s["category"] == "code":
            assert s["reference"].startswith("```python\n") and s["reference"].endswith("```"), s["id"]
            assert s["metadata"]["tests"] == _tasks()[s["id"]]["reference"]["tests"], "tests are kept verbatim"


def _exits_zero(code: str) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "check.py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(code)
        try:
            proc = subprocess.run([sys.executable, "-I", path], cwd=tmp, capture_output=True, timeout=20)
        except subprocess.TimeoutExpired:
            return False
        return proc.returncode == 0


def test_code_solutions_pass_and_wrong_solutions_fail() -> None:
    code = [s for s in _tasks().values() if s["category"] == "code"]
    assert len(code) >= 20
    jobs = []
    for s in code:
        ref = s["reference"]
        jobs.append((s["id"], "solution", ref["solution"] + "\n\n" + ref["tests"], True))
        jobs.append((s["id"], "wrong_solution", ref["wrong_solution"] + "\n\n" + ref["tests"], False))
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda job: _exits_zero(job[2]), jobs))
    wrong = [f"{sid} {which}: expected {'pass' if want else 'fail'}" for (sid, which, _, want), got in zip(jobs, results)
             if got != want]
    assert not wrong, wrong


def test_generator_reproduces_the_shipped_traffic_log(tmp_path: Path) -> None:
    out = tmp_path / "traffic.jsonl.gz"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    proc = subprocess.run([sys.executable, str(GENERATOR), "--traffic", str(out), "--no-import"], capture_output=True,
                          text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    # The lines, not the gzip bytes: another zlib may compress the same text differently.
    assert gzip.decompress(out.read_bytes()) == gzip.decompress(TRAFFIC.read_bytes()), (
        "support-traffic.jsonl.gz is stale: run python evals/examples/make_support_suite.py")
    assert TRAFFIC.stat().st_size < 300_000


def test_documented_import_rebuilds_the_shipped_suite(tmp_path: Path) -> None:
    """The README's command, run on the shipped log, writes exactly the shipped suite."""
    command = _generator().IMPORT_COMMAND
    readme = REPO / "README.md"
    if readme.exists():  # shown on several lines, continued with backslashes
        shown = re.sub(r"\s*\\\n\s*", " ", readme.read_text(encoding="utf-8"))
        assert command in shown, "the README must show the rebuild command"
    args = shlex.split(command)
    assert args[0] == "evals"
    proc = subprocess.run([sys.executable, "-m", "evals.cli", *args[1:], "--workspace", str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    built = tmp_path / "tasks" / "support"
    assert sorted(p.name for p in built.iterdir()) == sorted(SUITE_FILES)
    stale = "tasks/support is stale: run python evals/examples/make_support_suite.py"
    for name in ("samples.jsonl", "suite.yaml", "workload.json"):
        assert (built / name).read_bytes() == (SUITE_DIR / name).read_bytes(), f"{name}: {stale}"
    new, shipped = (json.loads((d / "import_report.json").read_text()) for d in (built, SUITE_DIR))
    for report in (new, shipped):
        del report["created_at"], report["suite_dir"]
    assert new == shipped, f"import_report.json: {stale}"


def test_import_cleaned_the_log() -> None:
    """What the example log holds besides one answered request per task, and what became of it."""
    report = json.loads((SUITE_DIR / "import_report.json").read_text())
    # 282 lines of text traffic (280 records, 2 broken) + 40 agent and structured-output requests
    assert (report["records"], report["skipped_total"], report["sampling"]["selected"]) == (320, 2, 286)
    assert report["dedupe"] | {"near_threshold": None} == {
        "exact": 22, "near": 12, "kept": 286, "near_threshold": None, "retries_used": 6}
    assert report["references"] == {"ok": 314, "error": 4, "truncated": 2}
    assert report["references_in_samples"] == {"ok": 286}
    assert {"EMAIL", "PHONE", "CARD", "IBAN", "IP", "SECRET"} <= set(report["redaction"]["in_samples"])
    assert report["warnings"] == []
    text = (SUITE_DIR / "samples.jsonl").read_text(encoding="utf-8")
    pasted = [snippet for snippets in _generator().pasted_secrets(random.Random(f"{_generator().SEED}-traffic")).values()
              for snippet in snippets]
    assert len(pasted) == 6
    for value in ("4000 0566 5566 5556", "GB33 BUKB", "IOSFODNN7", "EXAMPLEKEY", "Tr0ub4dor", "203.0.113.42",
                  re.search(r"lw_live_\w+", pasted[2]).group()):
        assert value in "".join(pasted) and value not in text, value
    for s in _samples():
        prompt = "\n".join(m["content"] for m in s["input"])
        assert not re.search(r"\w@\w", prompt), f"{s['id']}: emails are placeholders"


def test_no_secret_literal_in_the_example_sources() -> None:
    """The fake credentials are assembled from pieces, so secret scanners have nothing to flag."""
    pattern = re.compile(r"sk-(ant-)?[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}")
    for path in (GENERATOR, EXAMPLES / "traffic" / "support-scorers.yaml", *SUITE_DIR.iterdir()):
        assert not pattern.search(path.read_text(encoding="utf-8")), path
