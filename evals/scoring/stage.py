"""The score stage: stored completions -> scores and pass/fail outcomes.

Reads only the store and the suite, so `evals score RUN` can regrade a run
after a scorer changes without calling any model again. Only `ok`
completions are graded; truncated, errored and timed-out ones get no score
and never count as completed.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from evals.config import ConfigError, ScorerSpec, Suite
from evals.errors import UsageError
from evals.providers.base import Completion
from evals.scoring.base import REGISTRY, Score, ScoreFn, ScoringContext, build, load_plugin
from evals.scoring.passrule import combine, merge_args
from evals.store.db import Store
from evals.store.reads import GradedAnswer
from evals.suite.sample import Sample


@dataclass
class ScoreSummary:
    graded: int
    passed: int
    scorer_errors: int
    judge_sent: int = 0
    """Judge requests sent over the wire by this scoring, retries included."""
    judge_reused: int = 0
    """Judge verdicts read from the store instead of being asked (and paid for) again."""


def _samples(store: Store, run_id: str) -> dict[str, Sample]:
    out = {}
    for r in store.samples(run_id):
        out[r.sample_id] = Sample(
            id=r.sample_id,
            input=json.loads(r.input_json),
            reference=json.loads(r.reference_json) if r.reference_json is not None else None,
            category=r.category,
            metadata=json.loads(r.metadata_json),
            scorers=json.loads(r.scorers_json) if r.scorers_json else None,
            **(json.loads(r.request_json) if r.request_json else {}),
        )
    return out


def check_scorers(suite: Suite, context: ScoringContext | None = None) -> None:
    """Build every scorer the suite names once, so a typo fails before any model is called."""
    for p in suite.plugins:
        load_plugin(suite.dir / p)
    specs = list(suite.scorers)
    for o in suite.categories.values():
        specs += o.scorers or []
    for spec in specs:
        try:
            build(spec.name, spec.args, context)
        except TypeError as e:
            if "missing" in str(e):
                continue  # a required argument each sample supplies (sample `scorers:` settings)
            raise ConfigError(f"{suite.dir / 'suite.yaml'}: scorer `{spec.name}`: {e}") from None
        except (UsageError, ValueError) as e:
            raise ConfigError(f"{suite.dir / 'suite.yaml'}: scorer `{spec.name}`: {e}") from None


def _failing(message: str) -> ScoreFn:
    async def score(output: Completion, sample: Sample) -> Score:
        return Score(value=0.0, passed=False, error=message)

    return score


async def _grade(output: Completion, sample: Sample, specs: list[ScorerSpec], fns: list[ScoreFn]) -> list[Score]:
    out = []
    for spec, fn in zip(specs, fns):
        try:
            out.append(await fn(output, sample))
        except Exception as e:  # a scorer bug is this sample's scoring error, never a pass
            out.append(Score(value=0.0, passed=False, error=f"scorer {spec.name} failed: {type(e).__name__}: {e}"))
    return out


async def _close_scorers(context: ScoringContext | None) -> None:
    """Run what scorers registered to close on this event loop (the LLM judge's
    HTTP clients), before `asyncio.run` ends the loop they belong to."""
    if context is None:
        return
    closers, context.cleanups = context.cleanups, []
    for close in closers:
        await close()


def score_run(store: Store, run_id: str, suite: Suite, context: ScoringContext | None = None, concurrency: int = 16) -> ScoreSummary:
    store.run(run_id)  # a clear error for an unknown run
    check_scorers(suite, context)
    samples = _samples(store, run_id)
    rows = store.ok_answers(run_id)
    cache: dict[tuple[str, str], ScoreFn] = {}

    def scorer_fns(sample: Sample) -> tuple[list[ScorerSpec], list[ScoreFn]]:
        """The sample's scorers; bad per-sample settings grade only that sample as a scorer error."""
        specs, fns = [], []
        for spec in suite.scorers_for(sample.category):
            try:
                args = merge_args(spec.args, sample.scorers, spec.name)
                key = (spec.name, json.dumps(args, sort_keys=True, default=str))
                if key not in cache:
                    cache[key] = build(spec.name, args, context)
                fn = cache[key]
            except (UsageError, TypeError, ValueError) as e:
                args, fn = spec.args, _failing(f"sample {sample.id}: scorer {spec.name}: {e}")
            specs.append(ScorerSpec(name=spec.name, args=args, weight=spec.weight))
            fns.append(fn)
        return specs, fns

    async def main() -> list[tuple[GradedAnswer, list[ScorerSpec], list[Score]]]:
        sem = asyncio.Semaphore(concurrency)

        async def one(row: GradedAnswer) -> tuple[GradedAnswer, list[ScorerSpec], list[Score]]:
            sample = samples[row.sample_id]
            specs, fns = scorer_fns(sample)
            async with sem:
                return row, specs, await _grade(row.completion, sample, specs, fns)

        try:
            return await asyncio.gather(*(one(r) for r in rows))
        finally:
            await _close_scorers(context)

    calls = context.calls if context else None
    if calls is not None:
        store.start_writer()  # judge calls are attempts, written like a run's
    try:
        graded = asyncio.run(main())
    finally:
        if calls is not None:
            store.stop_writer()
    store.clear_scores(run_id)
    score_rows, outcome_rows = [], []
    passed = errors = 0
    for row, specs, scores in graded:
        sample = samples[row.sample_id]
        value, ok = combine(list(zip(specs, scores)), suite.pass_rule_for(sample.category))
        passed += ok
        for i, (spec, sc) in enumerate(zip(specs, scores)):
            errors += sc.error is not None
            score_rows.append(
                (
                    run_id, row.runner, row.sample_id, row.epoch, i, spec.name, json.dumps(spec.args, default=str), spec.weight,
                    sc.value, int(sc.passed), sc.explanation, sc.error, json.dumps(sc.details, default=str),
                    sc.judge_usage.model_dump_json() if sc.judge_usage else None, sc.judge_cost_usd,
                    ",".join(sorted(REGISTRY.get(spec.name).item.produces)),
                )
            )
        outcome_rows.append((run_id, row.runner, row.sample_id, row.epoch, value, int(ok)))
    store.add_scores(score_rows)
    store.add_outcomes(outcome_rows)
    store.commit()
    return ScoreSummary(
        graded=len(graded), passed=passed, scorer_errors=errors,
        judge_sent=sum(calls.sent.values()) if calls else 0, judge_reused=sum(calls.reused.values()) if calls else 0,
    )
