"""The request key: what makes two requests the same request, for resume."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from evals.config import RunnerProfile

_WHERE_IT_LISTENS = {"port", "host", "health_path", "health_timeout_s", "stop_timeout_s"}


def request_identity(profile: RunnerProfile) -> dict[str, Any]:
    """Everything about a runner that changes its answers. A simulated or launched
    runner's port changes every start, so its behaviour or launch block (less
    what only decides where and how long it listens) stands in for its URL; an
    offline runner has no URL, its engine settings stand in."""
    urls: Any = sorted(profile.urls())
    if profile.simulated and profile.simulate is not None:
        # how a batch is delivered changes no answer; a simulator without flakiness keys as it did before the knob
        urls = ["simulated", profile.simulate.model_dump(mode="json", exclude={"batch"} | ({"flakiness"} if not profile.simulate.flakiness else set()))]
    elif profile.launch is not None:
        urls = ["launched", profile.launch.model_dump(mode="json", exclude=_WHERE_IT_LISTENS)]
    elif profile.provider == "vllm_offline":
        urls = ["offline", profile.engine or {}]
    return {
        "provider": profile.provider,
        "base_urls": urls,
        "model": profile.model,
        "params": profile.params.model_dump(mode="json", exclude_none=True),
    }


def request_key(identity: dict[str, Any], messages: list[dict[str, Any]], request: dict[str, Any] | None = None, epoch: int = 1) -> str:
    """`request` is what the sample's request sends besides its messages (Sample.request_fields: tools,
    tool_choice, response_format, its own settings); only fields that are set enter the key, so a sample
    without them keeps the key it had before they existed.

    `epoch`: the how-manieth time a sampling runner is sent this request. Epochs after the first key
    apart, so a stored answer is reused only as the answer of the same epoch, never as another draw."""
    extra = {"epoch": epoch} if epoch > 1 else {}
    blob = json.dumps({**identity, "messages": messages, **(request or {}), **extra}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def samples_model(protocol: str, temperature: float | None) -> bool:
    """Whether two identical requests can get different answers: a temperature above 0, or one the
    request does not set (the server's default, 1.0 for OpenAI's API), or the Anthropic Messages API,
    whose SDK 2.x takes no temperature at all."""
    return protocol == "anthropic" or temperature is None or temperature > 0


def epochs_for(profile: RunnerProfile, suite_epochs: int, override: int | None = None) -> int:
    """Epochs asked for this runner: `--epochs`, else its profile's `epochs:`, else the suite's."""
    return override or profile.epochs or suite_epochs
