"""Extension points: providers and scorers by name, from an installed package's entry points and from
plugin files, with name clashes as errors. The example package in docs/examples/workload-evals-echo is
what the README tells a newcomer to copy; this test installs it (as pip would lay it out: the module
and a dist-info with its entry points) and runs it through the CLI."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from evals.registry import DuplicateNameError
from evals.scoring import load_plugin, registered, scorer

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples" / "workload-evals-echo"


def install_example(site: Path) -> None:
    """The example package as an installed distribution: its module, and a dist-info whose
    entry_points.txt is written from the example's own pyproject.toml."""
    meta = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    shutil.copy(EXAMPLE / "workload_evals_echo.py", site)
    info = site / f"workload_evals_echo-{meta['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n")
    lines = []
    for group, eps in meta["entry-points"].items():
        lines.append(f"[{group}]")
        lines += [f"{name} = {target}" for name, target in eps.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


def test_an_installed_package_adds_a_provider_a_scorer_and_a_report_section(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    install_example(site)
    ws = tmp_path / "ws"
    (ws / "tasks" / "s").mkdir(parents=True)
    (ws / "runners").mkdir()
    samples = [{"id": f"q{i}", "input": f"say hello {i}", "reference": f"SAY HELLO {i}"} for i in range(5)] + [{"id": "digits", "input": "1234", "reference": "1234"}]
    (ws / "tasks" / "s" / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    (ws / "tasks" / "s" / "suite.yaml").write_text(yaml.safe_dump({"name": "s", "samples": "samples.jsonl", "scorers": ["shouted"]}))
    runner = {"name": "echoer", "provider": "echo", "model": "echo-1", "pricing": {"self_hosted": {"gpu": "L4", "gpus": 1, "cloud_price_per_gpu_hour": 0.8}}}
    (ws / "runners" / "echoer.yaml").write_text(yaml.safe_dump(runner))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    out = subprocess.run([sys.executable, "-m", "evals.cli", "run", "-w", str(ws), "--suite", "s", "--runner", "echoer", "-q"], env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    (page,) = (ws / "reports").glob("*/index.html")
    html = page.read_text()
    # The package's section is on the page, after the failure explorer and before the method, and in the navigation.
    assert '<a href="#echo-notes">Echo notes</a>' in html
    assert html.index('id="failures"') < html.index('id="echo-notes"') < html.index('id="method"')
    assert "echoer: 5 of 6 completed." in html
    db = sqlite3.connect(ws / "reports" / "evals.sqlite")
    rows = dict(db.execute("SELECT o.sample_id, o.passed FROM outcomes o"))
    texts = dict(db.execute("SELECT sample_id, text FROM attempts WHERE purpose='run'"))
    # The echo provider answered every sample with its prompt upper-cased; `shouted` passes an answer
    # with at least one letter, all upper case: the five "SAY HELLO i", not "1234" (no letters).
    assert texts["q3"] == "SAY HELLO 3"
    assert rows == {**{f"q{i}": 1 for i in range(5)}, "digits": 0}
    # Without the package, the same runner is refused by name, with the known providers listed.
    plain = subprocess.run([sys.executable, "-m", "evals.cli", "run", "-w", str(ws), "--suite", "s", "--runner", "echoer", "--no-report", "-q"], env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)
    assert plain.returncode == 2
    assert "echoer.yaml" in plain.stderr and "unknown provider 'echo'" in plain.stderr and "openai_compatible" in plain.stderr


def test_two_scorers_under_one_name_are_an_error_naming_both() -> None:
    assert "exact" in registered()
    with pytest.raises(DuplicateNameError, match=r"two scorers are named 'exact': evals\.scoring\.builtin\.exact and (tests\.)?test_extensions\."):

        @scorer("exact")
        def exact():  # type: ignore[no-untyped-def]
            async def score(output, sample):  # type: ignore[no-untyped-def]
                raise AssertionError("never registered")

            return score

    assert registered()["exact"].factory.__module__ == "evals.scoring.builtin"  # the built-in still stands


def test_a_plugin_file_loaded_twice_registers_once(tmp_path: Path) -> None:
    plugin = tmp_path / "mine.py"
    plugin.write_text(
        "from evals.scoring import Score, scorer\n\n"
        "@scorer('ends_with_period_t1')\n"
        "def ends_with_period():\n"
        "    async def score(output, sample):\n"
        "        ok = output.rstrip().endswith('.')\n"
        "        return Score(value=float(ok), passed=ok)\n"
        "    return score\n"
    )
    load_plugin(plugin)
    load_plugin(plugin)  # the suite check and the score stage both load it: not a clash
    assert registered()["ends_with_period_t1"].sees == "text"
