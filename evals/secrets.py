"""Keep API keys out of everything we write.

Keys are read from the environment at the moment a client is built and live
only in that client. Every error message we store passes through `scrub`,
which removes the keys we know of and anything shaped like a provider key.
"""

from __future__ import annotations

import os
import re

_KEY_SHAPES = re.compile(
    r"(sk-ant-[A-Za-z0-9_\-]{8,}|sk-(?:proj-)?[A-Za-z0-9_\-]{16,}|AKIA[0-9A-Z]{16}|"
    r"(?i:bearer)\s+[A-Za-z0-9._\-]{12,}|x-api-key['\"]?\s*[:=]\s*['\"]?[A-Za-z0-9._\-]{8,})"
)

_known: set[str] = set()


def read_key(env_var: str | None, default: str | None = None) -> str | None:
    """The key named by `env_var`, remembered so `scrub` can remove it verbatim."""
    key = os.environ.get(env_var) if env_var else None
    key = key or default
    if key and len(key) >= 6:
        _known.add(key)
    return key


def scrub(text: str | None, limit: int = 2000) -> str | None:
    if text is None:
        return None
    for k in _known:
        text = text.replace(k, "[REDACTED]")
    text = _KEY_SHAPES.sub("[REDACTED]", text)
    return text[:limit]
