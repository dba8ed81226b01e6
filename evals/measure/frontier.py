"""`measure`: sweep an endpoint's load levels with the suite's own prompts, and
find the busiest level that still meets the latency target.

Every step sends the same prompts in the same order (the suite's, shuffled
once by the seed and cycled), so steps differ only in load. A step that the
client could not drive as asked (an open-loop schedule it fell behind, a
connection pool it filled) and a figure above the hardware's physical bound
are flagged: a measurement that cannot be trusted says so.
"""

from __future__ import annotations

import asyncio
import gc
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from evals.config import RunnerProfile
from evals.measure.bound import DecodeBound, apply, decode_bound
from evals.measure.load import Load, closed_loop, open_loop
from evals.measure.metrics import percentile, summarise
from evals.measure.model import Frontier, Mode, OperatingPoint, Slo, Step
from evals.providers.base import GenerationParams, Message, Provider
from evals.providers.factory import make_providers
from evals.run.progress import Progress
from evals.store.db import now_iso

DEFAULT_CONCURRENCIES = (1, 4, 16, 64, 256)
MAX_LAG_P99_MS = 10.0
MIN_ACHIEVED_SHARE = 0.95
"""Open loop: the client kept up when its p99 lag is under MAX_LAG_P99_MS and it
sent at no less than this share of the scheduled rate. Every step: the client
was not the bottleneck when its event loop's lag p99 is under MAX_LAG_P99_MS."""
OPEN_LOOP_CONNECTIONS = 1024
"""Connections per replica in open loop, where nothing caps the requests in flight."""


def measure(
    profile: RunnerProfile,
    prompts: list[list[Message]],
    *,
    concurrencies: Sequence[int] | None = None,
    rates: Sequence[float] | None = None,
    requests_per_step: int | None = None,
    duration_s: float | None = None,
    warmup: int | None = None,
    ttft_slo_ms: float = 500.0,
    tpot_slo_ms: float | None = None,
    e2e_slo_ms: float | None = None,
    burstiness: float = 1.0,
    slo_percentile: int = 95,
    max_tokens: int | None = None,
    seed: int = 0,
    suite: str | None = None,
    base_url: str | None = None,
    quiet: bool = True,
    client: Literal["sdk", "lean"] | None = None,
) -> Frontier:
    """Closed loop at each of `concurrencies` (default 1, 4, 16, 64, 256), or open
    loop at each of `rates` (Poisson arrivals, requests/s; `burstiness` other
    than 1 draws gamma-distributed gaps of that shape instead, as vLLM's benchmark).

    A step sends `requests_per_step` measured requests (default: 4 × C, or 10 s
    of arrivals, at least 32), or as many as `duration_s` allows, or whichever
    ends first when both are given; `warmup` requests go before (default: one
    per worker, or the first second of arrivals) and count for nothing.
    `base_url` is where the endpoint listens when the profile cannot say: the
    simulated server for simulated runners, the launched server for runners
    with a `launch:` block. The frontier keeps the hash of `profile` as written.
    `client` is the HTTP client; None: the one the profile's `client:` names,
    and where it names none, the lean one wherever the runner speaks the OpenAI
    protocol to a server of its own (so the client is not what is measured),
    else the SDK.
    """
    if concurrencies is not None and rates is not None:
        raise ValueError("give concurrencies or rates, not both")
    mode: Mode = "rate" if rates is not None else "concurrency"
    levels = [float(x) for x in (rates if rates is not None else concurrencies or DEFAULT_CONCURRENCIES)]
    if not levels or any(x <= 0 for x in levels) or (mode == "concurrency" and any(x != int(x) for x in levels)):
        raise ValueError(f"load levels must be positive{' integers' if mode == 'concurrency' else ''}, got {levels}")
    if len(set(levels)) != len(levels):
        raise ValueError(f"load levels must differ, got {levels}")
    for name, value in (("requests_per_step", requests_per_step), ("duration_s", duration_s)):
        if value is not None and value <= 0:
            raise ValueError(f"{name} must be positive, got {value}")
    if warmup is not None and warmup < 0:
        raise ValueError(f"warmup must be at least 0, got {warmup}")
    if not prompts:
        raise ValueError("no prompts to send")
    if not (burstiness > 0 and math.isfinite(burstiness)):
        raise ValueError(f"burstiness must be a positive number (1 = Poisson), got {burstiness}")
    if burstiness != 1.0 and mode != "rate":
        raise ValueError("burstiness shapes open-loop arrivals: give rates, not concurrencies")
    slo = Slo.model_validate({"ttft_ms": ttft_slo_ms, "tpot_ms": tpot_slo_ms, "e2e_ms": e2e_slo_ms, "percentile": slo_percentile})
    order = list(prompts)
    random.Random(seed).shuffle(order)
    connections = int(max(levels)) if mode == "concurrency" else OPEN_LOOP_CONNECTIONS
    params = profile.params if max_tokens is None else profile.params.model_copy(update={"max_tokens": max_tokens})
    bound, bound_note = decode_bound(profile)
    chosen = client or default_client(profile)
    if chosen == "lean" and not lean_allowed(profile):
        raise ValueError(f"runner {profile.name!r}: the lean client speaks the OpenAI protocol to self-hosted and simulated servers; provider {profile.provider} keeps its SDK")

    async def sweep() -> tuple[list[Step], list[str]]:
        served = profile.model_copy(update={"concurrency": connections, "client": chosen, **({"base_url": base_url} if profile.launch and base_url else {})})
        providers = make_providers(served, base_url)
        steps: list[Step] = []
        flags: list[str] = []
        thresholds = gc.get_threshold()
        gc.set_threshold(thresholds[0], thresholds[1], NO_FULL_GC)  # full collections run between steps (_settle_gc)
        try:
            with Progress(quiet=quiet) as progress:
                plan = _Plan(mode, providers, order, params, slo, bound, connections, requests_per_step, duration_s, warmup, seed, burstiness)
                for level in levels:
                    _settle_gc()
                    step, step_flags = await _step(plan, level, progress)
                    steps.append(step)
                    flags.extend(step_flags)
        finally:
            gc.set_threshold(*thresholds)
            gc.unfreeze()
            for p in providers:
                await p.aclose()
        return steps, flags

    steps, flags = asyncio.run(sweep())
    notes = [bound_note] if bound_note else []
    if not profile.stream:
        notes.append("TTFT and inter-token latency unavailable: the runner does not stream (stream: false), so only end-to-end latency is timed.")
    unknown = sum(s.unknown_tokens for s in steps)
    if unknown:
        notes.append(f"{unknown} served request(s) came without a token count from the server: token rates of their steps are unknown (n/a), not 0, and they have no TPOT.")
    point = operating_point(steps, slo, profile.simulated)
    if point is None:
        notes.append(_no_point_reason(steps, slo))
    return Frontier(
        runner=profile.name,
        model=profile.model,
        profile_hash=profile.profile_hash(),
        suite=suite,
        simulated=profile.simulated,
        streaming=profile.stream,
        created_at=now_iso(),
        mode=mode,
        slo=slo,
        steps=steps,
        operating_point=point,
        flags=flags,
        notes=notes,
        bound=bound.info if bound else None,
        client=chosen,
    )


def default_client(profile: RunnerProfile) -> Literal["sdk", "lean"]:
    """The client a sweep uses unless told: the profile's `client:` where it says one, else lean where allowed."""
    if "client" in profile.model_fields_set:
        return profile.client
    return "lean" if lean_allowed(profile) else profile.client


def lean_allowed(profile: RunnerProfile) -> bool:
    """Whether the lean client may drive this runner: the same rule the profile's `client:` field obeys."""
    return profile.provider == "openai_compatible" or (profile.simulate is not None and profile.simulate.protocol == "openai")


@dataclass(frozen=True)
class _Plan:
    """What every step of one sweep shares."""

    mode: Mode
    providers: list[Provider]
    prompts: list[list[Message]]
    params: GenerationParams
    slo: Slo
    bound: DecodeBound | None
    connections: int
    requests: int | None
    duration_s: float | None
    warmup: int | None
    seed: int
    burstiness: float


async def _step(plan: _Plan, level: float, progress: Progress) -> tuple[Step, list[str]]:
    requests, warmup = plan.requests, plan.warmup
    if requests is None and plan.duration_s is None:
        requests = max(32, 4 * int(level)) if plan.mode == "concurrency" else max(32, math.ceil(10 * level))
    if warmup is None:
        warmup = int(level) if plan.mode == "concurrency" else max(1, math.ceil(level))
    label = f"C={level:g}" if plan.mode == "concurrency" else f"{level:g} req/s"
    tick = progress.add(label, total=requests) if requests is not None else (lambda: None)
    load = Load(plan.providers, plan.prompts, plan.params, warmup=warmup, requests=requests, duration_s=plan.duration_s, on_measured=tick)
    if plan.mode == "concurrency":
        run = await closed_loop(load, int(level))
    else:
        run = await open_loop(load, level, random.Random(f"{plan.seed}:{level}"), plan.burstiness)
    step = summarise(run, plan.mode, level, plan.slo)
    if plan.mode == "rate":
        step = step.model_copy(update={"burstiness": plan.burstiness})
    flags: list[str] = []
    if plan.bound is not None:
        step, flags = apply(step, plan.bound)
    if client_bound(step):
        step = step.model_copy(update={"client_bound": True})
    return step, flags + _client_flags(step, plan.connections, len(plan.providers))


NO_FULL_GC = 1_000_000
"""The collector's third threshold during a sweep: no automatic full collection inside a step."""


def _settle_gc() -> None:
    """Collect now, between steps, and freeze what survives (modules, SDKs, clients).

    A full collection of that heap takes ~100 ms, and one that fell inside a
    step stalled the event loop: it showed as client lag and as server latency
    (benchmarks/bench_measure.py found it). Frozen objects are skipped by later
    collections, so one during a step scans only what the step allocated.
    Even that took ~80 ms three seconds into a step at 1,000 requests/s (the
    step's own records), so during a sweep the collector makes no full
    collection by itself (NO_FULL_GC): young collections still free the cycles
    a request leaves, and this one, between steps, frees the rest. `measure`
    unfreezes the heap and restores the thresholds when it is done.
    """
    gc.collect()
    gc.freeze()


def client_bound(step: Step) -> bool:
    """The client lagged: its event loop (every step), or its send schedule (open loop), by more than MAX_LAG_P99_MS at p99."""
    return any(d is not None and d.p99 > MAX_LAG_P99_MS for d in (step.client_lag_ms, step.lag_ms))


def _client_flags(step: Step, connections: int, replicas: int) -> list[str]:
    """Sentences for a step the client could not drive as asked."""
    where = f"concurrency {step.level:g}" if step.mode == "concurrency" else f"rate {step.level:g}/s"
    out = []
    if step.requests == 0:
        out.append(f"{where}: no measured request was sent (duration too short?)")
    if step.client_lag_ms is not None and step.client_lag_ms.p99 > MAX_LAG_P99_MS:
        out.append(
            f"{where}: the client lagged (its event loop ran p99 {step.client_lag_ms.p99:.1f} ms late > {MAX_LAG_P99_MS:g} ms): latencies include the client's own delay; not used as capacity."
        )
    if step.mode == "rate":
        if step.lag_ms is not None and step.lag_ms.p99 > MAX_LAG_P99_MS:
            out.append(f"{where}: the client sent late (scheduling lag p99 {step.lag_ms.p99:.1f} ms > {MAX_LAG_P99_MS:g} ms); the figures understate the server.")
        if step.achieved_rate is not None and step.scheduled_rate and step.achieved_rate < MIN_ACHIEVED_SHARE * step.scheduled_rate:
            out.append(f"{where}: the client sent {step.achieved_rate:.1f} requests/s of the {step.scheduled_rate:.1f} scheduled; the figures understate the server.")
        if step.peak_in_flight >= connections * replicas:
            out.append(f"{where}: {step.peak_in_flight} requests in flight filled the client's {connections * replicas} connections; the excess queued in the client, not the server.")
    return out


def operating_point(steps: list[Step], slo: Slo, simulated: bool) -> OperatingPoint | None:
    """The step with the most requests served per second among those meeting the SLO
    where the client was not the bottleneck."""
    ok = [s for s in steps if s.meets_slo and not s.client_bound]
    if not ok:
        return None
    best = max(ok, key=lambda s: s.requests_per_s)
    ttft = percentile(best.ttft_ms, slo.percentile) if best.ttft_ms else None
    e2e = percentile(best.e2e_ms, slo.percentile) if best.e2e_ms else None
    where = f"concurrency {best.level:g}" if best.mode == "concurrency" else f"{best.level:g} requests/s offered"
    target = f"TTFT p{slo.percentile} {ttft:,.0f} ms ≤ {slo.ttft_ms:g} ms" if ttft is not None else f"end-to-end p{slo.percentile} {e2e:,.0f} ms ≤ {slo.e2e_ms:g} ms"
    if slo.tpot_ms is not None and best.tpot_ms is not None:
        target += f", TPOT p{slo.percentile} {percentile(best.tpot_ms, slo.percentile):,.1f} ms ≤ {slo.tpot_ms:g} ms"
    sim = " (SIMULATED endpoint)" if simulated else ""
    return OperatingPoint(
        mode=best.mode,
        level=best.level,
        requests_per_s=best.requests_per_s,
        tasks_per_hour=best.requests_per_s * 3600.0,
        output_tokens_per_s=best.output_tokens_per_s,
        ttft_ms=ttft,
        e2e_ms=e2e,
        basis=f"measured by `evals measure`{sim}: {best.requests_per_s * 3600:,.0f} tasks/h at {where}, {target}",
    )


def _no_point_reason(steps: list[Step], slo: Slo) -> str:
    if any(s.meets_slo for s in steps):
        return "no operating point: the steps that met the SLO were driven by a client that lagged (see the flags); measure again on a less busy machine or at lower load."
    if all(s.ttft_ms is None for s in steps) and slo.e2e_ms is None:
        return "no operating point: without TTFT (no streaming) the SLO needs an end-to-end target (e2e_slo_ms)."
    target = f"TTFT p{slo.percentile} ≤ {slo.ttft_ms:g} ms" + (f" and TPOT p{slo.percentile} ≤ {slo.tpot_ms:g} ms" if slo.tpot_ms is not None else "") + (f" and end-to-end p{slo.percentile} ≤ {slo.e2e_ms:g} ms" if slo.e2e_ms is not None else "")
    return f"no operating point: no step met the SLO ({target}) with at most {slo.max_error_share:.0%} of requests failed; try lower load levels or a looser target."
