"""Each run's per-runner summary, analysed once and kept in the store.

The gate, `evals compare`, the trend and the since-baseline section all need
the per-runner figures of past runs (pass rate, cost per completed task,
latency). Analysing every past run again for every report made a nightly
do 2n+5 full analyses; instead the summary a run's report showed is stored
when the run is analysed, and read back. It is keyed by what changes it:
the tool's version, the summary's schema, and the prices (stored, or a
`--prices` file's content). Rescoring a run deletes its summaries
(Store.clear_scores), so a stale one is never read.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from evals import __version__
from evals.report.model import ReportModel, RunnerSummary
from evals.store.db import Store

_SCHEMA = hashlib.sha256(json.dumps(RunnerSummary.model_json_schema(), sort_keys=True).encode()).hexdigest()[:12]


def summary_key(prices: Any = None) -> str:
    """What a stored summary depends on besides the run's own rows."""
    priced = "stored" if prices is None else hashlib.sha256(Path(prices).read_bytes()).hexdigest()[:16]
    return f"{__version__}:{_SCHEMA}:{priced}"


def keep(store: Store, model: ReportModel, prices: Any = None) -> None:
    """Store the runner summaries of an analysed run (as its report shows them)."""
    store.save_run_summary(model.run_id, summary_key(prices), json.dumps([r.model_dump(mode="json") for r in model.runners]))


def runner_summaries(store: Store, run_id: str, prices: Any = None) -> list[RunnerSummary]:
    """The run's per-runner summaries: stored ones when there are, else analysed now (and kept)."""
    key = summary_key(prices)
    stored = store.run_summary(run_id, key)
    if stored is not None:
        return [RunnerSummary.model_validate(x) for x in json.loads(stored)]
    from evals.report.analyse import analyse

    model = analyse(store, run_id, None, prices)
    keep(store, model, prices)
    return model.runners
