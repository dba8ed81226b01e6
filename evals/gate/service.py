"""The gate over a store: find the baseline, load both runs, compare, decide, record.

The pure parts (compare, rule, gate) know nothing of SQLite; this module is
the only place the gate reads and writes the store.
"""

from __future__ import annotations

from pathlib import Path

from evals.config import ConfigError
from evals.gate.compare import Comparison, compare
from evals.gate.gate import GateOptions, GateReport, evaluate, reasons_in_brief
from evals.gate.history import find_baseline, load_run, record_gate_result
from evals.gate.junit import write_junit
from evals.gate.markdown import gate_markdown
from evals.report.model import GateOutcome
from evals.store.db import Store


def compare_runs(store: Store, run_a: str, run_b: str, prices: Path | None = None) -> Comparison:
    """Run B against run A. KeyError for an unknown run."""
    return compare(load_run(store, run_a, prices), load_run(store, run_b, prices))


def gate_run(store: Store, run_id: str, baseline: str, options: GateOptions, prices: Path | None = None, record: bool = True) -> GateReport:
    """Gate `run_id` against `baseline` (a run id or `last-pass`) and record the result.

    Raises KeyError (unknown run) or ConfigError (no baseline, a run as its
    own baseline, another suite): the usage errors, exit 3.
    """
    base_id, why = find_baseline(store, run_id, baseline)
    a, b = store.run(base_id), store.run(run_id)
    if a["suite"] != b["suite"]:
        raise ConfigError(f"baseline {base_id} is a run of suite {a['suite']!r}, not {b['suite']!r}")
    report = evaluate(compare_runs(store, base_id, run_id, prices), options, why)
    if record:
        record_gate_result(store, run_id, base_id, report.result, report.exit_code, report.model_dump_json())
    return report


def write_outputs(report: GateReport, junit: Path | None, summary_md: Path | None, extra_md: str = "") -> None:
    """JUnit XML and Markdown summary where asked for; `extra_md` (the trend) goes after the gate."""
    if junit is not None:
        write_junit(report, junit)
    if summary_md is not None:
        summary_md.parent.mkdir(parents=True, exist_ok=True)
        summary_md.write_text(gate_markdown(report) + ("\n" + extra_md if extra_md else ""), encoding="utf-8")


def recorded_gate(store: Store, run_id: str) -> GateOutcome | None:
    """The latest gate result recorded for the run, in brief, for the top of its report."""
    stored = store.latest_gate_report(run_id)
    if stored is None:
        return None
    g = GateReport.model_validate_json(stored)
    return GateOutcome(result=g.result, exit_code=g.exit_code, baseline_id=g.baseline_id, reasons=reasons_in_brief(g))
