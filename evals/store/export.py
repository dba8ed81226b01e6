"""Export a run's answers for analysis elsewhere: one row per (runner, sample, epoch),
the final attempt with its pass/fail; or every attempt, retries included.

Each row carries what was asked (`input`, the chat messages as sent to the
model's protocol-neutral form), what was expected (`reference`) and what the
answer cost: `cost_usd` for the attempt, `answer_cost_usd` for the answer with
its retries (what cost per completed task adds up), so a row can be judged
and priced without the store. A self-hosted answer has no bill of its own: its
`answer_cost_usd` is an allocation, the at-volume cost per request the report
computes (replicas for the busiest hour × hourly cost × 730 h ÷ monthly
requests), and `answer_cost_basis` says so."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from evals.store.db import Store

_FINAL = """
SELECT a.run_id, a.runner, a.sample_id, a.epoch, s.category, s.input_json AS input, s.request_json AS request, a.status, a.text AS output,
       a.tool_calls_json AS tool_calls, s.reference_json AS reference,
       o.passed, o.value AS score, a.finish_reason, a.attempt AS attempts, a.reused_from IS NOT NULL AS reused,
       a.input_tokens, a.cached_input_tokens, a.output_tokens, a.reasoning_tokens, a.ttft_ms, a.latency_ms, a.output_tps,
       a.cost_usd,
       (SELECT SUM(b.cost_usd) FROM attempts b WHERE b.run_id = a.run_id AND b.runner = a.runner AND b.sample_id = a.sample_id AND b.epoch = a.epoch AND b.purpose = 'run') AS answer_cost_usd,
       a.error, a.error_kind, a.http_status, a.served_model
FROM attempts a JOIN samples s ON s.run_id = a.run_id AND s.sample_id = a.sample_id
LEFT JOIN outcomes o ON o.run_id = a.run_id AND o.runner = a.runner AND o.sample_id = a.sample_id AND o.epoch = a.epoch
WHERE a.run_id = ? AND a.purpose = 'run' {final}
ORDER BY a.runner, a.sample_id, a.epoch, a.attempt
"""


def export_run(store: Store, run_id: str, path: str | Path, *, all_attempts: bool = False, allocation: dict[str, tuple[float | None, str]] | None = None) -> Path:
    """Write `.parquet` or `.jsonl` (by the path's suffix).

    `allocation`: self-hosted runner → (cost per request at the team's volume, or None when it could not be
    projected; how it was allocated), given by the caller from the analyse stage, which the store cannot compute."""
    store.run(run_id)
    p = Path(path)
    if p.suffix not in (".parquet", ".jsonl"):
        raise ValueError(f"{p}: export to a .parquet or .jsonl file")
    df = pd.DataFrame(store.query(_FINAL.format(final="" if all_attempts else "AND a.final = 1"), (run_id,)))
    if not df.empty:
        for col in ("input", "request", "tool_calls", "reference"):
            df[col] = df[col].map(lambda v: json.loads(v) if isinstance(v, str) else None)
        df["passed"] = df["passed"].map(lambda v: None if pd.isna(v) else bool(v))
        df["reused"] = df["reused"].astype(bool)
        df["answer_cost_basis"] = "billed: the API's price for the tokens of every attempt of this answer"
        for runner, (per_request, basis) in (allocation or {}).items():
            mine = df["runner"] == runner
            df.loc[mine, "answer_cost_usd"] = per_request
            df.loc[mine, "answer_cost_basis"] = basis
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.suffix == ".parquet":
        # Nested JSON (messages, structured references) as JSON text: Parquet needs one type per column.
        as_text = {c: df[c].map(lambda v: json.dumps(v, ensure_ascii=False)) for c in ("input", "request", "tool_calls", "reference")} if not df.empty else {}
        df.assign(**as_text).to_parquet(p, index=False)
    else:
        df.to_json(p, orient="records", lines=True, force_ascii=False)
    return p
