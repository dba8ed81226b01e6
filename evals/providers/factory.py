"""Build the providers of a runner profile: one per base URL (replica), through the provider registry."""

from __future__ import annotations

from evals.config import RunnerProfile
from evals.errors import UsageError
from evals.providers.base import Provider
from evals.providers.registry import spec
from evals.secrets import read_key


class MissingKeyError(UsageError, RuntimeError):
    pass


def api_key(profile: RunnerProfile) -> str | None:
    """The runner's key from the environment; hosted APIs without one fail here, before any run is created."""
    s = spec(profile.provider)
    key_env = profile.api_key_env or s.key_env
    key = read_key(key_env, default=s.default_key)
    # Hosted APIs always need a key; a self-hosted server needs one when the profile names its variable.
    if key is None and (s.key_env or profile.api_key_env):
        raise MissingKeyError(f"runner {profile.name!r}: set the environment variable {key_env} to your API key (it is never written anywhere)")
    return key


def make_providers(profile: RunnerProfile, service_url: str | None = None) -> list[Provider]:
    """`service_url` is where the provider's own service listens (the simulated server), for runners without a base_url."""
    s = spec(profile.provider)
    key = api_key(profile)
    urls: list[str | None] = [*profile.urls()] or [service_url]
    return [s.make(profile, url, key) for url in urls]
