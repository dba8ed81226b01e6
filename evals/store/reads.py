"""What the stages read from the results store: one named method per question, each returning typed rows.

Every SELECT the stages need lives here (or in the store's other modules), so
the rest of the package never writes SQL or reads a row by a column name
spelled as a string: analyse, the gate, the trend, scoring and the API call
`store.final_answers(run_id)`, `store.outcomes(run_id)`, ... and get rows with
the columns as typed fields.

Rows are NamedTuples: typed and immutable like a frozen dataclass, and as cheap
to build as the tuple sqlite3 returns (0.4 µs a row; a frozen dataclass costs
2.5 µs, a dict 1 µs), which matters when analyse reads every answer, outcome
and score of 100,000 samples × several runners. The few reads that were
dicts before (`run`, `server_facts`, `run_listing`) stay dicts, typed as
TypedDicts, because callers outside the package (tests, scripts, `evals runs
--json`) index or serialise them as such.

Each statement is the one its stage used to write itself, unchanged, so rows
come in the same order as before (the order SQLite's index walk gives where
there is no ORDER BY: attempts by (run_id, runner, sample_id), samples by
sample_id, scores and outcomes by their primary keys).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple, TypedDict, cast

from evals.errors import UsageError
from evals.providers.base import Completion, Status, Timing, Usage


class UnknownRunError(UsageError, KeyError):
    """No run with that id in the store."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


# ---------------------------------------------------------------- rows


class RunRow(TypedDict):
    """A row of `runs`."""

    id: str
    suite: str
    suite_hash: str
    workspace: str | None
    git_commit: str | None
    tool_version: str
    reference_runner: str | None
    status: str
    """running | finished | interrupted | failed"""
    created_at: str
    finished_at: str | None
    info_json: str


_RUN_COLS = "id, suite, suite_hash, workspace, git_commit, tool_version, reference_runner, status, created_at, finished_at, info_json"


class RunListing(TypedDict):
    """A run as `evals runs` lists it."""

    id: str
    suite: str
    suite_hash: str
    status: str
    created_at: str
    finished_at: str | None
    git_commit: str | None
    tool_version: str
    reference_runner: str | None
    runners: str | None
    """Its runners, comma-separated, in the order they were added."""
    simulated: int | None
    served_models: str | None
    """Model names the servers reported, comma-separated."""
    gate: str | None
    """The latest gate result recorded for it."""
    batches_in_flight: int
    batch_progress: str
    """Requests done / requests, over its batches in flight."""


class ServerFact(TypedDict):
    """One fact a runner's server gave about itself, `data` parsed."""

    runner: str
    base_url: str
    kind: str
    data: dict[str, Any]
    created_at: str


class RunnerRow(NamedTuple):
    """A row of `run_runners`: one runner of a run."""

    run_id: str
    runner: str
    provider: str
    model: str
    simulated: int
    profile_hash: str
    profile_json: str
    requests_sent: int
    requests_reused: int
    stopped_reason: str | None
    wall_s: float | None
    pricing_json: str | None
    planned: int | None
    """Answers the run asked of the runner (samples × its epochs); None for runs stored before epochs."""


_RUNNER_COLS = "run_id, runner, provider, model, simulated, profile_hash, profile_json, requests_sent, requests_reused, stopped_reason, wall_s, pricing_json, planned"


class SampleRow(NamedTuple):
    """A row of `samples`: one sample of a run, its fields as stored JSON."""

    sample_id: str
    category: str
    input_json: str
    reference_json: str | None
    metadata_json: str
    scorers_json: str | None
    request_json: str | None


class FinalAnswer(NamedTuple):
    """A runner's final attempt at one answer asked of it (sample, epoch): what the report shows."""

    runner: str
    sample_id: str
    epoch: int
    status: str
    text: str | None
    tool_calls_json: str | None
    error: str | None
    ttft_ms: float | None
    latency_ms: float | None
    output_tps: float | None
    batch_id: str | None


class FinalStatus(NamedTuple):
    """A runner's final attempt at one answer, as the gate reads it."""

    runner: str
    sample_id: str
    epoch: int
    status: str
    served_model: str | None
    latency_ms: float | None


class GradedAnswer(NamedTuple):
    """A runner's final ok answer, as the score stage grades it."""

    runner: str
    sample_id: str
    epoch: int
    completion: Completion


class TextAnswer(NamedTuple):
    """A fresh final ok answer that came without parsed tool calls."""

    runner: str
    sample_id: str
    base_url: str | None
    text: str | None


class Outcome(NamedTuple):
    """The pass rule's result for one answer."""

    runner: str
    sample_id: str
    epoch: int
    passed: int
    """1 passed, 0 not."""


class TokenSums(NamedTuple):
    """Tokens summed over attempts (0 where none was reported): all of them, and of which those
    sent synchronously (a batch runner's retries through the synchronous API pay the full rate)."""

    t_in: int
    t_cached: int
    t_write: int
    t_out: int
    s_in: int
    s_cached: int
    s_write: int
    s_out: int


NO_TOKENS = TokenSums(0, 0, 0, 0, 0, 0, 0, 0)


class RunnerUsage(NamedTuple):
    """A runner's attempts over the run, retries included."""

    runner: str
    attempts: int
    fresh: int
    """Of them, sent (not reused from an earlier run)."""
    inp: int
    outp: int
    unk: int
    """Answers (ok, truncated or refused) that came without an output token count."""
    lat_sum: float
    """Time the attempts took, ms."""
    tokens: TokenSums


class AnswerSpend(NamedTuple):
    """Tokens of every attempt at one answer (sample, epoch) of a runner."""

    runner: str
    sample_id: str
    epoch: int
    tokens: TokenSums


class SampleSpend(NamedTuple):
    """Every attempt at one sample of a runner, all epochs: recorded API cost and time taken."""

    runner: str
    sample_id: str
    cost: float
    ms: float


class AnswerKey(NamedTuple):
    runner: str
    sample_id: str
    epoch: int


class LabelScore(NamedTuple):
    """A score of a scorer that produces labels (expected and predicted in its details)."""

    runner: str
    scorer: str
    passed: int
    details_json: str | None


class ScoreNote(NamedTuple):
    """What a scorer said about one answer."""

    runner: str
    sample_id: str
    epoch: int
    scorer: str
    passed: int
    explanation: str | None
    error: str | None


class EarlierRun(NamedTuple):
    id: str
    suite_hash: str


class MeasurementSummary(NamedTuple):
    """A stored `evals measure` sweep in brief."""

    id: int
    runner: str
    profile_hash: str
    suite: str | None
    created_at: str
    operating_point_json: str | None
    simulated: int
    steps: int
    """Load levels it measured."""


class MeasurementRow(NamedTuple):
    """A row of `measurements`: one sweep, its JSON as stored (steps apart: Reads.measurement_steps)."""

    id: int
    runner: str
    profile_hash: str
    suite: str | None
    created_at: str
    slo_json: str
    operating_point_json: str | None
    flags_json: str
    simulated: int
    info_json: str


_MEASUREMENT_COLS = "id, runner, profile_hash, suite, created_at, slo_json, operating_point_json, flags_json, simulated, info_json"

# API cost is linear in tokens, so summed tokens priced once give the sum of per-attempt costs.
_TOKEN_SUMS = (
    "COALESCE(SUM(input_tokens),0) t_in, COALESCE(SUM(cached_input_tokens),0) t_cached, "
    "COALESCE(SUM(cache_write_tokens),0) t_write, COALESCE(SUM(output_tokens),0) t_out, "
    # of which sent synchronously: a batch runner's retries through the synchronous API pay the full rate
    "COALESCE(SUM(CASE WHEN batch_id IS NULL THEN input_tokens END),0) s_in, COALESCE(SUM(CASE WHEN batch_id IS NULL THEN cached_input_tokens END),0) s_cached, "
    "COALESCE(SUM(CASE WHEN batch_id IS NULL THEN cache_write_tokens END),0) s_write, COALESCE(SUM(CASE WHEN batch_id IS NULL THEN output_tokens END),0) s_out"
)

# ok answers with no pass/fail outcome: the run was not (or not fully) scored
_UNSCORED = (
    "SELECT COUNT(*) n FROM attempts a WHERE a.run_id={run} AND a.final=1 AND a.status='ok' AND a.purpose='run' AND NOT EXISTS "
    "(SELECT 1 FROM outcomes o WHERE o.run_id=a.run_id AND o.runner=a.runner AND o.sample_id=a.sample_id AND o.epoch=a.epoch)"
)

_COMPLETION_COLS = (
    "status, text, finish_reason, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, "
    "ttft_ms, latency_ms, output_tps, served_model, error, error_kind, http_status, tool_calls_json"
)


def completion_from_row(r: dict[str, Any]) -> Completion:
    """The Completion an attempt row stores: what scorers that see the whole completion are given."""
    usage = Usage(**{f: r.get(f) for f in Usage.model_fields})
    timing = Timing(ttft_ms=r.get("ttft_ms"), latency_ms=r.get("latency_ms"), output_tps=r.get("output_tps"))
    return Completion(
        status=Status(r["status"]), text=r.get("text") or "", finish_reason=r.get("finish_reason"), usage=usage, timing=timing,
        served_model=r.get("served_model"), error=r.get("error"), error_kind=r.get("error_kind"), http_status=r.get("http_status"),
        tool_calls=json.loads(r["tool_calls_json"]) if r.get("tool_calls_json") else [],
    )


# ---------------------------------------------------------------- reads


class Reads:
    """The store's reads; mixed into Store, which owns the connection."""

    db: sqlite3.Connection
    path: Path

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Any SELECT, rows as dicts: for tests and one-off scripts. The package itself reads through the named methods."""
        cur = self.db.execute(sql, params)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def iter_query(self, sql: str, params: tuple[Any, ...] = ()) -> Iterator[dict[str, Any]]:
        """`query`, one row at a time."""
        cur = self.db.execute(sql, params)
        cols = [d[0] for d in cur.description]
        for r in cur:
            yield dict(zip(cols, r))

    # ---------------------------------------------------------- runs
    def run(self, run_id: str) -> RunRow:
        """The run's row; UnknownRunError, naming the latest runs, when there is none."""
        row = self.db.execute(f"SELECT {_RUN_COLS} FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            known = [r for (r,) in self.db.execute("SELECT id FROM runs ORDER BY created_at DESC LIMIT 5")]
            raise UnknownRunError(f"no run {run_id!r} in {self.path}; latest: {', '.join(known) or 'none'} (`evals runs` lists them)")
        return cast(RunRow, dict(zip(_RUN_COLS.split(", "), row)))

    def latest_run_id(self) -> str | None:
        row = self.db.execute("SELECT id FROM runs ORDER BY created_at DESC, rowid DESC LIMIT 1").fetchone()
        return str(row[0]) if row else None

    def run_listing(self, limit: int) -> list[RunListing]:
        """The latest `limit` runs, newest first, with their runners, served models, latest gate result and batches in flight."""
        cur = self.db.execute(
            "SELECT r.id, r.suite, r.suite_hash, r.status, r.created_at, r.finished_at, r.git_commit, r.tool_version, r.reference_runner, "
            "GROUP_CONCAT(rr.runner, ', ') runners, MAX(rr.simulated) simulated, "
            "(SELECT GROUP_CONCAT(DISTINCT a.served_model) FROM attempts a WHERE a.run_id = r.id AND a.final = 1 AND a.purpose = 'run') served_models, "
            "(SELECT g.result FROM gate_results g WHERE g.run_id = r.id ORDER BY g.id DESC LIMIT 1) gate, "
            "(SELECT COUNT(*) FROM batches b WHERE b.run_id = r.id AND b.status IN ('in_flight', 'ended')) batches_in_flight, "
            "(SELECT COALESCE(SUM(b.done), 0) || '/' || COALESCE(SUM(b.requests), 0) FROM batches b WHERE b.run_id = r.id AND b.status IN ('in_flight', 'ended')) batch_progress "
            "FROM runs r LEFT JOIN run_runners rr ON rr.run_id = r.id GROUP BY r.id ORDER BY r.created_at DESC, r.rowid DESC LIMIT ?",
            (limit,),
        )
        cols = [d[0] for d in cur.description]
        return [cast(RunListing, dict(zip(cols, r))) for r in cur]

    def runs_of_suite(self, suite: str) -> list[str]:
        """Ids of every run of `suite`, oldest first."""
        return [r for (r,) in self.db.execute("SELECT id FROM runs WHERE suite=? ORDER BY created_at, rowid", (suite,))]

    def latest_finished_runs(self, suite: str, runner: str, limit: int) -> list[str]:
        """Ids of the latest `limit` finished runs of `suite` that `runner` took part in, newest first."""
        return [
            r
            for (r,) in self.db.execute(
                "SELECT r.id FROM runs r JOIN run_runners rr ON rr.run_id = r.id AND rr.runner = ? WHERE r.suite = ? AND r.status = 'finished' "
                "ORDER BY r.created_at DESC, r.rowid DESC LIMIT ?",
                (runner, suite, limit),
            )
        ]

    def earlier_runs(self, run_id: str) -> list[EarlierRun]:
        """Finished, fully scored runs of the same suite created before `run_id`, newest first, leaving out
        any run in which a runner was stopped early (budget, breaker, quota). created_at has one-second
        resolution, so ties are broken by insertion order (rowid), which is creation order within one store.
        UnknownRunError for an unknown run."""
        self.run(run_id)
        rid, suite, created_at = self.db.execute("SELECT rowid AS rid, suite, created_at FROM runs WHERE id=?", (run_id,)).fetchone()
        cur = self.db.execute(
            "SELECT id, suite_hash FROM runs WHERE suite=? AND status='finished' AND id<>? AND (created_at < ? OR (created_at = ? AND rowid < ?)) "
            f"AND ({_UNSCORED.format(run='runs.id')}) = 0 "
            "AND NOT EXISTS (SELECT 1 FROM run_runners rr WHERE rr.run_id = runs.id AND rr.stopped_reason IS NOT NULL) "
            "ORDER BY created_at DESC, rowid DESC",
            (suite, run_id, created_at, created_at, rid),
        )
        return [EarlierRun(*r) for r in cur]

    def runs_with_batches(self, states: tuple[str, ...]) -> list[str]:
        """Ids of the runs with a batch in one of these states, the one that submitted last first."""
        marks = ",".join("?" * len(states))
        return [r for r, _ in self.db.execute(f"SELECT run_id, MAX(id) last FROM batches WHERE status IN ({marks}) GROUP BY run_id ORDER BY last DESC", states)]

    # ---------------------------------------------------------- runners and samples
    def run_runners(self, run_id: str) -> list[RunnerRow]:
        """The run's runners in the order they were added."""
        return [RunnerRow._make(r) for r in self.db.execute(f"SELECT {_RUNNER_COLS} FROM run_runners WHERE run_id=? ORDER BY rowid", (run_id,))]

    def samples(self, run_id: str) -> list[SampleRow]:
        """The run's samples, by sample id."""
        cur = self.db.execute(
            "SELECT sample_id, category, input_json, reference_json, metadata_json, scorers_json, request_json FROM samples WHERE run_id=?", (run_id,)
        )
        return [SampleRow._make(r) for r in cur]

    def sample_categories(self, run_id: str) -> dict[str, str]:
        """sample id -> category."""
        return dict(self.db.execute("SELECT sample_id, category FROM samples WHERE run_id=?", (run_id,)))

    # ---------------------------------------------------------- answers
    def final_answers(self, run_id: str) -> Iterator[FinalAnswer]:
        """Every runner's final attempt at each answer asked of it (runner answers only, not judges')."""
        cur = self.db.execute(
            "SELECT runner, sample_id, epoch, status, text, tool_calls_json, error, ttft_ms, latency_ms, output_tps, batch_id FROM attempts WHERE run_id=? AND final=1 AND purpose='run'",
            (run_id,),
        )
        return map(FinalAnswer._make, cur)

    def final_statuses(self, run_id: str) -> Iterator[FinalStatus]:
        """`final_answers` without the text, epoch 1 first."""
        cur = self.db.execute(
            "SELECT runner, sample_id, epoch, status, served_model, latency_ms FROM attempts WHERE run_id=? AND final=1 AND purpose='run' ORDER BY epoch", (run_id,)
        )
        return map(FinalStatus._make, cur)

    def ok_answers(self, run_id: str) -> list[GradedAnswer]:
        """Every runner's final ok answers, each as the Completion its scorers are given."""
        cols = _COMPLETION_COLS.split(", ")
        cur = self.db.execute(
            f"SELECT runner, sample_id, epoch, {_COMPLETION_COLS} FROM attempts WHERE run_id=? AND final=1 AND status='ok' AND purpose='run'", (run_id,)
        )
        return [GradedAnswer(r[0], r[1], r[2], completion_from_row(dict(zip(cols, r[3:])))) for r in cur.fetchall()]

    def answers_without_tool_calls(self, run_id: str) -> Iterator[TextAnswer]:
        """Fresh (not reused) final ok answers that came without parsed tool calls."""
        cur = self.db.execute(
            "SELECT runner, sample_id, base_url, text FROM attempts WHERE run_id=? AND final=1 AND status='ok' AND purpose='run' AND tool_calls_json IS NULL AND reused_from IS NULL",
            (run_id,),
        )
        return map(TextAnswer._make, cur)

    def outcomes(self, run_id: str) -> Iterator[Outcome]:
        """The pass rule's result for every scored answer."""
        return map(Outcome._make, self.db.execute("SELECT runner, sample_id, epoch, passed FROM outcomes WHERE run_id=?", (run_id,)))

    def unscored_answers(self, run_id: str) -> dict[str, int]:
        """Per runner, ok answers without an outcome (the run was not, or not fully, scored); runners with none left out."""
        sql = _UNSCORED.replace("SELECT COUNT(*) n", "SELECT a.runner, COUNT(*) n").format(run="?") + " GROUP BY a.runner ORDER BY a.runner"
        return {r: int(n) for r, n in self.db.execute(sql, (run_id,))}

    # ---------------------------------------------------------- usage and spend
    def usage_by_runner(self, run_id: str) -> list[RunnerUsage]:
        """Per runner with any attempt, over every attempt (retries included): counts, tokens and time."""
        cur = self.db.execute(
            "SELECT runner, COUNT(*) attempts, SUM(reused_from IS NULL) fresh, COALESCE(SUM(input_tokens),0) inp, COALESCE(SUM(output_tokens),0) outp, "
            f"SUM(output_tokens IS NULL AND status IN ('ok', 'truncated', 'refused')) unk, COALESCE(SUM(latency_ms),0) lat_sum, {_TOKEN_SUMS} FROM attempts WHERE run_id=? AND purpose='run' GROUP BY runner",
            (run_id,),
        )
        return [RunnerUsage(r[0], r[1], r[2], r[3], r[4], r[5], r[6], TokenSums._make(r[7:])) for r in cur.fetchall()]

    def tokens_by_answer(self, run_id: str) -> Iterator[AnswerSpend]:
        """Per runner and answer (sample, epoch), the tokens of every attempt at it."""
        cur = self.db.execute(f"SELECT runner, sample_id, epoch, {_TOKEN_SUMS} FROM attempts WHERE run_id=? AND purpose='run' GROUP BY runner, sample_id, epoch", (run_id,))
        return (AnswerSpend(r[0], r[1], r[2], TokenSums._make(r[3:])) for r in cur)

    def spend_by_sample(self, run_id: str) -> Iterator[SampleSpend]:
        """Per runner and sample, over every attempt (all epochs): recorded API cost and time taken."""
        cur = self.db.execute(
            "SELECT runner, sample_id, COALESCE(SUM(cost_usd), 0) cost, COALESCE(SUM(latency_ms), 0) ms FROM attempts WHERE run_id=? AND purpose='run' GROUP BY runner, sample_id",
            (run_id,),
        )
        return map(SampleSpend._make, cur)

    # ---------------------------------------------------------- scores
    def judge_cost(self, run_id: str) -> float:
        """What the run's LLM judges cost, as recorded with their scores."""
        (c,) = self.db.execute("SELECT COALESCE(SUM(judge_cost_usd),0) c FROM scores WHERE run_id=?", (run_id,)).fetchone()
        return float(c)

    def score_details(self, run_id: str, scorer: str) -> Iterator[str | None]:
        """The details (JSON) of every score `scorer` gave in the run."""
        return (d for (d,) in self.db.execute("SELECT details_json FROM scores WHERE run_id=? AND scorer=?", (run_id, scorer)))

    def format_failures(self, run_id: str) -> Iterator[AnswerKey]:
        """Answers a scorer that produces format checks failed on format (no reference needed to see it), scorer errors left out."""
        cur = self.db.execute(
            "SELECT runner, sample_id, epoch FROM scores WHERE run_id=? AND passed=0 AND error IS NULL AND ',' || produces || ',' LIKE '%,format_check,%' "
            "AND json_extract(details_json, '$.format_failed')",
            (run_id,),
        )
        return map(AnswerKey._make, cur)

    def label_scores(self, run_id: str) -> Iterator[LabelScore]:
        """Scores of scorers that produce labels."""
        cur = self.db.execute("SELECT runner, scorer, passed, details_json FROM scores WHERE run_id=? AND ',' || produces || ',' LIKE '%,labels,%'", (run_id,))
        return map(LabelScore._make, cur)

    def score_notes(self, run_id: str, *, failing_only: bool = False) -> Iterator[ScoreNote]:
        """What each scorer said about each answer; `failing_only`: only scores that failed or erred."""
        where = " AND (passed=0 OR error IS NOT NULL)" if failing_only else ""
        cur = self.db.execute(f"SELECT runner, sample_id, epoch, scorer, passed, explanation, error FROM scores WHERE run_id=?{where}", (run_id,))
        return map(ScoreNote._make, cur)

    # ---------------------------------------------------------- gate results
    def latest_gate_result(self, run_id: str) -> str | None:
        """The result (pass, regression, ...) of the latest gate recorded for the run."""
        row = self.db.execute("SELECT result FROM gate_results WHERE run_id=? ORDER BY id DESC LIMIT 1", (run_id,)).fetchone()
        return str(row[0]) if row else None

    def latest_gate_report(self, run_id: str) -> str | None:
        """The whole report (JSON) of the latest gate recorded for the run."""
        row = self.db.execute("SELECT json FROM gate_results WHERE run_id=? ORDER BY id DESC LIMIT 1", (run_id,)).fetchone()
        return str(row[0]) if row else None

    # ---------------------------------------------------------- server facts
    def server_facts(self, run_id: str, runner: str | None = None) -> list[ServerFact]:
        """Facts of a run (optionally one runner's), oldest first, with `data` parsed."""
        sql = "SELECT runner, base_url, kind, json, created_at FROM server_facts WHERE run_id=?" + (" AND runner=?" if runner else "") + " ORDER BY rowid"
        rows = self.db.execute(sql, (run_id, runner) if runner else (run_id,))
        return [ServerFact(runner=r, base_url=u, kind=k, data=json.loads(j), created_at=c) for r, u, k, j, c in rows]

    # ---------------------------------------------------------- measurements
    def measurements(self, runner: str | None = None) -> list[MeasurementSummary]:
        """Stored sweeps (of one runner, or all), newest first."""
        cur = self.db.execute(
            "SELECT m.id, m.runner, m.profile_hash, m.suite, m.created_at, m.operating_point_json, m.simulated, "
            "(SELECT COUNT(*) FROM measurement_steps s WHERE s.measurement_id = m.id) steps "
            "FROM measurements m" + (" WHERE m.runner = ?" if runner else "") + " ORDER BY m.id DESC",
            (runner,) if runner else (),
        )
        return [MeasurementSummary._make(r) for r in cur]

    def measurement(self, measurement_id: int) -> MeasurementRow | None:
        row = self.db.execute(f"SELECT {_MEASUREMENT_COLS} FROM measurements WHERE id = ?", (measurement_id,)).fetchone()
        return MeasurementRow._make(row) if row else None

    def measurement_steps(self, measurement_id: int) -> list[str]:
        """The sweep's steps (JSON), in the order they ran."""
        return [s for (s,) in self.db.execute("SELECT json FROM measurement_steps WHERE measurement_id = ? ORDER BY rowid", (measurement_id,))]
