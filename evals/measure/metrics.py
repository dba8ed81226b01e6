"""From one step's request records to its figures.

Latency percentiles come from the measured requests alone. Rates come from
every request that ended inside the window, whatever its phase: the window
starts when the last warm-up request has ended and stops when the last
measured one has, and the load stays on throughout, so counting every
completion in it is what the server sustained at this level (counting only
the measured requests would miss the ones still running at the window's
start and understate the rate by about C ÷ the number of requests).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from evals.measure.load import Sent, StepRun
from evals.measure.model import Dist, Mode, Slo, Step
from evals.providers.base import Completion, Status


def served(c: Completion) -> bool:
    """Answered in full, or cut at max_tokens: either way the server did the work."""
    return c.status is Status.ok or (c.status is Status.truncated and c.error_kind is None)


def failure_label(c: Completion) -> str:
    return str(c.http_status) if c.http_status else c.error_kind or c.status.value


def dist(values: list[float]) -> Dist | None:
    if not values:
        return None
    p50, p90, p95, p99 = np.percentile(values, [50, 90, 95, 99])
    return Dist(n=len(values), p50=float(p50), p90=float(p90), p95=float(p95), p99=float(p99), max=float(max(values)))


def percentile(d: Dist, p: int) -> float:
    """The SLO's percentile of a Dist; only those a Dist keeps are allowed."""
    return float(getattr(d, f"p{p}"))


def tpot_ms(c: Completion) -> float | None:
    """vLLM's TPOT of one request, as the stream driver recorded it."""
    return c.timing.tpot_ms


def stream_tps(c: Completion) -> float | None:
    tpot = tpot_ms(c)
    if tpot is not None:
        return 1000.0 / tpot if tpot > 0 else None
    t, out = c.timing, c.usage.output_tokens
    if c.timing.ttft_ms is None and t.latency_ms and out:
        return out / (t.latency_ms / 1000.0)
    return None


def meets(c: Completion, slo: Slo) -> bool | None:
    """Whether one served request met every per-request target (vLLM's goodput);
    None when nothing could be judged (no TTFT without streaming, and no
    end-to-end target). A TPOT target is judged where the request has a TPOT
    (two or more output tokens)."""
    checks = []
    if c.timing.ttft_ms is not None:
        checks.append(c.timing.ttft_ms <= slo.ttft_ms)
    if slo.tpot_ms is not None and c.timing.tpot_ms is not None:
        checks.append(c.timing.tpot_ms <= slo.tpot_ms)
    if slo.e2e_ms is not None and c.timing.latency_ms is not None:
        checks.append(c.timing.latency_ms <= slo.e2e_ms)
    return all(checks) if checks else None


def _window(records: list[Sent], measured: list[Sent]) -> tuple[float, float]:
    t1 = max(r.end for r in measured)
    warm_ends = [r.end for r in records if r.phase == "warmup"]
    t0 = max(warm_ends) if warm_ends else min(r.sent for r in measured)
    if t0 >= t1:  # a warm-up request outlived every measured one: fall back to the measured span
        t0 = min(r.sent for r in measured)
    return t0, t1


def summarise(run: StepRun, mode: Mode, level: float, slo: Slo) -> Step:
    records = run.records
    measured = [r for r in records if r.phase == "measured"]
    ok = [r.completion for r in measured if served(r.completion)]
    errors = Counter(failure_label(r.completion) for r in measured if not served(r.completion))
    ttft = dist([c.timing.ttft_ms for c in ok if c.timing.ttft_ms is not None])
    e2e = dist([c.timing.latency_ms for c in ok if c.timing.latency_ms is not None])
    itl = dist([g for c in ok for g in c.timing.chunk_gaps_ms or ()])
    tpot = dist([x for c in ok if (x := tpot_ms(c)) is not None])
    tps = [x for c in ok if (x := stream_tps(c)) is not None]
    unknown = sum(1 for c in ok if c.usage.output_tokens is None)

    window_s = rps = 0.0
    client_lag: Dist | None = None
    out_tps: float | None = 0.0
    total_tps: float | None = 0.0
    goodput: float | None = None
    if measured:
        t0, t1 = _window(records, measured)
        window_s = t1 - t0
        client_lag = dist([lag for at, lag in run.loop_lag if t0 <= at <= t1])
        done = [r.completion for r in records if t0 < r.end <= t1 and served(r.completion)]
        if window_s > 0:
            rps = len(done) / window_s
            # A request whose server reported no token counts is unknown, not 0: such a window has no token rate.
            out_tps = None if any(c.usage.output_tokens is None for c in done) else sum(c.usage.output_tokens or 0 for c in done) / window_s
            total_tps = (
                None
                if any(c.usage.output_tokens is None or c.usage.input_tokens is None for c in done)
                else sum((c.usage.input_tokens or 0) + (c.usage.output_tokens or 0) for c in done) / window_s
            )
            judged = [meets(c, slo) for c in done]
            if any(j is not None for j in judged):
                goodput = sum(1 for j in judged if j) / window_s

    lag: Dist | None = None
    scheduled_rate = achieved_rate = None
    if mode == "rate" and len(measured) > 1:
        lag = dist([(r.sent - r.scheduled) * 1000.0 for r in measured if r.scheduled is not None])
        sched = sorted(r.scheduled for r in measured if r.scheduled is not None)
        sent = sorted(r.sent for r in measured)
        scheduled_rate = (len(sched) - 1) / (sched[-1] - sched[0]) if sched[-1] > sched[0] else None
        achieved_rate = (len(sent) - 1) / (sent[-1] - sent[0]) if sent[-1] > sent[0] else None

    return Step(
        mode=mode,
        level=level,
        requests=len(measured),
        served=len(ok),
        errors=dict(sorted(errors.items())),
        window_s=window_s,
        requests_per_s=rps,
        output_tokens_per_s=out_tps,
        total_tokens_per_s=total_tps,
        goodput_per_s=goodput,
        ttft_ms=ttft,
        itl_ms=itl,
        tpot_ms=tpot,
        unknown_tokens=unknown,
        e2e_ms=e2e,
        per_stream_output_tps=float(np.median(tps)) if tps else None,
        peak_in_flight=run.peak_in_flight,
        meets_slo=_meets_slo(len(measured), len(ok), ttft, tpot, e2e, slo),
        scheduled_rate=scheduled_rate,
        achieved_rate=achieved_rate,
        lag_ms=lag,
        client_lag_ms=client_lag,
    )


def _meets_slo(requests: int, ok: int, ttft: Dist | None, tpot: Dist | None, e2e: Dist | None, slo: Slo) -> bool:
    """The step's percentile of TTFT (and of TPOT and end-to-end latency, if
    targeted) is within target, and few enough requests failed. Without TTFT (no
    streaming) only an end-to-end target can be judged; with neither, nothing
    meets it. A TPOT target with no TPOT measured (no streaming, or one-token
    answers) cannot be met."""
    if not ok or (requests - ok) > slo.max_error_share * requests:
        return False
    checks = []
    if ttft is not None:
        checks.append(percentile(ttft, slo.percentile) <= slo.ttft_ms)
    if slo.tpot_ms is not None:
        checks.append(tpot is not None and percentile(tpot, slo.percentile) <= slo.tpot_ms)
    if slo.e2e_ms is not None and e2e is not None:
        checks.append(percentile(e2e, slo.percentile) <= slo.e2e_ms)
    return bool(checks) and all(checks)
