"""Real endpoints: skipped unless their environment is present.

- EVALS_VLLM_BASE_URL (e.g. http://gpu-box:8000/v1) and EVALS_VLLM_MODEL: a real vLLM server.
- OPENAI_API_KEY / ANTHROPIC_API_KEY: the hosted APIs (each test sends one short request).
"""

from __future__ import annotations

import asyncio
import os

import pytest

from evals.config import RunnerProfile
from evals.providers.base import Completion, GenerationParams, Status
from evals.providers.factory import make_providers

PROMPT = [{"role": "user", "content": "Reply with the single word: pong"}]


def _one(profile: dict) -> Completion:
    [p] = make_providers(RunnerProfile.model_validate(profile))

    async def go() -> Completion:
        try:
            return await p.complete(PROMPT, GenerationParams(max_tokens=256, temperature=None))
        finally:
            await p.aclose()

    return asyncio.run(go())


@pytest.mark.vllm_server
@pytest.mark.skipif(not os.environ.get("EVALS_VLLM_BASE_URL"), reason="set EVALS_VLLM_BASE_URL (and EVALS_VLLM_MODEL) to test a real vLLM server")
def test_real_vllm_server_streams_usage_and_timing() -> None:
    c = _one({"name": "vllm", "provider": "openai_compatible", "model": os.environ.get("EVALS_VLLM_MODEL", "meta-llama/Llama-3.1-8B-Instruct"), "base_url": os.environ["EVALS_VLLM_BASE_URL"], "pricing": {"self_hosted": {"gpu": "H100-SXM", "gpus": 1, "cloud_price_per_gpu_hour": 3}}})
    assert c.status is Status.ok, c.error
    assert c.usage.input_tokens and c.usage.output_tokens and c.timing.ttft_ms is not None


@pytest.mark.api_keys
@pytest.mark.skipif(not os.environ.get("OPENAI_API_KEY"), reason="set OPENAI_API_KEY to test the OpenAI API")
def test_real_openai() -> None:
    c = _one({"name": "gpt", "provider": "openai", "model": "gpt-5-mini", "pricing": {"api": {"model": "gpt-5-mini"}}})
    assert c.status in (Status.ok, Status.truncated), c.error
    assert c.usage.input_tokens and c.usage.output_tokens


@pytest.mark.api_keys
@pytest.mark.skipif(not os.environ.get("ANTHROPIC_API_KEY"), reason="set ANTHROPIC_API_KEY to test the Anthropic API")
def test_real_anthropic() -> None:
    c = _one({"name": "claude", "provider": "anthropic", "model": "claude-haiku-4-5", "pricing": {"api": {"model": "claude-haiku-4-5"}}})
    assert c.status is Status.ok, c.error
    assert "pong" in c.text.lower() and c.usage.output_tokens
