"""Providers by name: the built-ins, installed packages' (entry point group
`workload_evals.providers`) and nothing special-cased elsewhere.

A provider is registered with a factory that builds the client for one
replica of a runner profile. A provider may also declare `serve`: a context
manager that starts what its runners need for the time of a run (the
simulated server does this) and yields the base URL for runners that give
none. The run orchestrator enters every declared `serve` the same way, so it
knows no provider by name.

Factories import their SDK when called: registering (and `evals --help`)
stays import-light.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, ContextManager, Iterator

from evals.registry import Registry, origin_of

if TYPE_CHECKING:
    from evals.config import RunnerProfile
    from evals.providers.base import Provider
    from evals.suite.sample import Sample

MakeProvider = Callable[["RunnerProfile", "str | None", "str | None"], "Provider"]
"""(profile, base URL of one replica or None, API key or None) -> the provider for that replica."""
Serve = Callable[[list["RunnerProfile"], list["Sample"]], ContextManager["str | None"]]


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    make: MakeProvider
    key_env: str | None = None
    """The environment variable its key is read from by default; when set, a key is required."""
    default_key: str | None = None
    """The key used when none is set and none is required (the simulator accepts any)."""
    serve: Serve | None = None


def _load_builtins() -> None:
    import evals.sim.provider  # noqa: F401  (registers `simulated`)


PROVIDERS: Registry[ProviderSpec] = Registry("provider", _load_builtins)


def provider(name: str, *, key_env: str | None = None, default_key: str | None = None, serve: Serve | None = None) -> Callable[[MakeProvider], MakeProvider]:
    """Register a provider factory under `name` (a second, different one under that name is an error)."""

    def deco(make: MakeProvider) -> MakeProvider:
        PROVIDERS.add(name, ProviderSpec(name, make, key_env, default_key, serve), origin_of(make))
        return make

    return deco


def spec(name: str) -> ProviderSpec:
    return PROVIDERS.get(name).item


def names() -> list[str]:
    return sorted(PROVIDERS.entries())


@contextlib.contextmanager
def services(runners: list[RunnerProfile], samples: list[Sample]) -> Iterator[dict[str, str]]:
    """Enter the `serve` of every provider whose runners give no base URL; yields runner name -> URL."""
    by_provider: dict[str, list[RunnerProfile]] = {}
    for r in runners:
        if not r.urls() and spec(r.provider).serve is not None:
            by_provider.setdefault(r.provider, []).append(r)
    urls: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        for name, group in by_provider.items():
            serve = spec(name).serve
            assert serve is not None
            url = stack.enter_context(serve(group, samples))
            if url is not None:
                urls.update({r.name: url for r in group})
        yield urls


# ---------------------------------------------------------------- built-ins


def _openai_chat(profile: RunnerProfile, url: str | None, key: str | None, *, max_tokens_field: str = "max_tokens") -> Provider:
    """The SDK client, or the lean aiohttp one when the profile says `client: lean` (config allows
    that only for self-hosted and simulated OpenAI-protocol runners)."""
    cls: type[Provider]
    if profile.client == "lean":  # no SDK imported: 0.75 s of a run's start here
        from evals.providers.openai_lean import LeanOpenAIProvider

        cls = LeanOpenAIProvider
    else:
        from evals.providers.openai_chat import OpenAIChatProvider

        cls = OpenAIChatProvider
    return cls(
        name=profile.name, model=profile.model, base_url=url, api_key=key, timeouts=profile.timeouts,
        max_tokens_field=max_tokens_field, max_connections=max(profile.concurrency, 16), stream=profile.stream,
    )


def _anthropic_messages(profile: RunnerProfile, url: str | None, key: str | None) -> Provider:
    from evals.providers.anthropic_messages import AnthropicProvider

    return AnthropicProvider(
        name=profile.name, model=profile.model, base_url=url, api_key=key, timeouts=profile.timeouts,
        max_connections=max(profile.concurrency, 16), stream=profile.stream,
    )


@provider("openai_compatible")
def openai_compatible(profile: RunnerProfile, url: str | None, key: str | None) -> Provider:
    """vLLM, SGLang, TGI, llama.cpp, Ollama...: the openai SDK with the server's base URL."""
    return _openai_chat(profile, url, key)


@provider("openai", key_env="OPENAI_API_KEY")
def openai(profile: RunnerProfile, url: str | None, key: str | None) -> Provider:
    # api.openai.com deprecated max_tokens for chat; servers such as vLLM accept both.
    return _openai_chat(profile, url, key, max_tokens_field="max_completion_tokens")


@provider("anthropic", key_env="ANTHROPIC_API_KEY")
def anthropic(profile: RunnerProfile, url: str | None, key: str | None) -> Provider:
    return _anthropic_messages(profile, url, key)


@provider("vllm_offline")
def vllm_offline(profile: RunnerProfile, url: str | None, key: str | None) -> Provider:
    """vLLM's async engine in this process: no URL, no key."""
    from evals.providers.vllm_offline import VLLMOfflineProvider

    return VLLMOfflineProvider(name=profile.name, model=profile.model, engine=profile.engine or {}, timeouts=profile.timeouts)
