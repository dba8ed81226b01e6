"""Shared fixtures: a small workspace on disk and the simulated server on port 0."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from evals.config import SimBehaviour
from evals.sim import SimServer
from evals.suite.sample import Sample

# Set before any test module imports them: `datasets`, huggingface_hub and matplotlib cache under the home
# directory by default. The tests (and the CLI processes they start, which inherit this environment)
# write their caches into one temporary directory instead, removed when the session ends, and never
# go online for a dataset.
_CACHE = Path(tempfile.mkdtemp(prefix="evals-tests-cache-"))
os.environ.update({
    "HF_HOME": str(_CACHE / "huggingface"),
    "HF_DATASETS_CACHE": str(_CACHE / "huggingface" / "datasets"),
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "MPLCONFIGDIR": str(_CACHE / "matplotlib"),
})

LABELS = ["billing", "bug", "outage", "account_access"]


def make_samples(n: int = 40) -> list[dict[str, Any]]:
    """Two categories: labels (exact) and short answers (exact, normalised)."""
    out = []
    for i in range(n):
        if i % 2 == 0:
            out.append({"id": f"triage-{i:03d}", "input": [{"role": "system", "content": "Answer with the label only."}, {"role": "user", "content": f"Ticket {i}: my invoice #{i} is wrong"}], "reference": LABELS[i % 4], "category": "triage"})
        else:
            out.append({"id": f"fact-{i:03d}", "input": f"What is {i} plus {i}?", "reference": str(2 * i), "category": "factual"})
    return out


def write_workspace(root: Path, runners: dict[str, dict[str, Any]], n_samples: int = 40, suite_extra: dict[str, Any] | None = None) -> Path:
    (root / "tasks" / "mini").mkdir(parents=True, exist_ok=True)
    (root / "runners").mkdir(parents=True, exist_ok=True)
    with open(root / "tasks" / "mini" / "samples.jsonl", "w") as f:
        for s in make_samples(n_samples):
            f.write(json.dumps(s) + "\n")
    suite = {"name": "mini", "samples": "samples.jsonl", "scorers": ["exact"], "categories": {"triage": {"scorers": [{"name": "label", "args": {"labels": LABELS}}]}}, **(suite_extra or {})}
    (root / "tasks" / "mini" / "suite.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    for name, body in runners.items():
        (root / "runners" / f"{name}.yaml").write_text(yaml.safe_dump({"name": name, **body}, sort_keys=False))
    return root


def sim_runner(model: str, protocol: str = "openai", **behaviour: Any) -> dict[str, Any]:
    """A simulated runner served by the in-process simulated server."""
    return {
        "provider": "simulated",
        "model": model,
        "concurrency": 8,
        "simulate": {"protocol": protocol, "ttft_ms": 0, "tokens_per_second": 1e9, **behaviour},
        "retry": {"max_attempts": 4, "base_delay_s": 0.01, "max_delay_s": 0.05},
        "pricing": {"api": {"model": "claude-sonnet-4-5"}} if protocol == "anthropic" else {"self_hosted": {"gpu": "A100-80GB", "gpus": 4, "cloud_price_per_gpu_hour": 2.0}},
    }


@pytest.fixture
def samples() -> list[Sample]:
    return [Sample.model_validate({**s, "input": s["input"] if isinstance(s["input"], list) else [{"role": "user", "content": s["input"]}]}) for s in make_samples()]


@pytest.fixture
def sim_factory(samples: list[Sample]) -> Iterator[Callable[..., SimServer]]:
    started: list[SimServer] = []

    def start(models: dict[str, dict[str, Any]] | None = None) -> SimServer:
        behaviours = {m: SimBehaviour.model_validate({"ttft_ms": 0, "tokens_per_second": 1e9, **b}) for m, b in (models or {"m": {}}).items()}
        server = SimServer(behaviours, samples).start()
        started.append(server)
        return server

    yield start
    for s in started:
        s.stop()


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_CACHE, ignore_errors=True)


@pytest.fixture
def wire() -> Iterator[Any]:
    """Start hand-written loopback servers (tests/wire_servers.py) for the test; all stopped after it."""
    from tests.wire_servers import WireServer

    started: list[WireServer] = []

    def start(reply: Any) -> WireServer:
        s = WireServer(reply).start()
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


CHROMIUM = Path("/usr/bin/chromium")
"""The system Chromium (Debian's `chromium`) the browser tests drive; playwright never downloads one here."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium for a test file; the tests skip, saying why, without playwright or Chromium."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not CHROMIUM.exists():
        pytest.skip(f"no system Chromium at {CHROMIUM}")
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=args)
        yield b
        b.close()
