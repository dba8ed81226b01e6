"""Known-answer tests for the cost module: every expected figure is worked out by hand in a comment."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from evals.config import ConfigError, Purchase, SelfHostedPricing
from evals.cost.api import request_cost
from evals.cost.catalogue import ApiPrice, load_api_prices, load_gpus, load_models
from evals.cost.projection import ApiRunner, SelfHostedRunner, Workload, break_even, fleet_monthly_cost, peak_requests_per_hour, project, replicas_needed
from evals.cost.routing import CategoryResult, RunnerStats, cascade, cheapest_assignment
from evals.cost.selfhosted import cost_per_task, owned_vs_rented_breakeven_utilisation
from evals.cost.sizing import kv_bytes_per_token, size
from evals.providers.base import Usage

TODAY = date(2026, 11, 22)
LAST_READ = date(2026, 12, 3)
"""The latest date any catalogue figure was read."""

# Sonnet-style rates, written out so the arithmetic does not depend on the shipped catalogue.
SONNET = ApiPrice(
    provider="anthropic",
    input=3.0,
    cached_input=0.30,
    cache_write=3.75,
    output=15.0,
    batch_discount=0.5,
    source="test",
    as_of=TODAY,
)
NO_CACHE_RATES = ApiPrice(provider="openai", input=2.0, output=8.0, batch_discount=0.5, source="test", as_of=TODAY)


# ---------------------------------------------------------------- catalogues


def test_catalogues_load_and_every_entry_is_sourced_and_dated() -> None:
    prices, gpus, models = load_api_prices(), load_gpus(), load_models()
    entries = [*prices.models.values(), *models.models.values()]
    assert all(e.source.startswith("https://") and e.as_of <= LAST_READ for e in entries)
    assert all(g.sources and g.cloud_price.source.startswith("https://") for g in gpus.gpus.values())
    anthropic = {"claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1", "claude-sonnet-4", "claude-3-5-haiku",
                 "claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-5-5", "claude-sonnet-5", "claude-opus-4-6", "claude-sonnet-4-6"}
    openai = {"gpt-5.5", "gpt-5.4", "gpt-5.4-mini", "gpt-5.4-nano", "gpt-5.2", "gpt-5", "gpt-5-mini", "gpt-5-nano", "gpt-4.1", "gpt-4.1-mini", "gpt-4o", "gpt-4o-mini"}
    assert anthropic | openai <= set(prices.models)
    assert {"A100-40GB", "A100-80GB", "H100-SXM", "H100-PCIe", "H200", "L40S", "RTX-4090", "RTX-5090"} <= set(gpus.gpus)


def test_retirement_dates_flag_retired_models() -> None:
    prices = load_api_prices()
    sonnet45 = prices.get("claude-sonnet-4-5")
    # Retired on 2026-11-30: served the day before, gone that day.
    assert sonnet45.retires_on == date(2026, 11, 30) and sonnet45.retirement_source
    assert not sonnet45.retired(date(2026, 11, 29)) and sonnet45.retired(date(2026, 11, 30))
    assert "RETIRED" in (sonnet45.retirement_note("claude-sonnet-4-5", date(2026, 12, 3)) or "")
    assert "retires on 2026-11-30" in (sonnet45.retirement_note("claude-sonnet-4-5", date(2026, 11, 1)) or "")
    today = date(2026, 12, 3)
    assert all(prices.get(m).retired(today) for m in ("claude-sonnet-4", "claude-3-5-haiku", "claude-opus-4-1"))
    assert not any(prices.get(m).retired(today) for m in ("claude-sonnet-5-5", "claude-opus-5-5", "claude-haiku-5-5", "gpt-5.5"))


def test_refuse_retired_for_the_nightly_unless_allowed(tmp_path: Path) -> None:
    from evals.config import RunnerProfile
    from evals.cost.retirement import refuse_retired

    old = RunnerProfile.model_validate({"name": "old", "provider": "anthropic", "model": "claude-sonnet-4-5", "pricing": {"api": {"model": "claude-sonnet-4-5"}}})
    new = RunnerProfile.model_validate({"name": "new", "provider": "anthropic", "model": "claude-sonnet-5-5", "pricing": {"api": {"model": "claude-sonnet-5-5"}}})
    today = date(2026, 12, 3)
    assert refuse_retired([new], today=today) == []
    with pytest.raises(ConfigError, match=r"runner 'old'.*RETIRED.*2026-11-30.*allow it explicitly"):
        refuse_retired([old, new], today=today)
    [warning] = refuse_retired([old, new], allow_retired=True, today=today)
    assert warning.startswith("runner 'old'") and "RETIRED" in warning
    # the day before its retirement it is only announced, not refused
    assert refuse_retired([old], today=date(2026, 11, 29)) == []


def test_long_prompts_bill_the_whole_request_at_the_long_context_rates() -> None:
    haiku = load_api_prices().get("claude-haiku-5-5")
    # up to 100,000 prompt tokens: 100,000 × $0.10 + 1,000 × $0.50 per million = $0.0105
    assert request_cost(Usage(input_tokens=100_000, output_tokens=1_000), haiku) == pytest.approx(0.0105)
    # over it, every token at the long rates: 100,001 × $0.50 + 1,000 × $2.50 per million = $0.0525005
    assert request_cost(Usage(input_tokens=100_001, output_tokens=1_000), haiku) == pytest.approx(0.0525005)
    # cached tokens count toward the prompt length and take the long cached rate: 60,000 × 0.50 + 50,000 × 0.05 per million
    assert request_cost(Usage(input_tokens=110_000, cached_input_tokens=50_000), haiku) == pytest.approx((60_000 * 0.50 + 50_000 * 0.05) / 1e6)


def test_gpu_rows_match_their_datasheets() -> None:
    gpus = load_gpus()
    # L40S datasheet: BF16 362.05 dense (733 sparse), FP8 733 dense (1,466 sparse), 864 GB/s, 350 W
    l40s = gpus.get("L40S")
    assert (l40s.bf16_tflops, l40s.fp8_tflops, l40s.memory_bandwidth_gbps, l40s.tdp_w) == (362.05, 733, 864, 350)
    # RTX 5090, FP32 accumulate like the RTX 4090 row: BF16 209.5 dense, FP8 419.2; 1,792 GB/s, 575 W
    rtx = gpus.get("RTX-5090")
    assert (rtx.bf16_tflops, rtx.fp8_tflops, rtx.memory_bandwidth_gbps, rtx.tdp_w) == (209.5, 419.2, 1792, 575)


def test_api_price_lookup_by_dated_alias() -> None:
    p = load_api_prices().get("claude-sonnet-4-5-20250929")
    assert (p.input, p.cached_input, p.cache_write, p.output, p.batch_discount) == (3.0, 0.30, 3.75, 15.0, 0.5)
    assert load_api_prices().get("GPT-4o-mini").cache_write is None


def test_unknown_id_error_lists_known_ids() -> None:
    with pytest.raises(ConfigError, match=r"unknown API model 'gpt-9'.*claude-sonnet-4-5.*gpt-4o-mini"):
        load_api_prices().get("gpt-9")


def test_gpu_and_model_lookup_is_loose() -> None:
    gpus, models = load_gpus(), load_models()
    assert gpus.get("NVIDIA A100-SXM4-80GB") == gpus.get("a100 80gb")
    assert gpus.get("NVIDIA GeForce RTX 4090").memory_gb == 24
    assert models.get("meta-llama/Llama-3.3-70B-Instruct") == models.get("llama-3.3-70b")
    assert models.get("mixtral-8x7b").is_moe and not models.get("qwen2.5-72b").is_moe


def test_user_price_file_replaces_and_extends(tmp_path: Path) -> None:
    f = tmp_path / "prices.yaml"
    f.write_text(
        "catalogue_as_of: 2026-11-01\n"
        "models:\n"
        "  claude-sonnet-4-5-20250929: {provider: anthropic, input: 2.4, output: 12, source: contract, as_of: 2026-11-01}\n"
        "  our-finetune: {provider: openai, input: 1, output: 4, source: contract, as_of: 2026-11-01}\n"
    )
    cat = load_api_prices(f)
    replaced = cat.get("claude-sonnet-4-5")  # the dated key named the shipped entry; its aliases are kept
    assert (replaced.input, replaced.cached_input, replaced.source) == (2.4, None, "contract")
    assert cat.get("claude-sonnet-4-5-20250929") == replaced
    assert cat.get("our-finetune").output == 4
    assert cat.get("gpt-5").input == 1.25
    assert cat.catalogue_as_of == date(2026, 11, 1)  # the older of the two


def test_user_price_file_errors_name_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "prices.yaml"
    f.write_text("models:\n  x:\n    provider: openai\n    input: 1\n    output: 2\n    ouptut: 3\n    source: s\n    as_of: 2026-01-01\n")
    with pytest.raises(ConfigError, match=r"prices.yaml:6: `models.x.ouptut`: unknown field"):
        load_api_prices(f)


def test_catalogue_age_and_staleness() -> None:
    cat = load_api_prices()
    assert cat.catalogue_age_days(date(2026, 12, 22)) == 30
    assert not cat.is_stale(date(2027, 2, 20))  # 90 days: not yet
    assert cat.is_stale(date(2027, 2, 21))  # 91 days


# ---------------------------------------------------------------- API cost


def test_request_cost_with_cache_reads_writes_and_reasoning() -> None:
    # 10,000 input = 6,000 cache reads + 2,000 cache writes + 2,000 plain; 1,000 output (400 of them reasoning).
    # plain 2,000 × $3 + cached 6,000 × $0.30 + written 2,000 × $3.75 + output 1,000 × $15
    # = 6,000 + 1,800 + 7,500 + 15,000 = $30,300 per million = $0.0303
    usage = Usage(input_tokens=10_000, cached_input_tokens=6_000, cache_write_tokens=2_000, output_tokens=1_000, reasoning_tokens=400)
    assert request_cost(usage, SONNET) == pytest.approx(0.0303)
    assert request_cost(usage, SONNET, batch=True) == pytest.approx(0.01515)  # × 0.5


def test_request_cost_missing_counts_are_zero_and_missing_rates_fall_back_to_input() -> None:
    assert request_cost(Usage(output_tokens=500), SONNET) == pytest.approx(500 * 15 / 1e6)
    assert request_cost(Usage(), SONNET) == 0
    # No cached or write rate: such tokens are plain input. 1,000 × $2 + 100 × $8 = $2,800 per million.
    usage = Usage(input_tokens=1_000, cached_input_tokens=300, cache_write_tokens=200, output_tokens=100)
    assert request_cost(usage, NO_CACHE_RATES) == pytest.approx(0.0028)


def test_request_cost_rejects_usage_where_cached_exceeds_input() -> None:
    with pytest.raises(ValueError, match="must include both"):
        request_cost(Usage(input_tokens=100, cached_input_tokens=90, cache_write_tokens=20), SONNET)


# ---------------------------------------------------------------- self-hosted cost


OWNED = Purchase(price_usd=250_000, amortisation_months=36, power_kw=6, pue=1.3, price_per_kwh=0.15, ops_per_month_usd=1_000)


def test_hourly_cost_rented_and_owned() -> None:
    assert SelfHostedPricing(gpu="H100-SXM", gpus=4, cloud_price_per_gpu_hour=2.5).hourly_cost_usd() == pytest.approx(10.0)
    # 250,000 / 36 / 730 = 9.51294 capex + 6 kW × 1.3 × $0.15 = 1.17 power + 1,000 / 730 = 1.36986 ops = 12.05280
    assert SelfHostedPricing(gpu="H100-SXM", gpus=8, purchase=OWNED).hourly_cost_usd() == pytest.approx(12.05280, abs=1e-5)


def test_cost_per_task_pays_for_idle_hours() -> None:
    # $10/h, 500 tasks per busy hour, busy half the time: 250 tasks per wall-clock hour → $0.04 each.
    assert cost_per_task(10, 500, 0.5) == pytest.approx(0.04)
    with pytest.raises(ValueError):
        cost_per_task(10, 500, 0)


def test_owned_vs_rented_breakeven_utilisation() -> None:
    # fixed = (250,000 / 36 + 1,000) / 730 = 10.88280 per hour; energy while busy = 1.17 per hour.
    # Renting 8 GPUs at $3 = $24 per busy hour. u* = 10.88280 / (24 − 1.17) = 0.476689.
    assert owned_vs_rented_breakeven_utilisation(OWNED, 24.0) == pytest.approx(0.476689, abs=1e-6)
    # Renting at $10 per busy hour: u* = 10.8828 / 8.83 = 1.23 > 1, owning never wins.
    assert owned_vs_rented_breakeven_utilisation(OWNED, 10.0) is None
    assert owned_vs_rented_breakeven_utilisation(OWNED, 1.0) is None  # cheaper than the electricity


# ---------------------------------------------------------------- sizing


def test_kv_bytes_per_token_llama_70b() -> None:
    llama = load_models().get("llama-3.3-70b")
    # 2 (K and V) × 80 layers × 8 KV heads × 128 head dim × 2 bytes = 327,680 bytes (320 KiB)
    assert kv_bytes_per_token(llama) == 327_680
    assert kv_bytes_per_token(llama, "fp8") == 163_840


def test_vram_llama_70b_fp16_and_fp8_on_a100_80gb() -> None:
    llama, a100 = load_models().get("llama-3.3-70b"), load_gpus().get("A100-80GB")
    # KV for 8 sequences × 8,192 tokens = 65,536 tokens × 327,680 B = 21,474,836,480 B (21.47 GB).
    # Usable per GPU: 80 GB × 0.9 = 72 GB.
    fp16 = size(llama, a100, "fp16", context_tokens=8192, concurrency=8)
    # Weights 70.6e9 × 2 B = 141.2 GB; need 162.67 GB = 2.26 GPUs → 3 → power of two: 4.
    assert fp16.weights_bytes == pytest.approx(141.2e9)
    assert fp16.kv_bytes_needed == 21_474_836_480
    assert fp16.gpus == 4
    # KV capacity on 4 GPUs: (288 − 141.2) GB / 327,680 B = 447,998 tokens.
    assert fp16.kv_capacity_tokens == 447_998
    fp8 = size(llama, a100, "fp8", context_tokens=8192, concurrency=8)
    # Weights 70.6 GB; need 92.07 GB = 1.28 GPUs → 2.
    assert fp8.weights_bytes == pytest.approx(70.6e9)
    assert fp8.gpus == 2
    # FP8 KV as well: 70.6 + 10.74 = 81.34 GB, still 2 GPUs; on one H200 (141 × 0.9 = 126.9 GB) it fits.
    assert size(llama, a100, "fp8", 8192, 8, kv_dtype="fp8").gpus == 2
    assert size(llama, load_gpus().get("H200"), "fp8", 8192, 8, kv_dtype="fp8").gpus == 1


def test_decode_bound_llama_70b_fp16_on_4x_a100_80gb() -> None:
    llama, a100 = load_models().get("llama-3.3-70b"), load_gpus().get("A100-80GB")
    r = size(llama, a100, "fp16", context_tokens=8192, concurrency=8)
    # Each token reads all weights once: 70.6e9 params × 2 B = 141.2 GB per step.
    # 4 GPUs × 2,039 GB/s = 8,156 GB/s → 8,156 / 141.2 = 57.76 tokens/s per sequence at most.
    assert r.gpus == 4
    assert r.aggregate_decode_bound(1) == pytest.approx(57.762, abs=1e-3)
    # With the 8 sequences of 8,192 tokens the bound was asked for, each step also reads their KV cache:
    # 141.2 GB + 8 × 8,192 × 327,680 B (21.475 GB) = 162.675 GB → 8,156 / 162.675 = 50.137 tokens/s each.
    assert r.decode_tokens_per_s_per_sequence_bound == pytest.approx(8156 / 162.674836, rel=1e-6)
    # A batch of 64 at 4,096 tokens of context: one step reads 141.2 GB + 64 × 4,096 × 327,680 B
    # = 141.2 + 85.899 = 227.099 GB → 8,156 / 227.099 = 35.914 steps/s × 64 = 2,298.5 tokens/s.
    assert r.aggregate_decode_bound(64, context_tokens=4096) == pytest.approx(2298.48, abs=0.01)
    # A huge batch hits the tensor cores: 4 × 312e12 FLOP/s / (2 × 70.6e9 FLOP per token) = 8,838.5 tokens/s.
    assert r.aggregate_decode_bound(100_000) == pytest.approx(8838.53, abs=0.01)


def test_decode_bound_moe_reads_only_active_experts() -> None:
    mixtral, h100 = load_models().get("mixtral-8x7b"), load_gpus().get("H100-SXM")
    r = size(mixtral, h100, "fp16", context_tokens=4096, concurrency=4)
    # 46.7e9 × 2 = 93.4 GB of weights > 72 GB → 2 GPUs; a step reads 12.9e9 × 2 = 25.8 GB.
    # 2 × 3,350 GB/s / 25.8 GB = 259.69 tokens/s.
    assert r.gpus == 2
    assert r.aggregate_decode_bound(1) == pytest.approx(259.69, abs=0.01)
    # The 4 sequences of 4,096 tokens add 4 × 4,096 × 131,072 B = 2.147 GB of KV reads per step:
    # 6,700 / 27.947 = 239.74 tokens/s each.
    assert r.decode_tokens_per_s_per_sequence_bound == pytest.approx(6700e9 / (25.8e9 + 4 * 4096 * 131072), rel=1e-9)


def test_tensor_parallel_must_divide_attention_heads() -> None:
    coder, rtx = load_models().get("qwen2.5-coder-32b"), load_gpus().get("RTX-4090")
    # 40 attention heads, 8 KV heads: 5 divides the heads but not the KV heads, so vLLM splits it 1, 2, 4 or 8 ways.
    r = size(coder, rtx, "fp16", context_tokens=32768, concurrency=16)
    assert r.tensor_parallel_sizes == [1, 2, 4, 8]
    # 65 GB weights + 16 × 32,768 × 262,144 B (137.4 GB) KV = 202.4 GB > 8 × 21.6 GB = 172.8 GB: one node is too small.
    assert r.gpus == 8 and not r.fits and r.tensor_parallel_ok
    assert size(coder, rtx, "fp16", context_tokens=4096, concurrency=1).tensor_parallel_ok  # 4 GPUs
    assert not size(coder, rtx, "fp16", context_tokens=4096, concurrency=1, gpus=5).tensor_parallel_ok


# ---------------------------------------------------------------- projection


LOCAL = SelfHostedRunner(name="llama-70b", hourly_cost_usd=8.0, tasks_per_hour=1_000, gpus_per_replica=4, pass_rate=0.8)


def test_replicas_for_the_peak_hour() -> None:
    w = Workload(requests_per_day=100_000, peak_hour_share=0.125)
    # 12.5% of 100,000 arrive in the busiest hour: 12,500/h over 1,000 per replica → 13 replicas.
    assert peak_requests_per_hour(w) == pytest.approx(12_500)
    assert replicas_needed(w, LOCAL) == 13
    p = project(w, LOCAL)
    # 13 × $8 × 730 h = $75,920 a month for 100,000 × 730/24 = 3,041,667 requests.
    assert (p.replicas, p.gpus, p.monthly_cost) == (13, 52, pytest.approx(75_920))
    # Average 100,000 / 24 = 4,166.7 per hour over 13,000 provisioned: 32.05% busy.
    assert p.utilisation == pytest.approx(4_166.667 / 13_000, rel=1e-6)
    assert p.cost_per_task == pytest.approx(75_920 / 3_041_666.667, rel=1e-6)
    assert p.cost_per_completed_task == pytest.approx(p.cost_per_task / 0.8)
    # Exactly at capacity needs no extra replica: 12,000/h → 12 replicas, not 13.
    assert replicas_needed(Workload(requests_per_day=100_000, peak_hour_share=0.12), LOCAL) == 12


def test_api_projection_is_linear_and_priced_from_tokens() -> None:
    w = Workload(requests_per_month=1_000_000, avg_input_tokens=1_000, avg_output_tokens=200, peak_hour_share=0.1)
    api = ApiRunner.from_prices("sonnet", SONNET, w, pass_rate=0.9)
    # (1,000 × $3 + 200 × $15) / 1e6 = $0.006 per request.
    assert api.cost_per_task == pytest.approx(0.006)
    p = project(w, api)
    assert (p.monthly_cost, p.replicas, p.utilisation) == (pytest.approx(6_000), None, None)
    assert p.cost_per_completed_task == pytest.approx(0.006 / 0.9)


def test_workload_validation() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Workload(requests_per_day=1, requests_per_month=30, peak_hour_share=0.1)
    with pytest.raises(ValueError, match="below 1/24"):
        Workload(requests_per_day=1_000, peak_hour_share=0.03)


def test_break_even_volume_per_completed_task() -> None:
    w = Workload(requests_per_day=1, peak_hour_share=0.125)
    api = ApiRunner(name="api", cost_per_task=0.01, pass_rate=0.95)
    local = SelfHostedRunner(name="local", hourly_cost_usd=2.0, tasks_per_hour=1_000, gpus_per_replica=1, pass_rate=0.85)
    result = break_even(w, api, local, max_requests_per_month=2_000_000, points=20)
    # One replica costs 2 × 730 = $1,460 a month and serves up to 1,000 × (730/24) / 0.125 = 243,333 a month.
    # Per completed task: 1,460 / (V × 0.85) < 0.01 / 0.95  ⇔  V > 1,460 × 0.95 / (0.85 × 0.01) = 163,176.47.
    assert result.requests_per_month == 163_177
    by_volume = {pt.requests_per_month: pt for pt in result.curve}
    assert by_volume[163_176].self_hosted_per_completed_task > by_volume[163_176].api_per_completed_task
    assert by_volume[163_177].self_hosted_per_completed_task < by_volume[163_177].api_per_completed_task
    assert [pt.replicas for pt in result.curve] == sorted(pt.replicas for pt in result.curve)


def test_break_even_never_when_quality_gap_outweighs_price() -> None:
    w = Workload(requests_per_day=1, peak_hour_share=0.125)
    api = ApiRunner(name="api", cost_per_task=0.01, pass_rate=0.95)
    # Same hardware as above but passing only 50%: threshold 1,460 × 0.95 / (0.5 × 0.01) = 277,400 is beyond
    # the first step's 243,333, and every later step scales both the same way: never cheaper.
    weak = SelfHostedRunner(name="weak", hourly_cost_usd=2.0, tasks_per_hour=1_000, gpus_per_replica=1, pass_rate=0.5)
    assert break_even(w, api, weak, max_requests_per_month=5_000_000).requests_per_month is None


# ---------------------------------------------------------------- routing


PER_CATEGORY = {
    "extract": {"api": (0.90, 100), "local": (0.88, 100)},
    "reason": {"api": (0.90, 100), "local": (0.60, 100)},
}


def _linear(costs: dict[str, float]):  # type: ignore[no-untyped-def]
    """Per-request prices that do not depend on volume (two APIs): the blend is linear."""
    return lambda shares: sum(costs[r] * s for r, s in shares.items())


def test_cheapest_assignment_within_margin() -> None:
    # Two per-request prices, api $0.020 and local $0.005. Reference blended: 0.9 pass, $0.020. Within 5 points means ≥ 0.85.
    #   local/local: 0.74 ✗   local/api: 0.5·0.88 + 0.5·0.90 = 0.89, $0.0125 ✓   api/local: 0.75 ✗   api/api: $0.020
    a = cheapest_assignment(PER_CATEGORY, {"extract": 1, "reason": 1}, "api", 0.05, _linear({"api": 0.02, "local": 0.005}))
    assert a.routes == {"extract": "local", "reason": "api"} and a.shares == {"local": 0.5, "api": 0.5}
    assert (a.pass_rate, a.cost_per_task, a.method) == (pytest.approx(0.89), pytest.approx(0.0125), "exhaustive")
    assert (a.reference_pass_rate, a.reference_cost_per_task) == (pytest.approx(0.9), pytest.approx(0.02))


def test_cheapest_assignment_greedy_and_shares() -> None:
    # Greedy from api/api: moving extract saves 0.0075 for 0.01 of quality (→ 0.89 ✓); moving reason
    # would drop to 0.75 ✗. Same answer as the exhaustive search.
    cost = _linear({"api": 0.02, "local": 0.005})
    a = cheapest_assignment(PER_CATEGORY, {"extract": 1, "reason": 1}, "api", 0.05, cost, exhaustive_limit=0)
    assert (a.routes, a.method) == ({"extract": "local", "reason": "api"}, "greedy")
    # If reasoning is only 10% of traffic, local everywhere passes 0.9·0.88 + 0.1·0.60 = 0.852 ≥ 0.85 at $0.005.
    b = cheapest_assignment(PER_CATEGORY, {"extract": 9, "reason": 1}, "api", 0.05, cost)
    assert b.routes == {"extract": "local", "reason": "local"}
    assert (b.pass_rate, b.cost_per_task) == (pytest.approx(0.852), pytest.approx(0.005))


def test_cheapest_assignment_skips_runners_without_samples() -> None:
    results = {"extract": {"api": CategoryResult(0.9, 50), "local": CategoryResult(1.0, 0)}}
    cost = _linear({"api": 0.02, "local": 0.001})
    assert cheapest_assignment(results, {"extract": 1}, "api", 0.05, cost).routes == {"extract": "api"}
    with pytest.raises(ValueError, match="same categories"):
        cheapest_assignment(results, {"other": 1}, "api", 0.05, cost)


# The issue's hand example: 1M requests a month, one local replica at $1,950/month, an API at $0.0022/request.
MONTH = 1_000_000
ONE_REPLICA = SelfHostedRunner(name="local", hourly_cost_usd=1_950 / 730, tasks_per_hour=100_000, gpus_per_replica=1, pass_rate=1.0)
API = ApiRunner(name="api", cost_per_task=0.0022, pass_rate=1.0)


def test_a_routed_share_pays_for_whole_replicas_the_issue_example() -> None:
    w = Workload(requests_per_month=MONTH, peak_hour_share=0.1)
    # 80% local: the replica costs $1,950 for the month whatever it carries; 20% × 1M × $0.0022 = $440 to the API.
    # (1,950 + 440) / 1,000,000 = $0.00239 per request; all-API is $0.0022: 0.00239 / 0.0022 − 1 = +8.6%, 9% DEARER.
    monthly = fleet_monthly_cost(w, {"local": 0.8, "api": 0.2}, {"local": ONE_REPLICA, "api": API})
    assert monthly == pytest.approx(1_950 + 440)
    assert monthly / MONTH == pytest.approx(0.00239)
    assert monthly / MONTH / 0.0022 - 1 == pytest.approx(0.0864, abs=5e-4)
    # A 1% share still pays the whole replica: 1,950 + 0.99 × 1M × 0.0022 = $4,128.
    assert fleet_monthly_cost(w, {"local": 0.01, "api": 0.99}, {"local": ONE_REPLICA, "api": API}) == pytest.approx(1_950 + 2_178)


def test_cheapest_assignment_prices_whole_replicas() -> None:
    # Same quality everywhere; 80% of traffic in "easy". Priced per task at full load the local model looks free,
    # but the fleet pays $1,950 for any share: local on easy only = $0.00239, all local = $0.00195, all API = $0.0022.
    w = Workload(requests_per_month=MONTH, peak_hour_share=0.1)
    per_cat = {"easy": {"api": (0.9, 50), "local": (0.9, 50)}, "hard": {"api": (0.9, 50), "local": (0.9, 50)}}

    def cost(shares: dict[str, float]) -> float:
        return fleet_monthly_cost(w, shares, {"local": ONE_REPLICA, "api": API}) / MONTH

    a = cheapest_assignment(per_cat, {"easy": 0.8, "hard": 0.2}, "api", 0.05, cost)
    assert a.routes == {"easy": "local", "hard": "local"} and a.cost_per_task == pytest.approx(1_950 / MONTH)
    # When "hard" must stay on the API (local fails it), routing only "easy" costs more than all-API: stay on the API.
    per_cat["hard"]["local"] = (0.3, 50)
    b = cheapest_assignment(per_cat, {"easy": 0.8, "hard": 0.2}, "api", 0.05, cost)
    assert b.routes == {"easy": "api", "hard": "api"} and b.cost_per_task == pytest.approx(0.0022)


def test_cascade_blended_quality_and_cost() -> None:
    local, api = RunnerStats(pass_rate=0.8, cost_per_task=0.001), RunnerStats(pass_rate=0.95, cost_per_task=0.02)
    r = cascade(local, api, check_recall=0.9, check_false_alarm_rate=0.1, check_cost_per_task=0.0005)
    # escalated = 0.2 × 0.9 + 0.8 × 0.1 = 0.26
    # pass      = 0.8 × 0.9 + 0.8 × 0.1 × 0.95 + 0.2 × 0.9 × 0.95 = 0.72 + 0.076 + 0.171 = 0.967
    # cost      = 0.001 + 0.0005 + 0.26 × 0.02 = 0.0067
    assert r.escalation_rate == pytest.approx(0.26)
    assert r.pass_rate == pytest.approx(0.967)
    assert r.cost_per_task == pytest.approx(0.0067)
    assert r.cost_per_completed_task == pytest.approx(0.0067 / 0.967)
    # The API passes only 70% of the tasks the local model failed: 0.72 + 0.076 + 0.2 × 0.9 × 0.7 = 0.922.
    hard = cascade(local, api, 0.9, 0.1, 0.0005, escalated_pass_rate_on_local_failures=0.7)
    assert hard.pass_rate == pytest.approx(0.922)


def test_runner_pricing_flags_a_stale_catalogue_in_the_report_rows(tmp_path: Path) -> None:
    """The report's price rows say when the catalogue behind a price is over 90 days old."""
    from evals.config import RunnerProfile
    from evals.cost.pricing import runner_pricing

    old = tmp_path / "old.yaml"
    old.write_text("catalogue_as_of: 2020-01-01\nmodels:\n  house-model:\n    provider: openai\n    input: 1\n    output: 2\n    source: contract\n    as_of: 2020-01-01\n")
    prof = RunnerProfile.model_validate({"name": "h", "provider": "openai", "model": "house-model", "pricing": {"api": {"model": "house-model"}}})
    assert runner_pricing(prof, old).source_row("h")["stale"] is True
    fresh = RunnerProfile.model_validate({"name": "g", "provider": "openai", "model": "gpt-5", "pricing": {"api": {"model": "gpt-5"}}})
    assert runner_pricing(fresh).source_row("g", today=date(2026, 12, 1))["stale"] is False
    assert runner_pricing(fresh).source_row("g", today=date(2027, 6, 1))["stale"] is True
