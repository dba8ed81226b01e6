"""Scorer protocol and registry.

A scorer is a small async callable `(output, sample) -> Score`, built by a
factory registered with `@scorer("name")`. The factory's keyword arguments are
the scorer's settings from suite.yaml (merged with per-sample settings), and
are recorded with every score so a result can be traced to how it was graded.

A team adds its own scorer in a Python file listed under `plugins:` in
suite.yaml:

    from evals.scoring import scorer, Score

    @scorer("starts_with_ticket_id")
    def starts_with_ticket_id(prefix: str = "TCK-"):
        async def score(output, sample):
            ok = output.strip().startswith(prefix)
            return Score(value=float(ok), passed=ok, explanation=f"starts with {prefix!r}: {ok}")
        return score
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Protocol

from pydantic import BaseModel, ConfigDict, Field

from evals.providers.base import Usage
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


ScoreFn = Callable[[str, Sample], Awaitable[Score]]


class ScorerFactory(Protocol):
    def __call__(self, **kwargs: Any) -> ScoreFn: ...


@dataclass
class ScoringContext:
    """What scorers that call out (the LLM judge) need from the run; plain scorers ignore it."""

    workspace: Path | None = None
    resolve_runner: Callable[[str], Any] | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    calls: ModelCalls | None = None
    """The run being scored, whose store and budget a judge's calls go through; None: no model may be called."""


@dataclass(frozen=True)
class RegisteredScorer:
    name: str
    factory: Callable[..., ScoreFn]
    wants_context: bool


_REGISTRY: dict[str, RegisteredScorer] = {}


def scorer(name: str) -> Callable[[Callable[..., ScoreFn]], Callable[..., ScoreFn]]:
    """Register a scorer factory under `name`."""

    def deco(factory: Callable[..., ScoreFn]) -> Callable[..., ScoreFn]:
        wants = "context" in inspect.signature(factory).parameters
        _REGISTRY[name] = RegisteredScorer(name=name, factory=factory, wants_context=wants)
        factory.scorer_name = name  # type: ignore[attr-defined]
        return factory

    return deco


def registered() -> dict[str, RegisteredScorer]:
    _load_builtins()
    return dict(_REGISTRY)


def build(name: str, args: dict[str, Any], context: ScoringContext | None = None) -> ScoreFn:
    """Instantiate a scorer, with an error that names the scorer and the bad argument."""
    _load_builtins()
    reg = _REGISTRY.get(name)
    if reg is None:
        raise KeyError(f"unknown scorer {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    kwargs = dict(args)
    if reg.wants_context:
        kwargs["context"] = context or ScoringContext()
    try:
        inspect.signature(reg.factory).bind(**kwargs)
    except TypeError as e:
        raise TypeError(f"scorer {name!r}: bad arguments {sorted(args)}: {e}") from None
    return reg.factory(**kwargs)


def load_plugin(path: Path) -> None:
    """Import a suite's plugin file so its @scorer registrations take effect."""
    if not path.exists():
        raise FileNotFoundError(f"scorer plugin {path} not found")
    mod_name = f"evals_plugin_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    spec.loader.exec_module(module)


def _load_builtins() -> None:
    import evals.scoring.builtin  # noqa: F401  (registers on import)
    import evals.scoring.code  # noqa: F401
    import evals.scoring.judge  # noqa: F401
