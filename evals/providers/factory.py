"""Build the providers of a runner profile: one per base URL (replica)."""

from __future__ import annotations

from evals.config import RunnerProfile
from evals.errors import UsageError
from evals.providers.anthropic_messages import AnthropicProvider
from evals.providers.base import Provider
from evals.providers.openai_chat import OpenAIChatProvider
from evals.providers.vllm_offline import VLLMOfflineProvider
from evals.secrets import read_key

_DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}


class MissingKeyError(UsageError, RuntimeError):
    pass


def api_key(profile: RunnerProfile) -> str | None:
    """The runner's key from the environment; hosted APIs without one fail here, before any run is created."""
    key_env = profile.api_key_env or _DEFAULT_KEY_ENV.get(profile.provider)
    key = read_key(key_env, default="sim-key" if profile.simulated else None)
    # Hosted APIs always need a key; a self-hosted server needs one when the profile names its variable.
    if key is None and (profile.provider in ("openai", "anthropic") or profile.api_key_env):
        raise MissingKeyError(f"runner {profile.name!r}: set the environment variable {key_env} to your API key (it is never written anywhere)")
    return key


def make_providers(profile: RunnerProfile, sim_base_url: str | None = None) -> list[Provider]:
    """`sim_base_url` is where the simulated server listens, for simulated runners without a base_url."""
    if profile.provider == "vllm_offline":  # in-process engine: no URL, no key
        return [VLLMOfflineProvider(name=profile.name, model=profile.model, engine=profile.engine or {})]
    protocol = profile.simulate.protocol if profile.simulate else profile.provider
    urls = profile.urls() or ([sim_base_url] if profile.simulated and sim_base_url else [None])
    key = api_key(profile)
    conns = max(profile.concurrency, 16)
    out: list[Provider] = []
    for url in urls:
        if protocol == "anthropic":
            out.append(AnthropicProvider(name=profile.name, model=profile.model, base_url=url, api_key=key, timeouts=profile.timeouts, max_connections=conns, stream=profile.stream))
        else:
            oa_url = f"{url.rstrip('/')}/v1" if profile.simulated and url and not url.rstrip("/").endswith("/v1") else url
            out.append(
                OpenAIChatProvider(
                    name=profile.name,
                    model=profile.model,
                    base_url=oa_url,
                    api_key=key,
                    timeouts=profile.timeouts,
                    # api.openai.com deprecated max_tokens for chat; servers such as vLLM accept both.
                    max_tokens_field="max_completion_tokens" if profile.provider == "openai" else "max_tokens",
                    max_connections=conns,
                    stream=profile.stream,
                )
            )
    return out
