"""Map SDK exceptions to failure data the executor can act on.

Both SDKs share one exception family shape (APIStatusError with a response,
APIConnectionError, APITimeoutError), so one mapping serves both.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx2

from evals.providers.base import Completion, Status, Usage
from evals.secrets import scrub

# error kinds the executor retries; everything else is final
RETRYABLE = frozenset({"rate_limit", "server", "connection", "timeout_connect", "timeout_idle", "dropped_stream", "request_timeout"})


def parse_retry_after(headers: Any) -> float | None:
    """Seconds to wait from `retry-after-ms` or `retry-after` (seconds or HTTP date)."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    ra = headers.get("retry-after")
    if not ra:
        return None
    try:
        return float(ra)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(ra) if ra else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def _body_text(exc: Any) -> str:
    body = getattr(exc, "body", None)
    return str(body) if body is not None else ""


def from_exception(exc: BaseException, *, sdk: Any, started: float, got_content: bool) -> Completion:
    """One failed attempt as data. `sdk` is the `openai` or `anthropic` module."""
    latency_ms = (time.perf_counter() - started) * 1000
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
        return Completion(
            status=Status.error,
            error=msg,
            error_kind=kind,
            http_status=status_code,
            retry_after_s=parse_retry_after(headers),
            timing={"latency_ms": latency_ms},
        )
    # Anthropic's stream iterator lets the transport's own exceptions through unwrapped.
    if isinstance(exc, (sdk.APITimeoutError, httpx2.TimeoutException)):
        kind = "timeout_idle" if got_content else "timeout_connect"
        return Completion(status=Status.timeout, error=msg, error_kind=kind, timing={"latency_ms": latency_ms})
    if isinstance(exc, sdk.APIConnectionError) or isinstance(exc, (ConnectionError, OSError)):
        if got_content:
            return Completion(status=Status.truncated, error=msg, error_kind="dropped_stream", timing={"latency_ms": latency_ms})
        return Completion(status=Status.error, error=msg, error_kind="connection", timing={"latency_ms": latency_ms})
    # A stream that broke mid-way surfaces as a transport error from httpx2/aiohttp.
    if got_content:
        return Completion(status=Status.truncated, error=msg, error_kind="dropped_stream", timing={"latency_ms": latency_ms})
    return Completion(status=Status.error, error=msg, error_kind="connection", timing={"latency_ms": latency_ms})


def timing(started: float, first: float | None, output_tokens: int | None) -> dict[str, float | None]:
    end = time.perf_counter()
    ttft = (first - started) * 1000 if first is not None else None
    tps = None
    if first is not None and output_tokens and output_tokens > 1 and end - first > 0:
        tps = (output_tokens - 1) / (end - first)
    return {"ttft_ms": ttft, "latency_ms": (end - started) * 1000, "output_tps": tps}


def stream_outcome(
    *, text: str, usage: Usage, finish: str | None, statuses: dict[str, Status], served: str | None, started: float, first: float | None, missing: str
) -> Completion:
    """A stream that ended: graded by its finish reason, or `truncated` when the closing event (`missing`) never came."""
    t = timing(started, first, usage.output_tokens)
    if finish is None:
        return Completion(status=Status.truncated, text=text, usage=usage, error=f"stream ended without {missing}", error_kind="dropped_stream", timing=t, served_model=served)
    return Completion(status=statuses.get(finish, Status.ok), text=text, finish_reason=finish, usage=usage, timing=t, served_model=served)


def total_timeout(total_s: float, started: float, first: float | None, text: str = "") -> Completion:
    return Completion(
        status=Status.timeout, text=text, error=f"no complete answer within the total timeout of {total_s:g}s", error_kind="timeout_total", timing=timing(started, first, None)
    )
