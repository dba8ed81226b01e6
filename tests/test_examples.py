"""The example workspace that `evals init` copies and `evals demo` runs.

A broken example is the first thing a new user meets, so every file in it
must load, every sample must be a valid Sample, every code sample must grade
the way its reference says (the solution passes, the buggy one fails), and
the shipped samples must be exactly what the generator writes.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jsonschema
import pytest

import evals
from evals.config import load_runner, load_suite
from evals.suite.sample import Sample

EXAMPLES = Path(evals.__file__).resolve().parent / "examples"
WORKSPACE = EXAMPLES / "workspace"
SUITE_DIR = WORKSPACE / "tasks" / "support"
RUNNERS = sorted((WORKSPACE / "runners").glob("*.yaml"))
GENERATOR = EXAMPLES / "make_support_suite.py"


def _samples() -> list[dict]:
    with open(SUITE_DIR / "samples.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


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
    assert sorted(n for n, r in runners.items() if r.role == "reference") == ["claude-sonnet-4.5", "claude-sonnet-4.5-sim"]


def test_suite_loads_and_covers_every_category() -> None:
    suite = load_suite(SUITE_DIR)
    categories = {s["category"] for s in _samples()}
    assert set(suite.categories) == categories
    assert suite.scorers_for("triage")[0].name == "label"
    assert suite.workload is not None and suite.workload["estimated"] is True


def test_samples_are_valid_and_varied() -> None:
    rows = _samples()
    samples = [Sample.model_validate(r) for r in rows]
    assert len(samples) >= 200
    counts: dict[str, int] = {}
    for s in samples:
        counts[s.category] = counts.get(s.category, 0) + 1
        assert s.id.startswith(f"{s.category}-")
        assert [m["role"] for m in s.input] == ["system", "user"]
        assert s.metadata["source"] == "synthetic example traffic"
        assert s.reference not in (None, "", {})
    assert len(counts) >= 4, counts
    ids = [s.id for s in samples]
    assert len(ids) == len(set(ids))


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

    async def grade(sample: Sample, output: str) -> bool:
        results = [(spec, await fn(output, sample)) for spec, fn in fns[sample.category]]
        return combine(results, suite.pass_rule_for(sample.category))[1]

    async def check_all() -> list[str]:
        wrong = []
        for s in map(Sample.model_validate, _samples()):
            ref = s.reference
            if s.category == "code":
                if not await grade(s, f"```python\n{ref['solution']}```"):
                    wrong.append(f"{s.id}: solution fails")
                if await grade(s, f"```python\n{ref['wrong_solution']}```"):
                    wrong.append(f"{s.id}: wrong_solution passes")
            elif not await grade(s, ref if isinstance(ref, str) else json.dumps(ref)):
                wrong.append(f"{s.id}: reference fails")
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
            jsonschema.validate(s["reference"], schema)
        elif s["category"] == "code":
            assert set(s["reference"]) == {"solution", "wrong_solution", "tests"}, s["id"]


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
    code = [s for s in _samples() if s["category"] == "code"]
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


def test_generator_reproduces_the_shipped_file(tmp_path: Path) -> None:
    out = tmp_path / "samples.jsonl"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    proc = subprocess.run([sys.executable, str(GENERATOR), "--out", str(out)], capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == (SUITE_DIR / "samples.jsonl").read_bytes(), (
        "samples.jsonl is stale: run python evals/examples/make_support_suite.py")
