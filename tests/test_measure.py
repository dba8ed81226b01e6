"""`evals measure` against the simulated server: the frontier recovers the timing
the server was told to produce, open loop records its scheduling lag, figures
above the physical bound are flagged, and results survive the store and the CLI."""

from __future__ import annotations

import contextlib
import json
from datetime import date
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from click.testing import CliRunner

from evals import api
from evals.cli import main
from evals.config import ConfigError, RunnerProfile, SimBehaviour, find_runner
from evals.cost.catalogue import GpuCatalogue, ModelCatalogue
from evals.measure import Frontier, measure
from evals.measure import bound as bound_mod
from evals.measure.chart import frontier_svg
from evals.measure.frontier import _client_flags
from evals.measure.model import Dist, Step
from evals.measure.persist import choose, load, save, sweeps
from evals.sim import SimServer
from evals.sim import behaviour as bh
from evals.store.db import Store
from evals.suite.sample import Sample
from tests.conftest import sim_runner, write_workspace

ANSWER = " ".join(f"w{i}" for i in range(11))
"""Every sample's reference: 11 tokens as the simulated server counts them."""
SELF_HOSTED = {"self_hosted": {"gpu": "A100-80GB", "gpus": 1, "cloud_price_per_gpu_hour": 2.0}}


def _samples(n: int = 24) -> list[Sample]:
    return [Sample(id=f"s{i}", input=[{"role": "user", "content": f"Question {i}?"}], reference=ANSWER) for i in range(n)]


def _profile(model: str, behaviour: SimBehaviour | None = None, **extra: Any) -> RunnerProfile:
    """A simulated runner with `behaviour`, else one of vLLM's that nothing is sent to."""
    body: dict[str, Any] = {"name": f"r-{model}", "model": model, "pricing": SELF_HOSTED, **extra}
    if behaviour is not None:
        body |= {"provider": "simulated", "simulate": behaviour.model_dump()}
    else:
        body |= {"provider": "openai_compatible", "base_url": "http://127.0.0.1:9/v1"}
    return RunnerProfile.model_validate(body)


@pytest.fixture
def serve() -> Iterator[Callable[[dict[str, SimBehaviour]], SimServer]]:
    started: list[SimServer] = []

    def start(models: dict[str, SimBehaviour]) -> SimServer:
        server = SimServer(models, _samples()).start()
        started.append(server)
        return server

    yield start
    for s in started:
        s.stop()


def _fast() -> SimBehaviour:
    # 2,000 tokens/s keeps a response ~10 ms long but still paced, so inter-token latency is measurable.
    return SimBehaviour(ttft_ms=0, tokens_per_second=2000, accuracy={"default": 1.0})


# ---------------------------------------------------------------- closed loop


@pytest.mark.parametrize(("concurrency", "requests"), [(1, 3), (4, 8), (8, 16)])
def test_closed_loop_recovers_the_simulated_timing(serve: Callable[..., SimServer], concurrency: int, requests: int) -> None:
    # Long against the harness's own few milliseconds of CPU per request (the SDK's),
    # which a burst of C simultaneous requests queues on a busy machine: 400 ms, then
    # 10 tokens at 50/s. Every response is equally long, so the C workers stay in step.
    b = SimBehaviour(ttft_ms=400, tokens_per_second=50, accuracy={"default": 1.0})
    server = serve({"timed": b})
    # The server sends the first token alone at ttft, then the rest in at most 15
    # chunks, each when its last token is due: the first chunk times TTFT, the last the end
    # (with 11 tokens every token is its own chunk; longer answers are grouped coarser).
    n = len(bh.tokenise(ANSWER))
    bounds = bh.chunk_bounds(n)
    first_s, last_s = bh.due_s(b, bounds[0][1] - 1), bh.due_s(b, bounds[-1][1] - 1)
    expect_ttft_ms, expect_e2e_ms = first_s * 1000, last_s * 1000

    f = measure(_profile("timed", b), [s.input for s in _samples()], concurrencies=[concurrency], requests_per_step=requests, base_url=server.base_url)

    (step,) = f.steps
    assert step.requests == step.served == requests and not step.errors
    assert step.ttft_ms is not None and step.e2e_ms is not None and step.itl_ms is not None and step.tpot_ms is not None
    # Wall-clock figures are bounded only from the side a loaded machine cannot move: nothing arrives
    # before the server's schedule (a slow machine only adds). How close they come to the schedule on a
    # quiet machine is measured by benchmarks/bench_measure.py, not asserted here.
    assert step.ttft_ms.p50 >= expect_ttft_ms * 0.98 and step.e2e_ms.p50 >= expect_e2e_ms * 0.98
    assert step.e2e_ms.p50 > step.ttft_ms.p50
    assert step.per_stream_output_tps is not None and step.per_stream_output_tps > 0
    # every token is its own chunk: one gap per token after the first, for every request
    assert step.itl_ms.n == requests * (n - 1)
    assert step.requests_per_s <= concurrency / last_s * 1.02
    assert step.output_tokens_per_s == pytest.approx(step.requests_per_s * n, rel=0.02)  # a ratio of two counts over one window
    assert step.peak_in_flight == concurrency
    # well inside the default 500 ms TTFT target: the step is the operating point
    assert step.meets_slo and step.goodput_per_s == pytest.approx(step.requests_per_s)
    assert f.operating_point is not None and f.operating_point.tasks_per_hour == pytest.approx(step.requests_per_s * 3600)
    assert f.tasks_per_hour == f.operating_point.tasks_per_hour
    assert f.simulated and "SIMULATED" in f.operating_point.basis
    assert any("simulated" in note for note in f.notes) and f.bound is None and not f.flags


def test_operating_point_is_the_busiest_step_within_the_slo(serve: Callable[..., SimServer]) -> None:
    b = SimBehaviour(ttft_ms=30, tokens_per_second=2000, accuracy={"default": 1.0})
    server = serve({"m": b})
    prompts = [s.input for s in _samples()]
    f = measure(_profile("m", b), prompts, concurrencies=[1, 4], requests_per_step=8, base_url=server.base_url)
    assert [s.level for s in f.steps] == [1, 4] and all(s.meets_slo for s in f.steps)
    assert f.operating_point is not None and f.operating_point.level == 4
    # a target no step meets leaves no operating point, and says why
    f = measure(_profile("m", b), prompts, concurrencies=[2], requests_per_step=4, ttft_slo_ms=1, base_url=server.base_url)
    assert f.operating_point is None and not f.steps[0].meets_slo
    assert any(n.startswith("no operating point") for n in f.notes)


def test_failures_are_counted_by_status_and_never_retried(serve: Callable[..., SimServer]) -> None:
    b = SimBehaviour(ttft_ms=0, tokens_per_second=2000, error_rate=0.5, seed=7, accuracy={"default": 1.0})
    server = serve({"flaky": b})
    f = measure(_profile("flaky", b), [s.input for s in _samples()], concurrencies=[2], requests_per_step=20, base_url=server.base_url)
    (step,) = f.steps
    assert step.requests == 20 and 0 < step.served < 20
    assert step.errors == {"500": 20 - step.served}
    assert not step.meets_slo and f.operating_point is None


def test_without_streaming_ttft_and_itl_are_unavailable(serve: Callable[..., SimServer]) -> None:
    b = _fast()
    server = serve({"m": b})
    prof = _profile("m", b, stream=False)
    f = measure(prof, [s.input for s in _samples()], concurrencies=[2], requests_per_step=4, base_url=server.base_url)
    (step,) = f.steps
    assert step.ttft_ms is None and step.itl_ms is None and step.e2e_ms is not None
    assert step.per_stream_output_tps is not None and not f.streaming
    assert any("TTFT and inter-token latency unavailable" in n for n in f.notes)
    assert f.operating_point is None and step.goodput_per_s is None
    # with an end-to-end target the operating point is judged on that alone
    f = measure(prof, [s.input for s in _samples()], concurrencies=[2], requests_per_step=4, e2e_slo_ms=5000, base_url=server.base_url)
    assert f.operating_point is not None and f.operating_point.ttft_ms is None and f.operating_point.e2e_ms is not None


def test_bad_arguments_are_refused() -> None:
    prof = _profile("m", _fast())
    prompts = [s.input for s in _samples(2)]
    for kw in ({"concurrencies": [1], "rates": [1.0]}, {"concurrencies": [0]}, {"concurrencies": [2, 2]}, {"concurrencies": [1.5]}, {"requests_per_step": 0}):
        with pytest.raises(ValueError):
            measure(prof, prompts, **kw)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        measure(prof, [])


# ---------------------------------------------------------------- figures from records (no clock)


def _sent(ttft_ms: float, e2e_ms: float, out: int | None, gaps: list[float], at: float = 0.0) -> Any:
    from evals.measure.load import Sent
    from evals.providers.base import Completion, Status, Timing, Usage
    from evals.providers.stream import tpot_ms

    timing = Timing(ttft_ms=ttft_ms, latency_ms=e2e_ms, tpot_ms=tpot_ms(ttft_ms, e2e_ms, out), chunk_gaps_ms=gaps)
    c = Completion(status=Status.ok, finish_reason="stop", usage=Usage(input_tokens=10, output_tokens=out), timing=timing)
    return Sent("measured", None, at, at + e2e_ms / 1000, c)


def test_itl_pools_chunk_gaps_tpot_is_per_request_and_goodput_needs_both_targets() -> None:
    from evals.measure.load import StepRun
    from evals.measure.metrics import summarise
    from evals.measure.model import Slo

    # A: ttft 100, e2e 500, 5 tokens -> TPOT (500-100)/4 = 100; B: ttft 50, e2e 250, 5 tokens -> TPOT 50
    run = StepRun(records=[_sent(100, 500, 5, [100, 100, 100, 100]), _sent(50, 250, 5, [10, 10, 10, 170], at=0.25)], peak_in_flight=2)
    step = summarise(run, "concurrency", 2, Slo(ttft_ms=120, tpot_ms=60, percentile=50))
    assert step.itl_ms is not None and step.itl_ms.n == 8  # every chunk gap of both requests
    assert step.itl_ms.p50 == pytest.approx(100.0) and step.itl_ms.max == pytest.approx(170.0)
    assert step.tpot_ms is not None and step.tpot_ms.n == 2
    assert step.tpot_ms.p50 == pytest.approx((100 + 50) / 2)  # numpy's p50 of two values is their mean
    # window: first send (0) to last end (0.5 s); only B meets TTFT <= 120 and TPOT <= 60
    assert step.window_s == pytest.approx(0.5)
    assert step.goodput_per_s == pytest.approx(1 / 0.5)
    assert step.requests_per_s == pytest.approx(2 / 0.5)
    assert step.output_tokens_per_s == pytest.approx(10 / 0.5)
    # p50 TTFT 75 <= 120 and p50 TPOT 75 > 60: the step misses its TPOT target
    assert not step.meets_slo
    assert summarise(run, "concurrency", 2, Slo(ttft_ms=120, tpot_ms=80, percentile=50)).meets_slo


def test_unknown_token_counts_are_unknown_not_zero() -> None:
    from evals.measure.load import StepRun
    from evals.measure.metrics import summarise
    from evals.measure.model import Slo
    from evals.measure.table import frontier_table

    run = StepRun(records=[_sent(100, 500, None, [100]), _sent(100, 500, 5, [100], at=0.1)], peak_in_flight=2)
    step = summarise(run, "concurrency", 2, Slo(ttft_ms=500))
    assert step.output_tokens_per_s is None and step.total_tokens_per_s is None
    assert step.unknown_tokens == 1
    assert step.tpot_ms is not None and step.tpot_ms.n == 1  # only the request with a count has a TPOT
    assert step.requests_per_s > 0
    f = Frontier(
        runner="r", model="m", profile_hash="h", suite=None, simulated=False, streaming=True, created_at="now", mode="concurrency",
        slo=Slo(ttft_ms=500), steps=[step], operating_point=None, flags=[], notes=[], bound=None,
    )
    from rich.console import Console

    console = Console(width=250, record=True)
    console.print(frontier_table(f))
    (row,) = [line for line in console.export_text().splitlines() if line.lstrip("│ ").startswith("2 ")]
    cells = [c.strip() for c in row.split("│")[1:-1]]
    assert cells[0] == "2" and cells[3] == "n/a"  # C, req/s, goodput, output tok/s


@pytest.mark.parametrize("burstiness", [0.25, 1.0, 4.0])
def test_burstiness_keeps_the_rate_and_sets_the_spread(burstiness: float) -> None:
    import random
    import statistics

    from evals.measure.load import arrival_gap

    rate = 20.0
    rng = random.Random(5)
    gaps = [arrival_gap(rate, burstiness, rng) for _ in range(40_000)]
    # gamma(shape k, scale 1/(rate k)): mean 1/rate, squared coefficient of variation 1/k
    assert statistics.fmean(gaps) == pytest.approx(1 / rate, rel=0.03)
    assert statistics.pvariance(gaps) / statistics.fmean(gaps) ** 2 == pytest.approx(1 / burstiness, rel=0.06)


def test_burstiness_needs_open_loop_and_a_positive_shape() -> None:
    prof = _profile("m", _fast())
    prompts = [s.input for s in _samples(2)]
    with pytest.raises(ValueError, match="burstiness"):
        measure(prof, prompts, concurrencies=[1], burstiness=0.5)
    for bad in (0.0, -1.0, float("inf")):
        with pytest.raises(ValueError, match="burstiness"):
            measure(prof, prompts, rates=[1.0], burstiness=bad)


# ---------------------------------------------------------------- open loop


def test_poisson_arrivals_record_a_small_scheduling_lag(serve: Callable[..., SimServer]) -> None:
    b = SimBehaviour(ttft_ms=20, tokens_per_second=2000, accuracy={"default": 1.0})
    server = serve({"m": b})
    f = measure(_profile("m", b), [s.input for s in _samples()], rates=[50.0], requests_per_step=50, warmup=5, base_url=server.base_url)
    (step,) = f.steps
    assert f.mode == step.mode == "rate" and step.level == 50
    assert step.requests == step.served == 50
    assert step.lag_ms is not None and step.lag_ms.n == 50
    assert 0 <= step.lag_ms.p50 <= step.lag_ms.p99 <= step.lag_ms.max
    # How small the lag is depends on the machine (benchmarks/bench_measure.py measures it); what holds
    # anywhere: the client never sends ahead of its schedule, so it never beats the scheduled rate.
    assert step.scheduled_rate and step.achieved_rate
    assert step.achieved_rate <= step.scheduled_rate * 1.10


def test_a_client_that_falls_behind_is_flagged() -> None:
    lag = Dist(n=100, p50=1, p90=5, p95=8, p99=25, max=40)
    step = Step(
        mode="rate", level=100, requests=100, served=100, errors={}, window_s=1, requests_per_s=80, output_tokens_per_s=800,
        total_tokens_per_s=1600, goodput_per_s=80, ttft_ms=None, itl_ms=None, e2e_ms=None, per_stream_output_tps=None,
        peak_in_flight=1024, meets_slo=True, scheduled_rate=100, achieved_rate=90, lag_ms=lag,
    )
    flags = _client_flags(step, connections=1024, replicas=1)
    assert len(flags) == 3
    assert "scheduling lag p99 25.0 ms" in flags[0] and "90.0 requests/s of the 100.0 scheduled" in flags[1] and "1024 connections" in flags[2]
    on_time = step.model_copy(update={"lag_ms": lag.model_copy(update={"p99": 2.0}), "achieved_rate": 99.0, "peak_in_flight": 10})
    assert _client_flags(on_time, connections=1024, replicas=1) == []


# ---------------------------------------------------------------- physical bound


def _fake_catalogues(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 1 B-parameter model on a GPU with 1 GB/s: in BF16 one stream cannot
    decode faster than 1e9 / 2e9 = 0.5 tokens/s."""
    entry = {"source": "test", "as_of": date(2026, 1, 1)}
    model = {"hf_id": "test/tiny-1b", "params_b_total": 1.0, "params_b_active": 1.0, "num_layers": 4, "num_attention_heads": 8, "num_kv_heads": 8, "head_dim": 64, "hidden_size": 512, "context_length": 4096, **entry}
    gpu = {"memory_gb": 80, "memory_bandwidth_gbps": 1.0, "bf16_tflops": 100, "tdp_w": 300, "sources": ["test"], "as_of": date(2026, 1, 1), "cloud_price": {"usd_per_gpu_hour": 1.0, "provider": "test", "market": "test", "source": "test", "as_of": date(2026, 1, 1)}}
    monkeypatch.setattr(bound_mod, "load_models", lambda: ModelCatalogue.model_validate({"models": {"tiny-1b": model}}))
    monkeypatch.setattr(bound_mod, "load_gpus", lambda: GpuCatalogue.model_validate({"gpus": {"SlowGPU": gpu}}))


def test_figures_above_the_physical_bound_are_flagged(serve: Callable[..., SimServer], monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_catalogues(monkeypatch)
    server = serve({"test/tiny-1b": _fast()})
    prof = RunnerProfile.model_validate(
        {"name": "tiny", "provider": "openai_compatible", "model": "test/tiny-1b", "base_url": f"{server.base_url}/v1", "pricing": {"self_hosted": {"gpu": "SlowGPU", "gpus": 1, "cloud_price_per_gpu_hour": 1.0}}}
    )
    f = measure(prof, [s.input for s in _samples()], concurrencies=[2], requests_per_step=4)
    assert f.bound is not None and f.bound.quant == "bf16" and f.bound.gpus == 1
    assert f.bound.per_sequence_tps == pytest.approx(0.5)
    (step,) = f.steps
    assert step.decode_bound_per_stream_tps == pytest.approx(0.5)
    assert step.decode_bound_aggregate_tps == pytest.approx(1.0)  # a batch of 2 shares one read of the weights
    assert len(f.flags) == 2
    assert "per-stream output" in f.flags[0] and "physical decode bound of 0.5 tokens/s" in f.flags[0]
    assert "aggregate output" in f.flags[1] and "batch of 2" in f.flags[1] and "1×SlowGPU" in f.flags[1]
    assert not f.simulated and not any("not checked" in n for n in f.notes)


def test_bound_is_for_the_profiles_gpus_and_precision(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_catalogues(monkeypatch)
    pricing = {"self_hosted": {"gpu": "SlowGPU", "gpus": 4, "cloud_price_per_gpu_hour": 1.0}}
    b, note = bound_mod.decode_bound(RunnerProfile.model_validate({"name": "x", "provider": "openai_compatible", "model": "test/tiny-1b", "base_url": "http://h/v1", "pricing": pricing}))
    assert note is None and b is not None and b.info.gpus == 4 and b.info.per_sequence_tps == pytest.approx(2.0)
    # each of several replicas has the profile's GPUs: together they allow more
    replicated = RunnerProfile.model_validate({"name": "x", "provider": "openai_compatible", "model": "test/tiny-1b", "base_urls": ["http://h1/v1", "http://h2/v1"], "pricing": pricing})
    b2, _ = bound_mod.decode_bound(replicated)
    assert b2 is not None and b2.info.per_sequence_tps == b.info.per_sequence_tps and b2.aggregate(8) >= b.aggregate(8)
    assert bound_mod.quantisation(_profile("Qwen/Qwen2.5-72B-Instruct-AWQ")) == "int4"
    assert bound_mod.quantisation(_profile("neuralmagic/Llama-3.3-70B-Instruct-FP8-dynamic")) == "fp8"
    assert bound_mod.quantisation(_profile("meta-llama/Llama-3.3-70B-Instruct")) == "bf16"
    launched = {"provider": "openai_compatible", "pricing": pricing, "launch": {"model": "test/tiny-1b", "quantization": "awq"}}
    served_as = RunnerProfile.model_validate({"name": "l", "model": "tiny", **launched, "launch": {**launched["launch"], "served_model_name": "tiny"}})
    assert bound_mod.quantisation(served_as) == "int4"
    b, note = bound_mod.decode_bound(served_as)  # found by the weights it serves, at 4 bits: 0.5 GB a step
    assert note is None and b is not None and b.info.per_sequence_tps == pytest.approx(8.0)
    # nothing to check against: simulated, API-priced, or a model the catalogue does not know
    assert bound_mod.decode_bound(_profile("m", _fast()))[1] and "simulated" in str(bound_mod.decode_bound(_profile("m", _fast()))[1])
    api = RunnerProfile.model_validate({"name": "a", "provider": "openai", "model": "gpt-5", "pricing": {"api": {"model": "gpt-5"}}})
    assert "API runner" in str(bound_mod.decode_bound(api)[1])
    unknown = RunnerProfile.model_validate({"name": "u", "provider": "openai_compatible", "model": "nobody/unknown", "base_url": "http://h/v1", "pricing": pricing})
    assert "not in the model catalogue" in str(bound_mod.decode_bound(unknown)[1])


# ---------------------------------------------------------------- store, chart, CLI


def test_every_sweep_is_kept_and_a_quick_one_does_not_replace_a_full_one(serve: Callable[..., SimServer], tmp_path: Path) -> None:
    b = _fast()
    server = serve({"m": b})
    prof = _profile("m", b)
    prompts = [s.input for s in _samples()]
    full = measure(prof, prompts, concurrencies=[1, 2], requests_per_step=4, suite="mini", base_url=server.base_url)
    quick = measure(prof, prompts, rates=[20.0], requests_per_step=6, warmup=2, base_url=server.base_url)
    store = Store(tmp_path / "evals.sqlite")
    try:
        assert "003_measurements" in store.applied_migrations()
        assert choose(store, prof) is None
        first = save(store, full)
        c = choose(store, prof)
        # a sweep read back carries its id in the store (measure's own has none: it was not saved yet)
        assert full.id is None
        assert c is not None and (c.id, c.frontier) == (first, full.model_copy(update={"id": first})) and "the only sweep" in c.why
        second = save(store, quick)
        # Both kept, newest first; the full sweep (2 load levels) still sizes the runner, not the quick one (1 level).
        assert [(x["id"], x["steps"]) for x in sweeps(store, prof.name)] == [(second, 1), (first, 2)]
        c = choose(store, prof)
        assert c is not None and c.id == first and f"--measurement {second}" in c.why
        assert c.describe().startswith(f"measured: sweep {first} of {full.created_at[:10]} (2 steps), the most complete of 2")
        # --measurement picks the other one; another runner's sweep is not this runner's choice.
        chosen = choose(store, prof, [second])
        assert chosen is not None and chosen.frontier == quick.model_copy(update={"id": second})
        assert sweeps(store, "someone-else") == []
        with pytest.raises(ConfigError, match="no measurement 99"):
            load(store, 99)
    finally:
        store.close()
    reopened = Store(tmp_path / "evals.sqlite")
    try:
        loaded = load(reopened, second)
        assert loaded.model_dump() == {**quick.model_dump(), "id": second} and loaded.tasks_per_hour == quick.tasks_per_hour
    finally:
        reopened.close()


def test_frontier_chart_is_inline_svg(serve: Callable[..., SimServer]) -> None:
    b = _fast()
    server = serve({"m": b})
    f = measure(_profile("m", b), [s.input for s in _samples()], concurrencies=[1, 2], requests_per_step=4, base_url=server.base_url)
    svg = frontier_svg(f)
    assert svg.startswith("<svg") and "<!--" not in svg
    assert "SIMULATED" in svg and "C=2" in svg and "Time to first token" in svg and "SLO 500 ms" in svg


def test_a_launched_runner_is_measured_on_its_server_under_its_written_profile(serve: Callable[..., SimServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`launch:` runners get the URL of the server launched for the sweep (stood in
    here by the simulated server), and the frontier keeps the written profile's
    hash, which is what the report matches it by."""
    server = serve({"org/tiny": _fast()})
    started: list[list[str]] = []

    @contextlib.contextmanager
    def fake_launch_all(profiles: list[RunnerProfile], log_dir: Path) -> Iterator[dict[str, str]]:
        started.append([p.name for p in profiles if p.launch])
        yield {p.name: f"{server.base_url}/v1" for p in profiles if p.launch}

    import evals.providers.launch as launch_mod  # measure_runner imports launch_all when it runs

    monkeypatch.setattr(launch_mod, "launch_all", fake_launch_all)
    ws = write_workspace(tmp_path, {"l": {"provider": "openai_compatible", "model": "org/tiny", "pricing": SELF_HOSTED, "launch": {"model": "org/tiny", "quantization": "fp8"}}})
    f = api.measure_runner(ws, "l", concurrencies=[2], requests_per_step=4, quiet=True)
    assert started == [["l"]] and f.steps[0].served == 4
    assert f.profile_hash == find_runner(ws, "l").profile_hash()
    assert "not in the model catalogue" in " ".join(f.notes)


def test_cli_measure_prints_json_and_stores_it(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path, {"a": sim_runner("model-a", ttft_ms=5, tokens_per_second=2000)})
    cli = CliRunner()
    r = cli.invoke(main, ["measure", "-w", str(ws), "--runner", "a", "--concurrency", "1,2", "--requests", "4", "--json"])
    assert r.exit_code == 0, r.stderr
    f = Frontier.model_validate(json.loads(r.stdout))
    assert [s.level for s in f.steps] == [1, 2] and f.suite == "mini" and f.simulated
    assert "SIMULATED" in r.stderr
    store = Store(ws / "reports" / "evals.sqlite")
    try:
        assert load(store, sweeps(store, "a")[0]["id"]) == f
    finally:
        store.close()
    r = cli.invoke(main, ["measure", "-w", str(ws), "--runner", "a", "--rate", "20", "--requests", "6", "--ttft-slo-ms", "300"])
    assert r.exit_code == 0, r.stderr
    assert "SIMULATED" in r.stdout and "operating point" in r.stdout and "lag p99" in r.stdout
    r = cli.invoke(main, ["measure", "-w", str(ws), "--runner", "a", "--concurrency", "1", "--rate", "2"])
    assert r.exit_code == 2 and "not both" in r.stderr
    r = cli.invoke(main, ["measure", "-w", str(ws), "--runner", "a", "--concurrency", "one"])
    assert r.exit_code == 2 and "comma-separated numbers" in r.stderr
    r = cli.invoke(main, ["measure", "-w", str(ws), "--runner", "a", "--concurrency", "0"])
    assert r.exit_code == 2 and "positive" in r.stderr
