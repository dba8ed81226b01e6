"""Each provider through its real SDK against the simulated server on loopback."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from evals.config import RunnerProfile
from evals.providers.anthropic_messages import AnthropicProvider
from evals.providers.base import Completion, GenerationParams, Status, Timeouts
from evals.providers.factory import MissingKeyError, make_providers
from evals.providers.openai_chat import OpenAIChatProvider

TIMEOUTS = Timeouts(connect_s=2, idle_s=2, total_s=10)
PROMPT = [{"role": "system", "content": "Answer with the label only."}, {"role": "user", "content": "Ticket 0: my invoice #0 is wrong"}]


def _call(provider: Any, messages: list[dict[str, Any]] = PROMPT, **params: Any) -> Completion:
    async def go() -> Completion:
        try:
            return await provider.complete(messages, GenerationParams(**params))
        finally:
            await provider.aclose()

    return asyncio.run(go())


def _openai(sim: Any, model: str = "m", stream: bool = True, key: str = "k", timeouts: Timeouts = TIMEOUTS) -> OpenAIChatProvider:
    return OpenAIChatProvider(name="t", model=model, base_url=sim.base_url + "/v1", api_key=key, timeouts=timeouts, stream=stream)


def _anthropic(sim: Any, model: str = "m", stream: bool = True, key: str = "k", timeouts: Timeouts = TIMEOUTS) -> AnthropicProvider:
    return AnthropicProvider(name="t", model=model, base_url=sim.base_url, api_key=key, timeouts=timeouts, stream=stream)


@pytest.mark.parametrize("make", [_openai, _anthropic], ids=["openai", "anthropic"])
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
def test_answer_usage_and_timing(sim_factory: Any, make: Any, stream: bool) -> None:
    sim = sim_factory({"m": {"accuracy": {"default": 1.0}, "ttft_ms": 30, "tokens_per_second": 200}})
    c = _call(make(sim, stream=stream))
    assert c.status is Status.ok, c.error
    assert c.text == "billing"
    assert c.finish_reason in ("stop", "end_turn")
    assert c.usage.input_tokens and c.usage.input_tokens > 5
    assert c.usage.output_tokens == 1
    assert c.timing.latency_ms is not None and c.timing.latency_ms >= 30
    if stream:
        assert c.timing.ttft_ms is not None and c.timing.ttft_ms >= 30
    else:
        assert c.timing.ttft_ms is None
    assert c.served_model == "m"


@pytest.mark.parametrize("make", [_openai, _anthropic], ids=["openai", "anthropic"])
def test_length_limit_is_truncated_not_ok(sim_factory: Any, make: Any) -> None:
    sim = sim_factory({"m": {"accuracy": {"default": 1.0}}})
    # the unknown-prompt reply ("I'm not sure.") is several tokens: one token of room truncates it
    c = _call(make(sim), [{"role": "user", "content": "something the simulator does not know"}], max_tokens=1)
    assert c.status is Status.truncated
    assert c.finish_reason in ("length", "max_tokens")


@pytest.mark.parametrize("make", [_openai, _anthropic], ids=["openai", "anthropic"])
def test_rate_limit_is_data_with_retry_after(sim_factory: Any, make: Any) -> None:
    sim = sim_factory({"m": {"rate_limit_rate": 1.0, "retry_after_s": 1.5}})
    c = _call(make(sim))
    assert c.status is Status.error and c.error_kind == "rate_limit" and c.http_status == 429
    assert c.retry_after_s == pytest.approx(1.5)


@pytest.mark.parametrize("make", [_openai, _anthropic], ids=["openai", "anthropic"])
def test_server_error_and_auth_error(sim_factory: Any, make: Any) -> None:
    sim = sim_factory({"m": {"error_rate": 1.0}})
    c = _call(make(sim))
    assert (c.status, c.error_kind, c.http_status) == (Status.error, "server", 500)
    bad = _call(make(sim, key="invalid-key"))
    assert (bad.error_kind, bad.http_status) == ("auth", 401)
    assert "invalid-key" not in (bad.error or "")


@pytest.mark.parametrize("make", [_openai, _anthropic], ids=["openai", "anthropic"])
def test_dropped_stream_is_truncated(sim_factory: Any, make: Any) -> None:
    sim = sim_factory({"m": {"drop_rate": 1.0, "accuracy": {"default": 1.0}}})
    c = _call(make(sim), [{"role": "user", "content": "something the simulator does not know"}])
    assert c.status is Status.truncated
    assert c.error_kind == "dropped_stream"


@pytest.mark.parametrize("make", [_openai, _anthropic], ids=["openai", "anthropic"])
def test_stalled_stream_times_out(sim_factory: Any, make: Any) -> None:
    sim = sim_factory({"m": {"stall_rate": 1.0}})
    c = _call(make(sim, timeouts=Timeouts(connect_s=2, idle_s=0.5, total_s=5)), [{"role": "user", "content": "something the simulator does not know"}])
    assert c.status is Status.timeout
    assert c.error_kind == "timeout_idle"
    assert c.timing.latency_ms is not None and c.timing.latency_ms < 4000


def test_unknown_model_is_not_found(sim_factory: Any) -> None:
    sim = sim_factory()
    c = _call(_openai(sim, model="nope"))
    assert c.error_kind == "not_found" and c.http_status == 404


def test_connection_refused_is_connection_error() -> None:
    p = OpenAIChatProvider(name="t", model="m", base_url="http://127.0.0.1:9/v1", api_key="k", timeouts=TIMEOUTS)
    c = _call(p)
    # the SDK's aiohttp transport maps a refused connection to ConnectTimeout; the cause says refused
    assert (c.status, c.error_kind) == (Status.error, "connection")
    assert c.error == "nothing listens on http://127.0.0.1:9/v1: connection refused"


def test_hosted_runner_without_key_fails_early(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    prof = RunnerProfile.model_validate({"name": "c", "provider": "anthropic", "model": "claude-sonnet-4-5", "pricing": {"api": {"model": "claude-sonnet-4-5"}}})
    with pytest.raises(MissingKeyError, match="ANTHROPIC_API_KEY"):
        make_providers(prof)


def test_replicas_get_one_provider_each() -> None:
    prof = RunnerProfile.model_validate(
        {"name": "v", "provider": "openai_compatible", "model": "x", "base_urls": ["http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1"], "pricing": {"self_hosted": {"gpu": "H100-SXM", "gpus": 1, "cloud_price_per_gpu_hour": 3}}}
    )
    ps = make_providers(prof)
    assert [p.base_url for p in ps] == ["http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1"]
    for p in ps:
        asyncio.run(p.aclose())
