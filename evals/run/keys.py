"""The request key: what makes two requests the same request, for resume."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from evals.config import RunnerProfile


def request_identity(profile: RunnerProfile) -> dict[str, Any]:
    """Everything about a runner that changes its answers. A simulated runner's
    port changes every start, so its behaviour stands in for its URL."""
    urls: Any = sorted(profile.urls())
    if profile.simulated and profile.simulate is not None:
        urls = ["simulated", profile.simulate.model_dump(mode="json")]
    return {
        "provider": profile.provider,
        "base_urls": urls,
        "model": profile.model,
        "params": profile.params.model_dump(mode="json", exclude_none=True),
    }


def request_key(identity: dict[str, Any], messages: list[dict[str, Any]]) -> str:
    blob = json.dumps({**identity, "messages": messages}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()
