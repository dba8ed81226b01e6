"""Bad input files end with a clear message naming the file (and line), exit 2, and nothing written.

Each case breaks one file of a fresh `evals init` workspace and runs `evals run`.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

RUNNER = "llama-3.3-70b-sim"


def evals(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "evals.cli", *args], capture_output=True, text=True, env={**os.environ, "CI": "1"}, timeout=300, check=False)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("template")
    assert evals("init", str(ws)).returncode == 0
    return ws


@pytest.fixture
def ws(template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(template, tmp_path / "ws"))


def suite_dir(ws: Path) -> Path:
    return ws / "tasks" / "support"


def set_samples(ws: Path, name: str) -> None:
    p = suite_dir(ws) / "suite.yaml"
    p.write_text(p.read_text().replace("samples: samples.jsonl", f"samples: {name}"))


def bad_byte_in_suite(ws: Path) -> None:
    p = suite_dir(ws) / "suite.yaml"
    lines = p.read_bytes().split(b"\n")
    lines[1] += b" # caf\xe9"  # Latin-1, not UTF-8
    p.write_bytes(b"\n".join(lines))


def bad_byte_in_samples(ws: Path) -> None:
    p = suite_dir(ws) / "samples.jsonl"
    lines = p.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b'"', b'"\xff', 1)
    p.write_bytes(b"\n".join(lines))


def samples_is_a_directory(ws: Path) -> None:
    (suite_dir(ws) / "folder").mkdir()
    set_samples(ws, "folder")


def gz_that_is_not_gzip(ws: Path) -> None:
    shutil.copy(suite_dir(ws) / "samples.jsonl", suite_dir(ws) / "samples.jsonl.gz")
    set_samples(ws, "samples.jsonl.gz")


def gz_cut_short(ws: Path) -> None:
    packed = gzip.compress((suite_dir(ws) / "samples.jsonl").read_bytes())
    (suite_dir(ws) / "samples.jsonl.gz").write_bytes(packed[: len(packed) // 2])
    set_samples(ws, "samples.jsonl.gz")


def bad_byte_in_json_array(ws: Path) -> None:
    (suite_dir(ws) / "samples.json").write_bytes(b'[\n{"input": "hi"},\n{"input": "caf\xe9"}\n]\n')
    set_samples(ws, "samples.json")


def traversing_name(ws: Path) -> None:
    p = suite_dir(ws) / "suite.yaml"
    p.write_text(p.read_text().replace("name: support", "name: ../../../../x", 1))


CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "non-UTF-8 suite.yaml": (bad_byte_in_suite, r"suite\.yaml:2: not UTF-8"),
    "non-UTF-8 samples.jsonl": (bad_byte_in_samples, r"samples\.jsonl:3: not UTF-8 \(byte 0xff"),
    "samples path is a directory": (samples_is_a_directory, r"suite\.yaml:\d+: `samples`: .*folder is a directory"),
    "a .gz that is not gzip": (gz_that_is_not_gzip, r"samples\.jsonl\.gz: not a readable gzip file"),
    "a .gz cut short": (gz_cut_short, r"samples\.jsonl\.gz(:\d+)?: not a readable gzip file"),
    "non-UTF-8 JSON array": (bad_byte_in_json_array, r"samples\.json:3: not UTF-8"),
    "a suite name that leaves the workspace": (traversing_name, r"suite\.yaml:\d+: `name`: .*use letters, digits"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_fails_clearly_and_writes_nothing(ws: Path, case: str) -> None:
    breaks, message = CASES[case]
    breaks(ws)
    r = evals("run", "-w", str(ws), "--suite", "support", "--runner", RUNNER)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert re.search(message, r.stderr), r.stderr
    assert not (ws / "reports").exists() or not any((ws / "reports").iterdir())
    assert not (ws.parent / "x").exists()
