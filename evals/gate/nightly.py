"""`evals nightly`: the config, the store lock, and what a nightly writes after its run.

The run itself is `api.run` with fresh requests (a nightly that reused
yesterday's answers would measure yesterday's model); `evals.api.nightly`
strings the stages together. This module holds what is nightly-specific.

The lock: two nightlies (an overlong one and the next night's, or a cron job
and a manual rerun) must never write the same store at once. An exclusive
`fcntl.flock` on a lock file next to the store is taken without blocking; a
second nightly exits at once with exit code 2 (inconclusive: it did not run,
which is neither a pass nor a regression) and says who holds the lock, or,
with `--wait`, queues behind the first. The kernel drops the lock when its
holder exits, however it exits, so there is no stale lock to clean up; the
file itself stays (deleting a lock file races with the next locker). flock
is advisory and local: keep the store on a local disk, not NFS.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evals.config import ConfigError, format_validation_error, read_yaml
from evals.errors import UsageError
from evals.gate.gate import GateOptions, GateReport, without_baseline
from evals.gate.history import LAST_PASS, NoBaseline, load_run, record_gate_result
from evals.gate.markdown import trend_markdown
from evals.gate.service import gate_run, write_outputs
from evals.gate.trend import trends
from evals.store.db import Store, now_iso

DEFAULT_STORE = Path("reports") / "evals.sqlite"
DEFAULT_REPORT_DIR = Path("reports") / "nightly"


class NothingJudged(UsageError, RuntimeError):
    """The nightly judged nothing (exit 2, inconclusive): neither a pass nor a regression."""


class LockHeld(NothingJudged):
    """Another nightly is writing this store (exit 2: nothing was judged)."""


class BatchPending(NothingJudged):
    """The run's batches were still in flight after `batch_wait_s` (exit 2: nothing was judged).
    The run stays `waiting`; `evals run --collect` collects, scores and reports it later."""


class NightlyConfig(BaseModel):
    """A nightly job. Relative paths are relative to the config file's directory."""

    model_config = ConfigDict(extra="forbid")

    workspace: Path = Path(".")
    suite: str
    runners: list[str] = Field(min_length=1)
    reference: str | None = None
    baseline: str = LAST_PASS
    """`last-pass`, or a run id to compare every night with."""
    tolerances: GateOptions = Field(default_factory=GateOptions)
    budget_usd: float | None = Field(default=None, gt=0)
    reuse: bool = False
    """Reuse stored answers. Off: a nightly must send fresh requests to measure tonight's model."""
    epochs: int | None = Field(default=None, ge=1, le=50)
    """Times each sample goes to runners that sample, over the profiles' and the suite's `epochs:`."""
    prices: Path | None = None
    store: Path | None = None
    """Default: WORKSPACE/reports/evals.sqlite."""
    report_dir: Path | None = None
    """Default: WORKSPACE/reports/nightly; each run's report goes to REPORT_DIR/RUN_ID/."""
    lock_file: Path | None = None
    """Default: the store's path + `.lock`."""
    junit: Path | None = None
    """Default: REPORT_DIR/junit.xml (a stable path for CI)."""
    summary_md: Path | None = None
    """Default: REPORT_DIR/summary.md."""
    trend_runs: int = Field(default=20, ge=1)
    allow_retired: bool = False
    """Gate on runners whose API model the vendor has retired (their requests fail). Off: the nightly
    refuses to start and names them, so a retirement is never read as a regression."""
    batch_wait_s: float | None = Field(default=None, gt=0)
    """How long tonight's run waits for batch runners' batches (`batch:` in a runner profile); past it the
    nightly exits inconclusive (2) and leaves them in flight. None: each runner's own batch.wait_s."""

    @property
    def store_path(self) -> Path:
        return self.store or self.workspace / DEFAULT_STORE

    @property
    def report_root(self) -> Path:
        return self.report_dir or self.workspace / DEFAULT_REPORT_DIR

    @property
    def lock_path(self) -> Path:
        return self.lock_file or self.store_path.with_name(self.store_path.name + ".lock")

    @property
    def junit_path(self) -> Path:
        return self.junit or self.report_root / "junit.xml"

    @property
    def summary_path(self) -> Path:
        return self.summary_md or self.report_root / "summary.md"


def load_nightly(path: str | Path) -> NightlyConfig:
    p = Path(path)
    text, data = read_yaml(p)
    try:
        cfg = NightlyConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(format_validation_error(p, text, e)) from None
    base = p.parent.resolve()
    paths = {k: base / v for k in ("workspace", "prices", "store", "report_dir", "lock_file", "junit", "summary_md") if (v := getattr(cfg, k)) is not None}
    return cfg.model_copy(update=paths)


@contextlib.contextmanager
def store_lock(path: Path, wait: bool = False) -> Iterator[None]:
    """Hold an exclusive flock on `path` for the block (see the module docstring)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "holder unknown"
            raise LockHeld(f"another nightly is writing this store ({holder}; lock {path}); not starting. Use --wait to queue behind it.") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {now_iso()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


@dataclass
class NightlyResult:
    run_id: str
    gate: GateReport
    report_path: Path
    trend_path: Path
    junit_path: Path
    summary_path: Path

    @property
    def exit_code(self) -> int:
        return self.gate.exit_code


def gate_nightly(store: Store, cfg: NightlyConfig, run_id: str) -> GateReport:
    """Gate tonight's run and record the result, before its report is rendered, so the report shows it."""
    try:
        return gate_run(store, run_id, cfg.baseline, cfg.tolerances, cfg.prices)
    except NoBaseline as e:
        gate = without_baseline(load_run(store, run_id, cfg.prices), cfg.tolerances, str(e))
        record_gate_result(store, run_id, None, gate.result, gate.exit_code, gate.model_dump_json())
        return gate


def finish_nightly(store: Store, cfg: NightlyConfig, run_id: str, report_path: Path, gate: GateReport) -> NightlyResult:
    """After the run is gated and its report rendered: trend and CI files."""
    suite = store.run(run_id)["suite"]
    names = [r.runner for r in store.run_runners(run_id)]
    points = trends(store, suite, names, cfg.trend_runs, cfg.prices)
    trend_path = report_path.parent / "trend.json"
    trend_path.write_text(json.dumps({"suite": suite, "runners": points}, indent=2) + "\n", encoding="utf-8")
    write_outputs(gate, cfg.junit_path, cfg.summary_path, f"Report: `{report_path}`\n\n" + trend_markdown(points))
    return NightlyResult(run_id=run_id, gate=gate, report_path=report_path, trend_path=trend_path, junit_path=cfg.junit_path, summary_path=cfg.summary_path)
