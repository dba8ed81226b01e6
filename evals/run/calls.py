"""What model calls made outside a run's own runners (the LLM judge) need
from the run: the store they are recorded in, the run they belong to, and the
budget they draw on. With it, a judge's verdict is an attempt like any
answer: stored, budgeted, retried by the one policy, and reused by its
request key instead of being paid for again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from evals.run.budget import Budget
from evals.store.db import Store

if TYPE_CHECKING:
    from evals.run.executor import Caller


@dataclass
class ModelCalls:
    store: Store
    run_id: str
    budget: Budget = field(default_factory=lambda: Budget(None))
    reuse: bool = True
    """False sends every call again (`--no-reuse`)."""
    reused: dict[str, int] = field(default_factory=dict)
    """purpose -> calls answered from the store without sending."""
    callers: list[tuple[str, Caller]] = field(default_factory=list)
    """(purpose, caller) of every caller opened for this run's scoring."""

    @property
    def sent(self) -> dict[str, int]:
        """purpose -> requests sent over the wire, retries included."""
        out: dict[str, int] = {}
        for purpose, caller in self.callers:
            out[purpose] = out.get(purpose, 0) + caller.result.sent
        return out

    def count_reused(self, purpose: str) -> None:
        self.reused[purpose] = self.reused.get(purpose, 0) + 1
