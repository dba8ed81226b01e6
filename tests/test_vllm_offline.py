"""The in-process vLLM provider. Without a GPU: the missing extra says how to
install it, and streaming, timing, timeouts, aborts and failures are checked
against a stand-in async engine. With a GPU and the extra: a real tiny model."""

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
from evals.providers.base import GenerationParams, Status, Timeouts
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
    def __init__(self, prompt_len: int, seq: _Seq, finished: bool) -> None:
        self.prompt_token_ids, self.outputs, self.num_cached_tokens, self.finished = list(range(prompt_len)), [seq], 0, finished


class _Tokenizer:
    def apply_chat_template(self, messages: list[dict[str, Any]], tokenize: bool, add_generation_prompt: bool) -> str:
        assert tokenize is False and add_generation_prompt is True
        return "".join(f"<|{m['role']}|>{m['content']}" for m in messages) + "<|assistant|>"


def _fake_vllm(log: dict[str, Any]) -> types.ModuleType:
    """A stand-in for the `vllm` module: an async engine that streams each prompt's user text reversed,
    three characters per output (cumulative, as vLLM's default output kind), 10 ms apart; "long" is
    cut at max_tokens, "boom" fails mid-stream, "abort" ends with reason abort, "stall" goes silent."""
    mod = types.ModuleType("vllm")

    class SamplingParams:
        def __init__(self, **kw: Any) -> None:
            self.kw = kw

    class AsyncEngineArgs:
        def __init__(self, model: str, **kw: Any) -> None:
            self.model, self.kw = model, kw

    class AsyncLLMEngine:
        @classmethod
        def from_engine_args(cls, args: AsyncEngineArgs) -> AsyncLLMEngine:
            log["engine_args"] = (args.model, args.kw)
            return cls()

        async def get_tokenizer(self) -> _Tokenizer:
            return _Tokenizer()

        async def generate(self, prompt: str, sp: SamplingParams, request_id: str) -> Any:
            log.setdefault("prompts", []).append(prompt)
            log.setdefault("params", []).append(sp.kw)
            log["in_flight"] = log.get("in_flight", 0) + 1
            log["max_in_flight"] = max(log.get("max_in_flight", 0), log["in_flight"])
            try:
                user = prompt.rsplit("<|user|>", 1)[1].removesuffix("<|assistant|>")
                answer = user[::-1]
                for i in range(3, len(answer) + 3, 3):
                    await asyncio.sleep(0.01)
                    if "boom" in user and i > 3:
                        raise RuntimeError("CUDA error: device-side assert triggered")
                    if "stall" in user and i > 3:
                        await asyncio.sleep(10)
                    done = i >= len(answer)
                    finish = ("abort" if "abort" in user else "length" if "long" in user else "stop") if done else None
                    yield _Out(len(prompt.split()), _Seq(answer[:i], i, finish), done)
            finally:
                log["in_flight"] -= 1

        async def abort(self, request_id: str) -> None:
            log.setdefault("aborted", []).append(request_id)

        def shutdown(self) -> None:
            log["shutdown"] = True

    mod.AsyncLLMEngine, mod.AsyncEngineArgs, mod.SamplingParams = AsyncLLMEngine, AsyncEngineArgs, SamplingParams  # type: ignore[attr-defined]
    return mod


def test_requests_stream_one_by_one_through_the_stream_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    log: dict[str, Any] = {}
    monkeypatch.setitem(sys.modules, "vllm", _fake_vllm(log))
    monkeypatch.setattr(vllm_offline, "require_gpu", lambda: None)
    [provider] = make_providers(RunnerProfile.model_validate(PROFILE))
    assert log["engine_args"] == ("org/tiny", {"max_model_len": 2048})
    params = GenerationParams(max_tokens=64, temperature=0.0, stop=["\n\n"], extra_body={"top_k": 5})

    async def many() -> list[Any]:
        prompts = [[{"role": "system", "content": "be brief"}, {"role": "user", "content": f"question {i}" + (" long" if i == 3 else "")}] for i in range(8)]
        try:
            return await asyncio.gather(*(provider.complete(m, params) for m in prompts))
        finally:
            await provider.aclose()

    results = asyncio.run(many())
    assert log["max_in_flight"] == 8  # each request submitted on its own, all in flight together: the engine batches them
    assert log["params"][0] == {"max_tokens": 64, "temperature": 0.0, "stop": ["\n\n"], "top_k": 5}
    assert log["prompts"][0] == "<|system|>be brief<|user|>question 0<|assistant|>"  # the model's chat template
    ok = results[0]
    assert ok.status is Status.ok and ok.text == "0 noitseuq" and ok.finish_reason == "stop" and ok.served_model == "org/tiny"
    # 10 characters in outputs of 3: four events 10 ms apart; tokens and prompt from the last output
    assert (ok.usage.input_tokens, ok.usage.output_tokens, ok.usage.cached_input_tokens) == (3, 12, 0)  # the stand-in counts words of the templated prompt
    assert ok.timing.ttft_ms is not None and ok.timing.ttft_ms >= 9 and ok.timing.latency_ms is not None and ok.timing.latency_ms >= ok.timing.ttft_ms + 25
    assert results[3].status is Status.truncated and results[3].finish_reason == "length"
    assert log["shutdown"] is True and "aborted" not in log


def test_engine_failures_aborts_and_timeouts_are_data(monkeypatch: pytest.MonkeyPatch) -> None:
    log: dict[str, Any] = {}
    monkeypatch.setitem(sys.modules, "vllm", _fake_vllm(log))
    monkeypatch.setattr(vllm_offline, "require_gpu", lambda: None)
    provider = vllm_offline.VLLMOfflineProvider(name="off", model="m", engine={}, timeouts=Timeouts(idle_s=0.2, total_s=5))

    async def ask(text: str) -> Any:
        return await provider.complete([{"role": "user", "content": text}], GenerationParams())

    async def all_three() -> list[Any]:
        try:
            return [await ask("boom now"), await ask("abort please"), await ask("stall here")]
        finally:
            await provider.aclose()

    boom, aborted, stalled = asyncio.run(all_three())
    assert boom.status is Status.error and boom.error_kind == "engine" and "device-side assert" in (boom.error or "") and boom.text == "won"
    assert aborted.status is Status.error and "reason 'abort'" in (aborted.error or "")
    assert stalled.status is Status.timeout and stalled.error_kind == "timeout_idle"
    assert len(log["aborted"]) == 3  # every request the driver gave up on was aborted in the engine

    bad = GenerationParams(extra_body={"guided_json": {}})
    provider = vllm_offline.VLLMOfflineProvider(name="off", model="m", engine={})
    monkeypatch.setattr(provider._vllm, "SamplingParams", lambda **kw: (_ for _ in ()).throw(TypeError(f"unexpected keyword {sorted(kw)[0]!r}")))
    c = asyncio.run(provider.complete([{"role": "user", "content": "x"}], bad))
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

    async def both() -> list[Any]:
        try:
            return await asyncio.gather(*(provider.complete([{"role": "user", "content": q}], params) for q in ("Say hello.", "Count to three.")))
        finally:
            await provider.aclose()

    results = asyncio.run(both())
    assert all(c.status in (Status.ok, Status.truncated) and c.text for c in results)
    assert all(c.usage.input_tokens and c.usage.output_tokens and c.timing.ttft_ms is not None for c in results)


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

    log: dict[str, Any] = {}
    monkeypatch.setitem(sys.modules, "vllm", _fake_vllm(log))
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
    assert "prompts" not in log  # the engine was never asked
