"""Named, ordered schema migrations. Append new ones; never edit an applied one."""

from __future__ import annotations

import sqlite3
from typing import Callable


def _execute_all(db: sqlite3.Connection, script: str) -> None:
    """Run DDL statement by statement: executescript() would commit the migration's transaction early."""
    body = "\n".join(line.split("--", 1)[0] for line in script.splitlines())
    for stmt in body.split(";"):
        if stmt.strip():
            db.execute(stmt)


def m001_initial(db: sqlite3.Connection) -> None:
    _execute_all(
        db,
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            suite TEXT NOT NULL,
            suite_hash TEXT NOT NULL,
            workspace TEXT,
            git_commit TEXT,
            tool_version TEXT NOT NULL,
            reference_runner TEXT,
            status TEXT NOT NULL,            -- running | finished | interrupted | failed
            created_at TEXT NOT NULL,
            finished_at TEXT,
            info_json TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE run_runners (
            run_id TEXT NOT NULL REFERENCES runs(id),
            runner TEXT NOT NULL,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            simulated INTEGER NOT NULL,
            profile_hash TEXT NOT NULL,
            profile_json TEXT NOT NULL,      -- no API keys: profiles name the variable, never the value
            requests_sent INTEGER NOT NULL DEFAULT 0,
            requests_reused INTEGER NOT NULL DEFAULT 0,
            stopped_reason TEXT,             -- e.g. budget
            wall_s REAL,
            PRIMARY KEY (run_id, runner)
        );
        CREATE TABLE samples (
            run_id TEXT NOT NULL REFERENCES runs(id),
            sample_id TEXT NOT NULL,
            category TEXT NOT NULL,
            input_json TEXT NOT NULL,
            reference_json TEXT,
            metadata_json TEXT NOT NULL,
            scorers_json TEXT,
            PRIMARY KEY (run_id, sample_id)
        );
        -- one row per distinct request: what was sent, stored once however often it is answered
        CREATE TABLE requests (
            request_key TEXT PRIMARY KEY,
            provider TEXT NOT NULL,
            base_urls TEXT NOT NULL,
            model TEXT NOT NULL,
            params_json TEXT NOT NULL,
            messages_json TEXT NOT NULL
        );
        -- one row per attempt, retries included; `final` marks the one that stands
        CREATE TABLE attempts (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL,
            runner TEXT NOT NULL,
            sample_id TEXT NOT NULL,
            request_key TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            final INTEGER NOT NULL,
            reused_from INTEGER,
            status TEXT NOT NULL,
            text TEXT,
            finish_reason TEXT,
            input_tokens INTEGER,
            cached_input_tokens INTEGER,
            cache_write_tokens INTEGER,
            output_tokens INTEGER,
            reasoning_tokens INTEGER,
            ttft_ms REAL,
            latency_ms REAL,
            output_tps REAL,
            error TEXT,
            error_kind TEXT,
            http_status INTEGER,
            cost_usd REAL,
            base_url TEXT,
            served_model TEXT,
            created_at REAL NOT NULL
        );
        CREATE INDEX attempts_by_key ON attempts(request_key, status);
        CREATE INDEX attempts_by_run ON attempts(run_id, runner, sample_id);
        CREATE TABLE scores (
            run_id TEXT NOT NULL,
            runner TEXT NOT NULL,
            sample_id TEXT NOT NULL,
            scorer_index INTEGER NOT NULL,
            scorer TEXT NOT NULL,
            args_json TEXT NOT NULL,
            weight REAL NOT NULL,
            value REAL NOT NULL,
            passed INTEGER NOT NULL,
            explanation TEXT,
            error TEXT,
            details_json TEXT,
            judge_usage_json TEXT,
            judge_cost_usd REAL,
            PRIMARY KEY (run_id, runner, sample_id, scorer_index)
        );
        -- the pass rule's result per sample: what "completed task" is counted from
        CREATE TABLE outcomes (
            run_id TEXT NOT NULL,
            runner TEXT NOT NULL,
            sample_id TEXT NOT NULL,
            value REAL NOT NULL,
            passed INTEGER NOT NULL,
            PRIMARY KEY (run_id, runner, sample_id)
        );
        """
    )


def m002_server_facts(db: sqlite3.Connection) -> None:
    """What the OpenAI-compatible servers of a run said about themselves: version,
    served models, and /metrics deltas over the run (tokens, preemptions, cache)."""
    _execute_all(
        db,
        """
        CREATE TABLE server_facts (
            run_id TEXT NOT NULL,
            runner TEXT NOT NULL,
            base_url TEXT NOT NULL,
            kind TEXT NOT NULL,              -- server | metrics | usage_missing
            json TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX server_facts_by_run ON server_facts(run_id, runner);
        """
    )


def m003_measurements(db: sqlite3.Connection) -> None:
    """`evals measure` results: one row per sweep, one per load level. The latest
    sweep of a runner gives its capacity (tasks per hour) to the cost projection."""
    _execute_all(
        db,
        """
        CREATE TABLE measurements (
            id INTEGER PRIMARY KEY,
            runner TEXT NOT NULL,
            profile_hash TEXT NOT NULL,
            suite TEXT,
            created_at TEXT NOT NULL,
            slo_json TEXT NOT NULL,
            operating_point_json TEXT,       -- NULL when no step met the SLO
            flags_json TEXT NOT NULL,        -- measurement problems, one sentence each
            simulated INTEGER NOT NULL,
            info_json TEXT NOT NULL DEFAULT '{}'  -- model, mode, streaming, notes, hardware bound
        );
        CREATE INDEX measurements_by_runner ON measurements(runner, id);
        CREATE TABLE measurement_steps (
            measurement_id INTEGER NOT NULL REFERENCES measurements(id),
            mode TEXT NOT NULL,              -- concurrency | rate
            level REAL NOT NULL,
            json TEXT NOT NULL,              -- the whole Step
            PRIMARY KEY (measurement_id, mode, level)
        );
        """
    )


def m004_gate_results(db: sqlite3.Connection) -> None:
    """Every gate verdict, so `--baseline last-pass` can find the last run that passed."""
    _execute_all(
        db,
        """
        CREATE TABLE gate_results (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL,
            baseline_id TEXT,                -- NULL when there was nothing earlier to compare with
            result TEXT NOT NULL,            -- pass | regression | inconclusive | no-baseline
            exit_code INTEGER NOT NULL,
            json TEXT NOT NULL,              -- the whole GateReport
            created_at TEXT NOT NULL
        );
        CREATE INDEX gate_results_by_run ON gate_results(run_id, id);
        """
    )


def m005_runner_pricing(db: sqlite3.Connection) -> None:
    """The prices a run was costed with, so its report never depends on a price file still being there."""
    db.execute("ALTER TABLE run_runners ADD COLUMN pricing_json TEXT")


def m006_attempt_purpose(db: sqlite3.Connection) -> None:
    """Judges call models through the same executor as runners: their attempts live in `attempts`
    too, told apart by purpose (`run`, or `judge:<scorer>`), so every query of a runner's answers
    filters on purpose='run'."""
    db.execute("ALTER TABLE attempts ADD COLUMN purpose TEXT NOT NULL DEFAULT 'run'")
    db.execute("CREATE INDEX attempts_purpose_key ON attempts (purpose, request_key)")


def m008_score_produces(db: sqlite3.Connection) -> None:
    """Scorers declare what their scores carry (`labels`, `format_check`) instead of the report
    knowing scorers by name; each score row records it. Scores stored before: the built-ins'
    declarations, and the format-failure flag their details now carry."""
    db.execute("ALTER TABLE scores ADD COLUMN produces TEXT NOT NULL DEFAULT ''")
    db.execute("UPDATE scores SET produces='labels,format_check' WHERE scorer='label'")
    db.execute("UPDATE scores SET produces='format_check' WHERE scorer IN ('json_valid', 'json_schema')")
    db.execute(
        "UPDATE scores SET details_json=json_set(COALESCE(details_json, '{}'), '$.format_failed', json('true')) "
        "WHERE passed=0 AND error IS NULL AND ("
        "(scorer IN ('json_valid', 'json_schema') AND json_extract(COALESCE(details_json, '{}'), '$.mismatched') IS NULL) "
        "OR (scorer='label' AND json_extract(COALESCE(details_json, '{}'), '$.predicted') IS NULL))"
    )


def m007_requests_and_tool_calls(db: sqlite3.Connection) -> None:
    """A sample is the request production sent: the store keeps that request (tools, tool_choice,
    response_format, settings and where each setting came from) and the tool calls of each answer."""
    db.execute("ALTER TABLE attempts ADD COLUMN tool_calls_json TEXT")
    db.execute("ALTER TABLE requests ADD COLUMN request_json TEXT")
    db.execute("ALTER TABLE samples ADD COLUMN request_json TEXT")


def m009_run_summaries(db: sqlite3.Connection) -> None:
    """Per-runner summaries of an analysed run, read by the gate, compare and trend instead of analysing
    past runs again; keyed by tool version, summary schema and prices, deleted when the run is rescored."""
    db.execute("CREATE TABLE run_summaries (run_id TEXT NOT NULL, key TEXT NOT NULL, created_at TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (run_id, key))")


def m010_batches(db: sqlite3.Connection) -> None:
    """Batch submissions (OpenAI Batch, Anthropic Message Batches): each vendor batch id is written the moment
    the vendor returns it, with the request keys it carries, so a run killed while it waits is collected by
    the next one instead of submitted again. `batch_id` on an attempt says which batch answered it."""
    _execute_all(
        db,
        """
        CREATE TABLE batches (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL,
            runner TEXT NOT NULL,
            vendor TEXT NOT NULL,              -- openai | anthropic
            vendor_batch_id TEXT NOT NULL,
            base_url TEXT,
            round INTEGER NOT NULL,            -- 1 = first submission, 2.. = follow-ups of failed requests
            requests INTEGER NOT NULL,
            worst_case_usd REAL NOT NULL,      -- reserved on the budget before submission
            status TEXT NOT NULL,              -- in_flight | ended | collected | lost
            vendor_status TEXT,
            done INTEGER NOT NULL DEFAULT 0,   -- requests the vendor has processed so far
            created_at TEXT NOT NULL,
            ended_at TEXT,
            UNIQUE (vendor, vendor_batch_id)
        );
        CREATE TABLE batch_requests (
            batch INTEGER NOT NULL REFERENCES batches(id),
            request_key TEXT NOT NULL,         -- also the request's custom_id at the vendor
            sample_ids_json TEXT NOT NULL,     -- the submitting run's samples this request answers
            PRIMARY KEY (batch, request_key)
        );
        CREATE INDEX batch_requests_by_key ON batch_requests(request_key);
        ALTER TABLE attempts ADD COLUMN batch_id TEXT
        """,
    )


def m011_epochs(db: sqlite3.Connection) -> None:
    """A sampling runner can answer each sample several times (epochs): attempts, scores and outcomes
    carry the epoch (1 for everything stored before), and it joins the keys of scores and outcomes; each
    runner of a run records how many answers were planned."""
    _execute_all(
        db,
        """
        ALTER TABLE attempts ADD COLUMN epoch INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE run_runners ADD COLUMN planned INTEGER;  -- answers the run asked of the runner: samples × its epochs (NULL before: one each)
        CREATE TABLE scores_new (
            run_id TEXT NOT NULL,
            runner TEXT NOT NULL,
            sample_id TEXT NOT NULL,
            scorer_index INTEGER NOT NULL,
            scorer TEXT NOT NULL,
            args_json TEXT NOT NULL,
            weight REAL NOT NULL,
            value REAL NOT NULL,
            passed INTEGER NOT NULL,
            explanation TEXT,
            error TEXT,
            details_json TEXT,
            judge_usage_json TEXT,
            judge_cost_usd REAL,
            produces TEXT NOT NULL DEFAULT '',
            epoch INTEGER NOT NULL DEFAULT 1,
            PRIMARY KEY (run_id, runner, sample_id, epoch, scorer_index)
        );
        INSERT INTO scores_new (run_id, runner, sample_id, scorer_index, scorer, args_json, weight, value, passed, explanation, error,
                                details_json, judge_usage_json, judge_cost_usd, produces)
            SELECT run_id, runner, sample_id, scorer_index, scorer, args_json, weight, value, passed, explanation, error,
                   details_json, judge_usage_json, judge_cost_usd, produces FROM scores;
        DROP TABLE scores;
        ALTER TABLE scores_new RENAME TO scores;
        CREATE TABLE outcomes_new (
            run_id TEXT NOT NULL,
            runner TEXT NOT NULL,
            sample_id TEXT NOT NULL,
            value REAL NOT NULL,
            passed INTEGER NOT NULL,
            epoch INTEGER NOT NULL DEFAULT 1,
            PRIMARY KEY (run_id, runner, sample_id, epoch)
        );
        INSERT INTO outcomes_new (run_id, runner, sample_id, value, passed) SELECT run_id, runner, sample_id, value, passed FROM outcomes;
        DROP TABLE outcomes;
        ALTER TABLE outcomes_new RENAME TO outcomes
        """,
    )


MIGRATIONS: list[tuple[str, Callable[[sqlite3.Connection], None]]] = [
    ("001_initial", m001_initial),
    ("002_server_facts", m002_server_facts),
    ("003_measurements", m003_measurements),
    ("004_gate_results", m004_gate_results),
    ("005_runner_pricing", m005_runner_pricing),
    ("006_attempt_purpose", m006_attempt_purpose),
    ("007_requests_and_tool_calls", m007_requests_and_tool_calls),
    ("008_score_produces", m008_score_produces),
    ("009_run_summaries", m009_run_summaries),
    ("010_batches", m010_batches),
    ("011_epochs", m011_epochs),
]
