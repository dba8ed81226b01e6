"""The store's record of batch submissions: which vendor batch carries which request keys.

A batch id is worth money: the vendor bills its requests whether or not anyone
collects them. So it is written and committed the moment the vendor returns it,
on a connection of its own (the run's writer thread owns the Store's), before
anything waits on the batch; a run killed while it waits leaves the id behind,
and the next run with the same request keys collects that batch instead of
submitting them again.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from evals.store.db import now_iso

IN_FLIGHT = "in_flight"
ENDED = "ended"
COLLECTED = "collected"
LOST = "lost"
"""The vendor no longer knows the batch (e.g. the simulated server that held it has stopped)."""
IN_FLIGHT_STATES = (IN_FLIGHT, ENDED)
"""Batches whose results nobody has stored yet."""


@dataclass(frozen=True)
class BatchRow:
    id: int
    run_id: str
    runner: str
    vendor: str
    vendor_batch_id: str
    base_url: str | None
    round: int
    requests: int
    worst_case_usd: float
    status: str
    vendor_status: str | None
    done: int


class BatchLedger:
    def __init__(self, path: str | Path) -> None:
        self.db = sqlite3.connect(Path(path), isolation_level=None, check_same_thread=False, timeout=60)
        self.db.execute("PRAGMA busy_timeout=60000")

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One atomic write: the connection autocommits each statement otherwise, so a kill between a
        batch's row and its request keys would leave a batch that seems to carry fewer requests."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def add(
        self, *, run_id: str, runner: str, vendor: str, vendor_batch_id: str, base_url: str | None, round: int,
        worst_case_usd: float, requests: dict[str, list[str]],
    ) -> BatchRow:
        """Record a batch the vendor has just accepted; `requests` maps each request key (its custom_id) to the
        submitting run's sample ids it answers. Committed before this returns."""
        with self._transaction():
            cur = self.db.execute(
                "INSERT INTO batches (run_id, runner, vendor, vendor_batch_id, base_url, round, requests, worst_case_usd, status, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (run_id, runner, vendor, vendor_batch_id, base_url, round, len(requests), worst_case_usd, IN_FLIGHT, now_iso()),
            )
            bid = cur.lastrowid
            assert bid is not None
            self.db.executemany("INSERT INTO batch_requests (batch, request_key, sample_ids_json) VALUES (?,?,?)", ((bid, k, json.dumps(ids)) for k, ids in requests.items()))
        return self.get(bid)

    def get(self, batch: int) -> BatchRow:
        row = self.db.execute(f"SELECT {_COLS} FROM batches WHERE id=?", (batch,)).fetchone()
        return BatchRow(*row)

    def in_flight_for(self, vendor: str, keys: Iterable[str]) -> list[BatchRow]:
        """Batches of `vendor` not yet collected that carry any of these request keys, from any run."""
        keys = list(keys)
        ids: set[int] = set()
        for i in range(0, len(keys), 900):
            chunk = keys[i : i + 900]
            q = (
                f"SELECT DISTINCT b.id FROM batches b JOIN batch_requests r ON r.batch=b.id WHERE b.vendor=? AND b.status IN (?, ?) "
                f"AND r.request_key IN ({','.join('?' * len(chunk))})"
            )
            ids.update(x for (x,) in self.db.execute(q, (vendor, IN_FLIGHT, ENDED, *chunk)))
        return [self.get(i) for i in sorted(ids)]

    def requests(self, batch: int) -> dict[str, list[str]]:
        """request key -> sample ids of the submitting run."""
        return {k: json.loads(s) for k, s in self.db.execute("SELECT request_key, sample_ids_json FROM batch_requests WHERE batch=?", (batch,))}

    def progress(self, batch: int, vendor_status: str, done: int, ended: bool) -> None:
        with self._transaction():
            self.db.execute(
                "UPDATE batches SET vendor_status=?, done=?, status=CASE WHEN ? AND status=? THEN ? ELSE status END, "
                "ended_at=CASE WHEN ? AND ended_at IS NULL THEN ? ELSE ended_at END WHERE id=?",
                (vendor_status, done, ended, IN_FLIGHT, ENDED, ended, now_iso(), batch),
            )

    def mark(self, batch: int, status: str) -> None:
        with self._transaction():
            self.db.execute("UPDATE batches SET status=?, ended_at=COALESCE(ended_at, ?) WHERE id=?", (status, now_iso(), batch))

    def of_run(self, run_id: str) -> list[BatchRow]:
        return [BatchRow(*r) for r in self.db.execute(f"SELECT {_COLS} FROM batches WHERE run_id=? ORDER BY id", (run_id,))]


_COLS = "id, run_id, runner, vendor, vendor_batch_id, base_url, round, requests, worst_case_usd, status, vendor_status, done"
