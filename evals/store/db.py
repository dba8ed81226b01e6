"""The results store: SQLite in WAL mode, the record of every request and response.

During a run, attempts go through a queue to one writer thread that commits
what has arrived every 0.25 s, so disk latency (a WAL
checkpoint's fsync can take tens of milliseconds) never stalls the event
loop that times the requests, and a killed run loses at most the last
batch of answers, which resume then re-sends.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Iterable

from evals.errors import InfrastructureError
from evals.providers.base import Completion, Usage
from evals.providers.translate import mark_invalid
from evals.store.migrations import MIGRATIONS
from evals.store.reads import Reads, UnknownRunError, completion_from_row

__all__ = ["Store", "StoreWriteError", "UnknownRunError", "completion_from_row", "now_iso"]

_ATTEMPT_COLS = (
    "run_id, runner, sample_id, request_key, attempt, final, reused_from, status, text, finish_reason, "
    "input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, "
    "ttft_ms, latency_ms, output_tps, error, error_kind, http_status, cost_usd, base_url, served_model, created_at, purpose, tool_calls_json, batch_id, epoch"
)
_SCORE_COLS = (
    "run_id, runner, sample_id, epoch, scorer_index, scorer, args_json, weight, value, passed, explanation, error, "
    "details_json, judge_usage_json, judge_cost_usd, produces"
)
_CUT_AT_LIMIT = "'length', 'max_tokens', 'model_context_window_exceeded'"
"""finish_reason values (OpenAI and vLLM, Anthropic) of an answer the server finished by cutting it at a limit."""
_ATTEMPT_INSERT = f"INSERT INTO attempts ({_ATTEMPT_COLS}) VALUES ({', '.join('?' * 29)})"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _this_process() -> dict[str, Any]:
    """Who runs a run: enough to tell later whether that process still lives."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "started": _start_ticks(os.getpid())}


def _start_ticks(pid: int) -> int | None:
    """When the process started, in clock ticks since boot (Linux); tells a reused pid from the original."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _alive(process: dict[str, Any]) -> bool:
    pid = process.get("pid")
    if not isinstance(pid, int):
        return True  # a run recorded before processes were: cannot tell, leave it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, another user's
    started = process.get("started")
    return started is None or _start_ticks(pid) in (None, started)


class StoreWriteError(InfrastructureError, RuntimeError):
    """The writer thread could not store answers."""


class Store(Reads):
    """The results store: its writes here, its reads in evals.store.reads (mixed in)."""

    def __init__(self, path: str | Path, *, commit_interval_s: float = 0.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=10000")
        self._migrate()
        self.commit_interval_s = commit_interval_s
        self._queue: queue.SimpleQueue[tuple[Any, ...] | None] | None = None
        self._writer: threading.Thread | None = None
        self._writer_error: Exception | None = None
        self._commit_lock = threading.RLock()
        self.db.execute("BEGIN")
        self._mark_dead_runs()

    # ---------------------------------------------------------- schema
    def _migrate(self) -> None:
        self.db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        done = {r[0] for r in self.db.execute("SELECT name FROM _migrations")}
        for name, fn in MIGRATIONS:
            if name in done:
                continue
            self.db.execute("BEGIN IMMEDIATE")
            try:
                fn(self.db)
                self.db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, now_iso()))
                self.db.execute("COMMIT")
            except Exception:
                self.db.execute("ROLLBACK")
                raise

    def applied_migrations(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT name FROM _migrations ORDER BY name")]

    # ---------------------------------------------------------- transactions
    def commit(self) -> None:
        """Commit and open the next transaction. The writer thread shares this connection: the lock
        keeps one thread's COMMIT/BEGIN pair from interleaving with the other's ("cannot commit - no
        transaction is active")."""
        with self._commit_lock:
            self.db.execute("COMMIT")
            self.db.execute("BEGIN")

    def close(self) -> None:
        self.stop_writer()
        if self.db.in_transaction:
            self.db.execute("COMMIT")
        self.db.close()

    # ---------------------------------------------------------- background writer
    def start_writer(self) -> None:
        """Route record_attempt through a writer thread until stop_writer()."""
        if self._writer is not None:
            return
        self.commit()
        self._queue = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._drain, name="evals-store-writer", daemon=True)
        self._writer.start()

    def stop_writer(self) -> None:
        """Write and commit everything queued; raise StoreWriteError if the writer failed, so the run is not marked finished."""
        if self._writer is None or self._queue is None:
            return
        self._queue.put(None)
        self._writer.join()
        self._writer = None
        self._queue = None
        self._raise_writer_error()

    def _raise_writer_error(self) -> None:
        if self._writer_error is not None:
            err, self._writer_error = self._writer_error, None
            raise StoreWriteError(f"{self.path}: answers could not be written ({type(err).__name__}: {err}); the run stopped, and resuming re-sends what was not stored") from err

    def _drain(self) -> None:
        """Write everything queued in one transaction as soon as a row arrives.

        Whatever queues while a batch is written goes into the next one, so batches
        grow with the load by themselves; a kill -9 loses only what queued during
        one write (benchmarks/bench_kill9.py measures it). `commit_interval_s` adds
        a wait to gather bigger batches, trading answers lost on a kill for fewer
        commits."""
        assert self._queue is not None
        q = self._queue
        while True:
            first = q.get()
            if first is not None and self.commit_interval_s > 0:
                time.sleep(self.commit_interval_s)
            batch = [first]
            while True:
                try:
                    batch.append(q.get_nowait())
                except queue.Empty:
                    break
            rows = [r for r in batch if r is not None]
            if rows:
                try:
                    with self._commit_lock:
                        self.db.executemany(_ATTEMPT_INSERT, rows)
                        self.commit()
                except Exception as e:  # e.g. disk full, or locked past busy_timeout: keep it for the run to see
                    self._writer_error = e
                    return
            if None in batch:
                return

    # ---------------------------------------------------------- runs
    def create_run(self, run_id: str, *, suite: str, suite_hash: str, workspace: str | None, git_commit: str | None, tool_version: str, reference_runner: str | None, info: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO runs (id, suite, suite_hash, workspace, git_commit, tool_version, reference_runner, status, created_at, info_json) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (run_id, suite, suite_hash, workspace, git_commit, tool_version, reference_runner, "running", now_iso(), json.dumps({**info, "process": _this_process()})),
        )
        self.commit()

    def _mark_dead_runs(self) -> None:
        """A run still `running` whose process is gone (killed, crashed, power cut) is `interrupted`,
        with the sent and reused counts its stored attempts show. Only runs started on this host
        can be checked; a run of another host stays as it is."""
        here = socket.gethostname()
        for run_id, info in self.db.execute("SELECT id, info_json FROM runs WHERE status='running'").fetchall():
            process = json.loads(info or "{}").get("process") or {}
            if process.get("host") == here and not _alive(process):
                self.db.execute("UPDATE runs SET status='interrupted', finished_at=? WHERE id=? AND status='running'", (now_iso(), run_id))
                self.record_sent_counts(run_id, "interrupted: its process died")
        self.commit()

    def record_sent_counts(self, run_id: str, stopped_reason: str) -> None:
        """Requests sent and reused per runner, from the attempts stored: for a run that stopped
        before its runners could record their own counts (Ctrl-C, or killed). Not committed here."""
        self.db.execute(
            "UPDATE run_runners SET stopped_reason=COALESCE(stopped_reason, ?), "
            "requests_sent=(SELECT COUNT(*) FROM attempts a WHERE a.run_id=run_runners.run_id AND a.runner=run_runners.runner AND a.purpose='run' AND a.reused_from IS NULL), "
            "requests_reused=(SELECT COUNT(*) FROM attempts a WHERE a.run_id=run_runners.run_id AND a.runner=run_runners.runner AND a.purpose='run' AND a.reused_from IS NOT NULL) "
            "WHERE run_id=?",
            (stopped_reason, run_id),
        )

    def finish_run(self, run_id: str, status: str) -> None:
        self.db.execute("UPDATE runs SET status=?, finished_at=? WHERE id=?", (status, now_iso(), run_id))
        self.commit()

    def add_runner(self, run_id: str, runner: str, provider: str, model: str, simulated: bool, profile_hash: str, profile_json: str, pricing_json: str | None = None) -> None:
        self.db.execute(
            "INSERT INTO run_runners (run_id, runner, provider, model, simulated, profile_hash, profile_json, pricing_json) VALUES (?,?,?,?,?,?,?,?)",
            (run_id, runner, provider, model, int(simulated), profile_hash, profile_json, pricing_json),
        )

    def update_runner(self, run_id: str, runner: str, **fields: Any) -> None:
        sets = ", ".join(f"{k}=?" for k in fields)
        self.db.execute(f"UPDATE run_runners SET {sets} WHERE run_id=? AND runner=?", (*fields.values(), run_id, runner))

    def add_samples(self, run_id: str, rows: Iterable[tuple[str, str, str, str | None, str, str | None, str | None]]) -> None:
        """Rows of (sample_id, category, input, reference, metadata, scorers, request) JSON; request: tools, tool_choice, response_format, settings."""
        self.db.executemany(
            "INSERT INTO samples (run_id, sample_id, category, input_json, reference_json, metadata_json, scorers_json, request_json) VALUES (?,?,?,?,?,?,?,?)",
            ((run_id, *r) for r in rows),
        )

    def add_requests(self, rows: Iterable[tuple[str, str, str, str, str, str, str | None]]) -> None:
        """Rows of (request_key, provider, base_urls, model, params, messages, request) JSON; request holds what the
        request sent besides its messages and where each generation setting came from (sample or runner)."""
        self.db.executemany(
            "INSERT OR IGNORE INTO requests (request_key, provider, base_urls, model, params_json, messages_json, request_json) VALUES (?,?,?,?,?,?,?)", rows
        )

    def epoch_of(self, request_key: str) -> int:
        """Which epoch a stored request is (1 unless a sampling runner's repeat)."""
        row = self.db.execute("SELECT json_extract(request_json, '$.epoch') FROM requests WHERE request_key=?", (request_key,)).fetchone()
        return int(row[0]) if row and row[0] is not None else 1

    # ---------------------------------------------------------- attempts
    def record_attempt(self, run_id: str, runner: str, sample_id: str, request_key: str, attempt: int, final: bool, c: Completion, cost_usd: float | None, base_url: str | None, purpose: str = "run", batch_id: str | None = None, epoch: int = 1) -> None:
        """`purpose` is `run` for a runner's answer, `judge:<scorer>` for a judge's verdict; only `run` rows are a runner's answers.
        `batch_id`: the vendor batch that answered it (None: the synchronous API). `epoch`: which of a sampling runner's repeats."""
        u, t = c.usage, c.timing
        row = (
            run_id, runner, sample_id, request_key, attempt, int(final), None, c.status.value, c.text, c.finish_reason,
            u.input_tokens, u.cached_input_tokens, u.cache_write_tokens, u.output_tokens, u.reasoning_tokens,
            t.ttft_ms, t.latency_ms, t.output_tps, c.error, c.error_kind, c.http_status, cost_usd, base_url, c.served_model, time.time(), purpose,
            json.dumps(mark_invalid(c.tool_calls), ensure_ascii=False) if c.tool_calls else None, batch_id, epoch,
        )
        if self._queue is None:
            raise RuntimeError("record_attempt needs start_writer(): attempts are written by the writer thread")
        self._raise_writer_error()
        self._queue.put(row)

    def reusable_answers(self, keys: Iterable[str]) -> dict[str, int]:
        """request_key -> id of the original attempt (never a reused copy) behind the latest finished answer with that key.

        Finished means `ok`, or `truncated` because the server stopped at max_tokens (or the context
        window): the same request would be cut again and paid again, so it is reused and graded as
        truncated. A stream that dropped before its closing event, an error or a timeout is re-sent."""
        out: dict[str, int] = {}
        keys = list(keys)
        for i in range(0, len(keys), 900):
            chunk = keys[i : i + 900]
            q = (
                "SELECT request_key, MAX(COALESCE(reused_from, id)) FROM attempts WHERE final=1 AND purpose='run' "
                f"AND (status='ok' OR (status='truncated' AND finish_reason IN ({_CUT_AT_LIMIT}))) "
                f"AND request_key IN ({','.join('?' * len(chunk))}) GROUP BY request_key"
            )
            out.update({k: v for k, v in self.db.execute(q, chunk)})
        return out

    def spent_usd(self, run_id: str) -> float:
        """What this run has paid for so far, every purpose and retry included (reused answers cost nothing)."""
        (v,) = self.db.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM attempts WHERE run_id=? AND reused_from IS NULL", (run_id,)).fetchone()
        return float(v)

    def stored_answer(self, purpose: str, request_key: str) -> tuple[Completion, float] | None:
        """The latest ok, final answer to a `purpose` request with this key, and what it cost when it was
        sent; None when there is none. How a judge's verdict is reused instead of paid for again."""
        rows = self.query(
            "SELECT * FROM attempts WHERE purpose=? AND request_key=? AND final=1 AND status='ok' ORDER BY id DESC LIMIT 1",
            (purpose, request_key),
        )
        if not rows:
            return None
        r = rows[0]
        origin = self.query("SELECT cost_usd FROM attempts WHERE id=?", (r["reused_from"],))[0] if r["reused_from"] else r
        return completion_from_row(r), float(origin["cost_usd"] or 0.0)

    def reuse_attempts(self, run_id: str, runner: str, answers: list[tuple[str, int, int]]) -> None:
        """Copy earlier finished answers, (sample id, epoch, attempt id), into this run, pointing back at their origin. Not billed again."""
        cols = _ATTEMPT_COLS.replace("run_id, runner, sample_id, ", "").replace("reused_from, ", "").replace(", epoch", "")
        self.db.executemany(
            f"INSERT INTO attempts (run_id, runner, sample_id, epoch, reused_from, {cols}) "
            f"SELECT ?, ?, ?, ?, id, {cols.replace('created_at', '?')} FROM attempts WHERE id=?",
            [(run_id, runner, sid, epoch, time.time(), aid) for sid, epoch, aid in answers],
        )
        self.commit()

    # ---------------------------------------------------------- server facts
    def add_server_fact(self, run_id: str, runner: str, base_url: str, kind: str, data: dict[str, Any]) -> None:
        """One fact a runner's server gave about itself (version, models, metrics deltas).
        Not committed here: written after the run's writer thread stopped, committed with finish_run."""
        self.db.execute(
            "INSERT INTO server_facts (run_id, runner, base_url, kind, json, created_at) VALUES (?,?,?,?,?,?)",
            (run_id, runner, base_url, kind, json.dumps(data, sort_keys=True), now_iso()),
        )

    def usage_anomalies(self, run_id: str) -> dict[tuple[str, str], tuple[int, str]]:
        """(runner, base_url) -> (answers whose token counts cannot all be true, one example) (see evals.cost.anomaly)."""
        from evals.cost.anomaly import usage_anomaly

        out: dict[tuple[str, str], tuple[int, str]] = {}
        rows = self.query(
            "SELECT runner, base_url, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens FROM attempts "
            "WHERE run_id=? AND reused_from IS NULL AND purpose='run' AND base_url IS NOT NULL AND (MIN(COALESCE(input_tokens, 0), COALESCE(cached_input_tokens, 0), "
            "COALESCE(cache_write_tokens, 0), COALESCE(output_tokens, 0), COALESCE(reasoning_tokens, 0)) < 0 "
            "OR COALESCE(cached_input_tokens, 0) + COALESCE(cache_write_tokens, 0) > input_tokens OR reasoning_tokens > output_tokens)",
            (run_id,),
        )
        for r in rows:
            why = usage_anomaly(Usage(**{f: r[f] for f in Usage.model_fields}))
            if why is not None:
                n, example = out.get((r["runner"], r["base_url"]), (0, why))
                out[(r["runner"], r["base_url"])] = (n + 1, example)
        return out

    def answers_without_usage(self, run_id: str) -> dict[tuple[str, str], int]:
        """(runner, base_url) -> ok answers this run received without any token counts."""
        rows = self.db.execute(
            "SELECT runner, base_url, COUNT(*) FROM attempts WHERE run_id=? AND status='ok' AND reused_from IS NULL AND purpose='run' "
            "AND input_tokens IS NULL AND output_tokens IS NULL AND base_url IS NOT NULL GROUP BY runner, base_url",
            (run_id,),
        )
        return {(r, u): n for r, u, n in rows}

    # ---------------------------------------------------------- measurements
    def save_measurement(
        self,
        *,
        runner: str,
        profile_hash: str,
        suite: str | None,
        created_at: str,
        slo: dict[str, Any],
        operating_point: dict[str, Any] | None,
        flags: list[str],
        simulated: bool,
        info: dict[str, Any],
        steps: list[tuple[str, float, dict[str, Any]]],
    ) -> int:
        """One `evals measure` sweep and its steps (mode, level, step), committed at once."""
        cur = self.db.execute(
            "INSERT INTO measurements (runner, profile_hash, suite, created_at, slo_json, operating_point_json, flags_json, simulated, info_json) VALUES (?,?,?,?,?,?,?,?,?)",
            (runner, profile_hash, suite, created_at, json.dumps(slo), json.dumps(operating_point) if operating_point is not None else None, json.dumps(flags), int(simulated), json.dumps(info)),
        )
        mid = int(cur.lastrowid or 0)
        self.db.executemany("INSERT INTO measurement_steps (measurement_id, mode, level, json) VALUES (?,?,?,?)", [(mid, mode, level, json.dumps(step)) for mode, level, step in steps])
        self.commit()
        return mid

    # ---------------------------------------------------------- scores
    def clear_scores(self, run_id: str) -> None:
        """Before a (re)scoring: the run's scores, outcomes and the summaries analysed from them go."""
        self.db.execute("DELETE FROM run_summaries WHERE run_id=?", (run_id,))
        self.db.execute("DELETE FROM scores WHERE run_id=?", (run_id,))
        self.db.execute("DELETE FROM outcomes WHERE run_id=?", (run_id,))

    def save_run_summary(self, run_id: str, key: str, summary_json: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO run_summaries (run_id, key, created_at, json) VALUES (?,?,?,?)", (run_id, key, now_iso(), summary_json))
        self.commit()

    def run_summary(self, run_id: str, key: str) -> str | None:
        rows = self.db.execute("SELECT json FROM run_summaries WHERE run_id=? AND key=?", (run_id, key)).fetchall()
        return rows[0][0] if rows else None

    def add_scores(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Rows of the columns in _SCORE_COLS' order."""
        self.db.executemany(f"INSERT INTO scores ({_SCORE_COLS}) VALUES ({', '.join('?' * len(_SCORE_COLS.split(',')))})", rows)

    def add_gate_result(self, run_id: str, baseline_id: str | None, result: str, exit_code: int, report_json: str) -> None:
        """A gate's verdict on the run (against `baseline_id`, None when there was none) and its whole report; committed."""
        self.db.execute(
            "INSERT INTO gate_results (run_id, baseline_id, result, exit_code, json, created_at) VALUES (?,?,?,?,?,?)",
            (run_id, baseline_id, result, exit_code, report_json, now_iso()),
        )
        self.commit()

    def add_outcomes(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Rows of (run_id, runner, sample_id, epoch, value, passed)."""
        self.db.executemany("INSERT INTO outcomes (run_id, runner, sample_id, epoch, value, passed) VALUES (?,?,?,?,?,?)", rows)
