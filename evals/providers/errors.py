"""Map SDK exceptions to failure data the executor can act on.

Both SDKs share one exception family shape (APIStatusError with a response,
APIConnectionError, APITimeoutError), so one mapping serves both.
"""

from __future__ import annotations

import email.utils
import math
import time
from typing import Any

import httpx2

from evals.providers.base import Completion, Status
from evals.secrets import scrub

# error kinds the executor retries; everything else is final
RETRYABLE = frozenset({"rate_limit", "server", "connection", "timeout_connect", "timeout_idle", "dropped_stream", "request_timeout", "empty_stream"})
"""Transient failures. `empty_stream` is one: llama-cpp-python's server (0.3.36) answers every stream
but one that arrive together with a role chunk and [DONE], no content and no finish (see
benchmarks/interop_llamacpp.py); sent again, the request is answered. Not counted by the breaker:
those empty answers come back at once while the one stream served is still generating, so the first
attempts of a healthy server can all be empty."""


def parse_retry_after(headers: Any) -> float | None:
    """Seconds to wait from `retry-after-ms` or `retry-after` (seconds or HTTP date).
    `inf` and huge values are kept as given (the retry policy refuses to wait that
    long); a negative or past value is 0; NaN and garbage are no value."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        v = _seconds(ms)
        if v is not None:
            return v / 1000.0
    ra = headers.get("retry-after")
    if not ra:
        return None
    v = _seconds(ra)
    if v is not None:
        return v
    try:
        parsed = email.utils.parsedate_to_datetime(ra)
    except (TypeError, ValueError):
        return None
    return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def _seconds(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None
    return None if math.isnan(v) else max(0.0, v)


def _body_text(exc: Any) -> str:
    body = getattr(exc, "body", None)
    return str(body) if body is not None else ""


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and everything it was raised from: the SDKs wrap transport errors twice."""
    out: list[BaseException] = []
    x: BaseException | None = exc
    while x is not None and len(out) < 10:
        out.append(x)
        x = x.__cause__ or x.__context__
    return out


def is_refused(exc: BaseException) -> bool:
    """Nothing listens at the address. Both SDKs' aiohttp transports report this
    as a connect *timeout* (openai) or connect error (anthropic); the cause says what happened."""
    return any(isinstance(x, ConnectionRefusedError) for x in _chain(exc))


def is_stale(exc: BaseException) -> bool:
    """A pooled keep-alive connection that the server had already closed: the request
    was written into a dying socket (llama.cpp's llama-server closes after each
    streamed response while announcing keep-alive) and never reached the server."""
    import aiohttp  # the SDKs' transport, loaded already by any client that got this far

    for x in _chain(exc):
        if isinstance(x, (aiohttp.ServerDisconnectedError, aiohttp.ClientConnectionResetError, httpx2.RemoteProtocolError, ConnectionResetError, BrokenPipeError)):
            return True
        if isinstance(x, aiohttp.ClientOSError) and "Can not write request body" in str(x):
            return True
    return False


def from_exception(exc: BaseException, *, sdk: Any, got_content: bool, base_url: str | None = None) -> Completion:
    """One failed attempt as data. `sdk` is the `openai` or `anthropic` module.
    Timing is left for the caller (the stream driver owns the clock)."""
    msg = scrub(f"{type(exc).__name__}: {exc}")
    status_code = getattr(exc, "status_code", None)
    if isinstance(exc, sdk.APIStatusError):
        headers = getattr(exc.response, "headers", None)
        body = _body_text(exc).lower()
        if status_code == 429:
            quota = "insufficient_quota" in body or "quota" in body and "exceeded your current quota" in body
            kind = "quota" if quota else "rate_limit"
        elif status_code == 408:
            kind = "request_timeout"
        elif status_code in (401, 403):
            kind = "auth"
        elif status_code is not None and status_code >= 500:
            kind = "server"
        elif status_code == 404:
            kind = "not_found"
        else:
            kind = "bad_request"
        return Completion(status=Status.error, error=msg, error_kind=kind, http_status=status_code, retry_after_s=parse_retry_after(headers))
    if not got_content and is_refused(exc):
        where = base_url or "the endpoint"
        return Completion(status=Status.error, error=f"nothing listens on {where}: connection refused", error_kind="connection")
    # Anthropic's stream iterator lets the transport's own exceptions through unwrapped.
    if isinstance(exc, (sdk.APITimeoutError, httpx2.TimeoutException)):
        kind = "timeout_idle" if got_content else "timeout_connect"
        return Completion(status=Status.timeout, error=msg, error_kind=kind)
    # A stream that broke mid-way surfaces as a transport error from httpx2/aiohttp.
    if got_content:
        return Completion(status=Status.truncated, error=msg, error_kind="dropped_stream")
    return Completion(status=Status.error, error=msg, error_kind="connection")
