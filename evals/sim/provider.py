"""The simulated endpoints as a provider like any other: `serve` starts the
simulated server in this process for the runners that give no base_url, and
each replica talks to it through the real openai or anthropic SDK, whichever
protocol the runner's `simulate:` block names."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Iterator

from evals.config import ConfigError
from evals.providers.registry import _anthropic_messages, _openai_chat, provider

if TYPE_CHECKING:
    from evals.config import RunnerProfile, SimBehaviour
    from evals.providers.base import Provider
    from evals.suite.sample import Sample


@contextlib.contextmanager
def serve(runners: list[RunnerProfile], samples: list[Sample]) -> Iterator[str | None]:
    from evals.sim.server import SimServer

    models: dict[str, SimBehaviour] = {}
    for r in runners:
        assert r.simulate is not None
        if r.model in models and models[r.model] != r.simulate:
            raise ConfigError(f"simulated runners share the model name {r.model!r} with different behaviour; give each its own model name")
        models[r.model] = r.simulate
    server = SimServer(models, samples)
    server.start()
    try:
        yield server.base_url
    finally:
        server.stop()


@provider("simulated", default_key="sim-key", serve=serve)
def simulated(profile: RunnerProfile, url: str | None, key: str | None) -> Provider:
    assert profile.simulate is not None
    if profile.simulate.protocol == "anthropic":
        return _anthropic_messages(profile, url, key)
    oa_url = f"{url.rstrip('/')}/v1" if url and not url.rstrip("/").endswith("/v1") else url
    return _openai_chat(profile, oa_url, key)
