"""Scorer protocol and registry.

A scorer is a small async callable `(output, sample) -> Score`, built by a
factory registered with `@scorer("name")`. The factory's keyword arguments are
the scorer's settings from suite.yaml (merged with per-sample settings), and
are recorded with every score so a result can be traced to how it was graded.
`output` is the answer's text; a scorer registered with `sees="completion"`
gets the whole stored Completion instead (text, tool calls, finish reason,
usage, timing). A scorer declares what else its scores carry (`produces=`):
`labels` feed the confusion matrix, `format_check` the cascade's check.

A team adds its own scorer in a Python file listed under `plugins:` in
suite.yaml, or in an installed package through the entry point group
`workload_evals.scorers` (see README "Extending"):

    from evals.scoring import scorer, Score

    @scorer("starts_with_ticket_id")
    def starts_with_ticket_id(prefix: str = "TCK-"):
        async def score(output, sample):
            ok = output.strip().startswith(prefix)
            return Score(value=float(ok), passed=ok, explanation=f"starts with {prefix!r}: {ok}")
        return score
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field

from evals.providers.base import Completion, Usage
from evals.registry import Registry, origin_of
from evals.suite.sample import Sample

if TYPE_CHECKING:
    from evals.run.calls import ModelCalls


class Score(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: float = Field(ge=0, le=1)
    passed: bool
    explanation: str = ""
    error: str | None = None
    """The scorer could not grade (e.g. an unparseable judge verdict). Never a pass."""
    details: dict[str, Any] = Field(default_factory=dict)
    """Scorer-specific facts, e.g. the predicted and expected label."""
    judge_usage: Usage | None = None
    judge_cost_usd: float | None = None


ScoreFn = Callable[[Any, Sample], Awaitable[Score]]
"""`(output, sample) -> Score`; output is the text, or the Completion for `sees="completion"` scorers."""


@dataclass
class ScoringContext:
    """What scorers that call out (the LLM judge) need from the run; plain scorers ignore it."""

    workspace: Path | None = None
    resolve_runner: Callable[[str], Any] | None = None
    price_overrides: Path | None = None
    """A `--prices` file that prices the judge's calls instead of the catalogue."""
    service_urls: dict[str, str] = field(default_factory=dict)
    """Runner name -> where the provider's own service listens (the simulated server), for judges with no base_url."""
    cleanups: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """Closers registered by scorers (the judge's HTTP clients), awaited before the scoring loop ends."""
    calls: ModelCalls | None = None
    """The run being scored, whose store and budget a judge's calls go through; None: no model may be called."""


Sees = Literal["text", "completion"]


@dataclass(frozen=True)
class RegisteredScorer:
    name: str
    factory: Callable[..., ScoreFn]
    wants_context: bool
    sees: Sees
    """`text`: the score function gets the answer's text; `completion`: the whole stored Completion
    (text, tool calls, finish reason, usage, timing)."""
    produces: frozenset[str]
    """What its scores carry beyond pass/fail, which the report uses: `labels` (details hold
    `predicted` and `expected`: a confusion matrix), `format_check` (a failure production could see
    without a reference answer: a cascade's escalation check)."""


PRODUCES = frozenset({"labels", "format_check"})


def _load_builtins() -> None:
    import evals.scoring.builtin  # noqa: F401  (registers on import)
    import evals.scoring.code  # noqa: F401
    import evals.scoring.judge  # noqa: F401
    import evals.scoring.structure  # noqa: F401


REGISTRY: Registry[RegisteredScorer] = Registry("scorer", _load_builtins)


def scorer(name: str, *, sees: Sees = "text", produces: tuple[str, ...] = ()) -> Callable[[Callable[..., ScoreFn]], Callable[..., ScoreFn]]:
    """Register a scorer factory under `name`. A second, different factory under the same name is an error."""
    unknown = set(produces) - PRODUCES
    if unknown:
        raise ValueError(f"scorer {name!r}: unknown `produces` {sorted(unknown)}; known: {sorted(PRODUCES)}")

    def deco(factory: Callable[..., ScoreFn]) -> Callable[..., ScoreFn]:
        wants = "context" in inspect.signature(factory).parameters
        REGISTRY.add(name, RegisteredScorer(name=name, factory=factory, wants_context=wants, sees=sees, produces=frozenset(produces)), origin_of(factory))
        factory.scorer_name = name  # type: ignore[attr-defined]
        return factory

    return deco


def registered() -> dict[str, RegisteredScorer]:
    return {name: e.item for name, e in REGISTRY.entries().items()}


def producing(what: str) -> list[str]:
    """Names of the registered scorers that declare they produce `what`."""
    return sorted(name for name, r in registered().items() if what in r.produces)


def build(name: str, args: dict[str, Any], context: ScoringContext | None = None) -> ScoreFn:
    """Instantiate a scorer, with an error that names the scorer and the bad argument. The function
    returned always takes the stored Completion: a text scorer is handed its text."""
    reg = REGISTRY.get(name).item
    kwargs = dict(args)
    if reg.wants_context:
        kwargs["context"] = context or ScoringContext()
    try:
        inspect.signature(reg.factory).bind(**kwargs)
    except TypeError as e:
        raise TypeError(f"scorer {name!r}: bad arguments {sorted(args)}: {e}") from None
    fn = reg.factory(**kwargs)
    if reg.sees == "completion":
        return fn

    async def on_text(output: Completion | str, sample: Sample) -> Score:
        return await fn(output.text if isinstance(output, Completion) else output, sample)

    return on_text


def load_plugin(path: Path) -> None:
    """Import a suite's plugin file so its @scorer registrations take effect (once per file)."""
    if not path.exists():
        raise FileNotFoundError(f"scorer plugin {path} not found")
    mod_name = f"evals_plugin_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]}"
    if mod_name in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(mod_name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[mod_name]
        raise
