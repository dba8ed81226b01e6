"""The in-process vLLM provider. Without a GPU: the missing extra says how to
install it, and the RequestOutput -> Completion mapping and batching are checked
against a stand-in `vllm` module. With a GPU and the extra: a real tiny model."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from evals.config import RunnerProfile
from evals.providers import vllm_offline
from evals.providers.base import GenerationParams, Status
from evals.providers.factory import make_providers
from evals.run.keys import request_identity

PROFILE = {"name": "off", "provider": "vllm_offline", "model": "org/tiny", "engine": {"max_model_len": 2048}, "pricing": {"self_hosted": {"gpu": "L40S", "gpus": 1, "cloud_price_per_gpu_hour": 1.0}}}


def test_missing_extra_is_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError
    with pytest.raises(RuntimeError) as err:
        make_providers(RunnerProfile.model_validate(PROFILE))
    assert str(err.value) == "the vllm extra is not installed: pip install 'workload-evals[vllm]' on a machine with a CUDA GPU"


def test_offline_profiles_take_engine_settings_and_no_url() -> None:
    p = RunnerProfile.model_validate(PROFILE)
    assert request_identity(p)["base_urls"] == ["offline", {"max_model_len": 2048}]
    with pytest.raises(ValueError, match="remove base_url"):
        RunnerProfile.model_validate({**PROFILE, "base_url": "http://x/v1"})
    with pytest.raises(ValueError, match="only for provider: vllm_offline"):
        RunnerProfile.model_validate({**PROFILE, "provider": "openai_compatible", "base_url": "http://x/v1"})


class _Seq:
    def __init__(self, text: str, n: int, finish: str | None) -> None:
        self.text, self.token_ids, self.finish_reason = text, list(range(n)), finish


class _Out:
    def __init__(self, prompt_len: int, seq: _Seq, metrics: Any = None) -> None:
        self.prompt_token_ids, self.outputs, self.metrics, self.num_cached_tokens = list(range(prompt_len)), [seq], metrics, 0


def _fake_vllm(calls: list[tuple[int, Any]]) -> types.ModuleType:
    """A stand-in for the `vllm` module: LLM.chat answers each conversation with its last message, reversed."""
    mod = types.ModuleType("vllm")

    class SamplingParams:
        def __init__(self, **kw: Any) -> None:
            self.kw = kw

    class LLM:
        def __init__(self, model: str, **engine: Any) -> None:
            self.model, self.engine = model, engine

        def chat(self, conversations: list[list[dict[str, Any]]], sp: SamplingParams, use_tqdm: bool = False) -> list[_Out]:
            calls.append((len(conversations), sp.kw))
            out = []
            for conv in conversations:
                text = conv[-1]["content"]
                finish = "length" if "long" in text else "stop"
                metrics = types.SimpleNamespace(arrival_time=100.0, first_token_time=100.05, finished_time=100.25)
                out.append(_Out(len(text.split()) + 5, _Seq(text[::-1], 11, finish), metrics))
            return out

    mod.LLM, mod.SamplingParams = LLM, SamplingParams  # type: ignore[attr-defined]
    return mod


def test_completion_contract_and_batching_with_a_stand_in_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, Any]] = []
    monkeypatch.setitem(sys.modules, "vllm", _fake_vllm(calls))
    monkeypatch.setattr(vllm_offline, "require_gpu", lambda: None)
    [provider] = make_providers(RunnerProfile.model_validate(PROFILE))
    params = GenerationParams(max_tokens=64, temperature=0.0, stop=["\n\n"], extra_body={"top_k": 5})

    async def many() -> list[Any]:
        prompts = [[{"role": "user", "content": f"question {i}" + (" long" if i == 3 else "")}] for i in range(8)]
        try:
            return await asyncio.gather(*(provider.complete(m, params) for m in prompts))
        finally:
            await provider.aclose()

    results = asyncio.run(many())
    assert calls == [(8, {"max_tokens": 64, "temperature": 0.0, "stop": ["\n\n"], "top_k": 5})]  # one engine call for all eight
    ok = results[0]
    assert ok.status is Status.ok and ok.text == "0 noitseuq" and ok.finish_reason == "stop" and ok.served_model == "org/tiny"
    assert (ok.usage.input_tokens, ok.usage.output_tokens, ok.usage.cached_input_tokens) == (7, 11, 0)
    assert ok.timing.ttft_ms == pytest.approx(50) and ok.timing.latency_ms == pytest.approx(250) and ok.timing.output_tps == pytest.approx(50)
    assert results[3].status is Status.truncated and results[3].finish_reason == "length"


def test_v1_metrics_and_engine_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    v1 = types.SimpleNamespace(first_token_latency=0.1, first_token_ts=5.0, last_token_ts=5.5)
    t = vllm_offline.output_timing(v1, output_tokens=11, batch_ms=999.0)
    assert t.ttft_ms == pytest.approx(100) and t.latency_ms == pytest.approx(600) and t.output_tps == pytest.approx(20)
    assert vllm_offline.output_timing(None, 11, 123.0).latency_ms == 123.0  # nothing reported: the batch's wall time
    aborted = vllm_offline.to_completion(_Out(3, _Seq("", 0, "abort")), "m", 1.0)
    assert aborted.status is Status.error and "abort" in (aborted.error or "")

    monkeypatch.setitem(sys.modules, "vllm", _fake_vllm([]))
    monkeypatch.setattr(vllm_offline, "require_gpu", lambda: None)
    provider = vllm_offline.VLLMOfflineProvider(name="off", model="m", engine={})
    bad = GenerationParams(extra_body={"guided_json": {}})
    monkeypatch.setattr(provider._vllm, "SamplingParams", lambda **kw: (_ for _ in ()).throw(TypeError(f"unexpected keyword {sorted(kw)[0]!r}")))
    [c] = provider.complete_batch([[{"role": "user", "content": "x"}]], bad)
    assert c.status is Status.error and c.error_kind == "engine" and "unexpected keyword" in (c.error or "")


def _has_gpu_and_vllm() -> bool:
    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


@pytest.mark.gpu
@pytest.mark.skipif(not _has_gpu_and_vllm(), reason="needs a CUDA GPU and the vllm extra")
def test_a_real_tiny_model_answers() -> None:
    profile = RunnerProfile.model_validate({**PROFILE, "model": "Qwen/Qwen2.5-0.5B-Instruct", "engine": {"max_model_len": 2048, "gpu_memory_utilization": 0.3}})
    [provider] = make_providers(profile)
    assert isinstance(provider, vllm_offline.VLLMOfflineProvider)
    params = GenerationParams(max_tokens=16, temperature=0.0)
    results = provider.complete_batch([[{"role": "user", "content": "Say hello."}], [{"role": "user", "content": "Count to three."}]], params)
    assert all(c.status in (Status.ok, Status.truncated) and c.text for c in results)
    assert all(c.usage.input_tokens and c.usage.output_tokens for c in results)
    asyncio.run(provider.aclose())


def test_two_offline_engines_in_one_run_are_refused(tmp_path: Path) -> None:
    from evals.config import ConfigError, RunnerProfile, load_suite
    from evals.run.orchestrate import prepare_run
    from tests.conftest import write_workspace

    ws = write_workspace(tmp_path, {})
    body = {"provider": "vllm_offline", "model": "meta-llama/Llama-3.1-8B-Instruct", "pricing": {"self_hosted": {"gpu": "H100-SXM", "gpus": 1, "cloud_price_per_gpu_hour": 3}}}
    runners = [RunnerProfile.model_validate({"name": n, **body}) for n in ("bf16", "fp8")]
    with pytest.raises(ConfigError, match="one per `evals run`"):
        prepare_run(load_suite(ws / "tasks" / "mini"), runners, None, None)


def test_a_sample_with_tools_is_refused_not_sent_without_them(monkeypatch: pytest.MonkeyPatch) -> None:
    from evals.providers.translate import request_params
    from evals.suite.sample import Sample

    calls: list[tuple[int, Any]] = []
    monkeypatch.setitem(sys.modules, "vllm", _fake_vllm(calls))
    monkeypatch.setattr(vllm_offline, "require_gpu", lambda: None)
    [provider] = make_providers(RunnerProfile.model_validate(PROFILE))
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    sample = Sample(id="t", input=[{"role": "user", "content": "call f"}], tools=[tool])

    async def ask() -> Any:
        try:
            return await provider.complete(sample.input, request_params(GenerationParams(), sample))
        finally:
            await provider.aclose()

    c = asyncio.run(ask())
    assert c.status is Status.error and c.error_kind == "bad_request" and "launch:" in (c.error or "")
    assert calls == []  # the engine was never asked
