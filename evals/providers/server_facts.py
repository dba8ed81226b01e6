"""What an OpenAI-compatible server says about itself, recorded with a run.

A report on a self-hosted model is only as good as what it says about the
deployment: which vLLM version, which models and context length, and what the
server itself counted while the suite ran (tokens, preemptions, prefix-cache
hits, queueing, KV-cache pressure). Those come from `/version`, `/v1/models`
and the Prometheus text at `/metrics`, scraped before and after the run.

Everything here is best-effort: a server without `/metrics` or `/version`
(llama.cpp without --metrics, Ollama, TGI's differently named metrics) simply
yields fewer facts, and scraping never raises.

The counters are server-wide: if other clients use the server during the run,
their traffic is in the deltas too, and runners sharing one server see the
same numbers (each row says which runners shared it).
"""

from __future__ import annotations

import http.client
import json
import math
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from evals.config import RunnerProfile
from evals.providers.factory import api_key

# ---------------------------------------------------------------- Prometheus text format


class PrometheusParseError(ValueError):
    """A line of a /metrics page is not in the Prometheus text exposition format."""


@dataclass
class Exposition:
    """One parsed /metrics page: its metric families (name, type, help, samples), as
    prometheus_client's parser groups them."""

    families: list[Metric]

    def find(self, name: str) -> list[Sample]:
        """Every sample named `name` (e.g. `vllm:prompt_tokens_total`), across families and label sets."""
        return [s for f in self.families for s in f.samples if s.name == name]

    def total(self, name: str) -> float | None:
        """Sum over every label set (engines, models, finish reasons); None if absent."""
        found = self.find(name)
        return sum(s.value for s in found) if found else None

    def mean(self, name: str) -> float | None:
        """Mean over label sets: for gauges such as a per-engine KV-cache usage."""
        found = self.find(name)
        return sum(s.value for s in found) / len(found) if found else None


def parse_prometheus(text: str) -> Exposition:
    """Parse a /metrics page with prometheus_client's text-format parser.

    The parser says what is wrong but not where; a page it rejects is parsed
    again line by line, so the error names the first line it cannot read."""
    try:
        return Exposition(list(text_string_to_metric_families(text)))
    except ValueError as e:
        for lineno, line in enumerate(text.splitlines(), 1):
            try:
                list(text_string_to_metric_families(line))
            except ValueError as bad:
                raise PrometheusParseError(f"line {lineno}: {bad}: {line!r}") from None
        raise PrometheusParseError(f"not in the Prometheus text format: {e}") from None


# ---------------------------------------------------------------- what a run needs from /metrics

# Per fact, the sample names to look for, first found wins: vLLM V1, then names
# vLLM used before (gpu_ prefixed, deprecated in 0.10), then SGLang's.
COUNTERS: dict[str, tuple[str, ...]] = {
    "prompt_tokens": ("vllm:prompt_tokens_total", "sglang:prompt_tokens_total"),
    "generation_tokens": ("vllm:generation_tokens_total", "sglang:generation_tokens_total"),
    "preemptions": ("vllm:num_preemptions_total",),
    "prefix_cache_queries": ("vllm:prefix_cache_queries_total", "vllm:gpu_prefix_cache_queries_total"),
    "prefix_cache_hits": ("vllm:prefix_cache_hits_total", "vllm:gpu_prefix_cache_hits_total"),
    "requests_finished": ("vllm:request_success_total",),
    "queue_time_sum_s": ("vllm:request_queue_time_seconds_sum",),
    "queue_time_count": ("vllm:request_queue_time_seconds_count",),
    "ttft_sum_s": ("vllm:time_to_first_token_seconds_sum", "sglang:time_to_first_token_seconds_sum"),
    "ttft_count": ("vllm:time_to_first_token_seconds_count", "sglang:time_to_first_token_seconds_count"),
}
GAUGES: dict[str, tuple[str, ...]] = {
    "kv_cache_usage": ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc", "sglang:token_usage"),
    "requests_running": ("vllm:num_requests_running", "sglang:num_running_reqs"),
    "requests_waiting": ("vllm:num_requests_waiting", "sglang:num_queue_reqs"),
}
_AVERAGED = {"kv_cache_usage"}
"""A fraction per engine: averaged over engines, where request counts add up."""


def snapshot(exp: Exposition) -> dict[str, float]:
    """The counters and gauges a run cares about, from one /metrics page; absent ones are left out."""
    out: dict[str, float] = {}
    for fact, names in {**COUNTERS, **GAUGES}.items():
        for name in names:
            value = exp.mean(name) if fact in _AVERAGED else exp.total(name)
            if value is not None and not math.isnan(value):
                out[fact] = value
                break
    return out


def _ratio(num: float | None, den: float | None) -> float | None:
    return num / den if num is not None and den else None


def metric_deltas(before: dict[str, float], after: dict[str, float]) -> dict[str, float | None]:
    """What the server counted between two snapshots, plus its gauges afterwards.

    A counter missing before but present after started from 0 (Prometheus
    clients create a labelled series on its first increment). A counter that
    went down means the server restarted in between; its delta is unknown
    (None), never negative.
    """
    d: dict[str, float | None] = {}
    for fact in COUNTERS:
        if fact in after:
            diff = after[fact] - before.get(fact, 0.0)
            d[fact] = diff if diff >= 0 else None
    out: dict[str, float | None] = {k: d.get(k) for k in ("prompt_tokens", "generation_tokens", "preemptions", "prefix_cache_queries", "prefix_cache_hits", "requests_finished")}
    out["prefix_cache_hit_rate"] = _ratio(d.get("prefix_cache_hits"), d.get("prefix_cache_queries"))
    out["queue_time_mean_s"] = _ratio(d.get("queue_time_sum_s"), d.get("queue_time_count"))
    out["ttft_mean_s"] = _ratio(d.get("ttft_sum_s"), d.get("ttft_count"))
    for fact in GAUGES:
        out[f"{fact}_after"] = after.get(fact)
    return {k: v for k, v in out.items() if v is not None}


# ---------------------------------------------------------------- scraping

_TIMEOUT_S = 3.0


def server_root(base_url: str) -> str:
    """`http://host:8000/v1` -> `http://host:8000`: /metrics, /version and /health live at the root."""
    url = base_url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def _get(url: str, api_key: str | None) -> tuple[int | None, str]:
    """(HTTP status, body), or (None, why) when nothing answered."""
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {api_key}"} if api_key else {})
    try:
        with urllib.request.urlopen(req, timeout=_TIMEOUT_S) as resp:
            return int(resp.status), resp.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, ""
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as e:
        return None, str(getattr(e, "reason", e)) or type(e).__name__


def _json(body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def describe_server(base_url: str, api_key: str | None) -> dict[str, Any]:
    """Version (GET /version, as vLLM serves it) and served models (GET /v1/models,
    with vLLM's `max_model_len`). What a server does not answer is noted, not fatal."""
    root = server_root(base_url)
    facts: dict[str, Any] = {"version": None, "models": [], "unavailable": {}}
    status, body = _get(f"{root}/version", api_key)
    version = _json(body) if status == 200 else None
    if isinstance(version, dict) and isinstance(version.get("version"), str):
        facts["version"] = version["version"]
    else:
        facts["unavailable"]["version"] = status if status is not None else body
    status, body = _get(f"{base_url.rstrip('/')}/models", api_key)
    listed = _json(body) if status == 200 else None
    if isinstance(listed, dict) and isinstance(listed.get("data"), list):
        facts["models"] = [
            {"id": m.get("id"), **({"max_model_len": m["max_model_len"]} if isinstance(m.get("max_model_len"), int) else {})}
            for m in listed["data"]
            if isinstance(m, dict)
        ]
    else:
        facts["unavailable"]["models"] = status if status is not None else body
    return facts


def scrape_metrics(base_url: str, api_key: str | None) -> tuple[dict[str, float] | None, str | None]:
    """(snapshot, None), or (None, why there is none)."""
    status, body = _get(f"{server_root(base_url)}/metrics", api_key)
    if status != 200:
        return None, f"GET /metrics: {status if status is not None else body}"
    try:
        return snapshot(parse_prometheus(body)), None
    except PrometheusParseError as e:
        return None, f"GET /metrics: {e}"


# ---------------------------------------------------------------- one run's servers

FactRow = tuple[str, str, str, dict[str, Any]]
"""(runner, base_url, kind, data): one row of the store's server_facts table."""


class RunServers:
    """The distinct OpenAI-compatible endpoints of a run: described and scraped
    once before the run (`before`), scraped again after it (`facts_after`)."""

    def __init__(self, profiles: Sequence[RunnerProfile]) -> None:
        self._runners: dict[str, list[str]] = {}
        self._keys: dict[str, str | None] = {}
        for p in profiles:
            if p.provider != "openai_compatible":
                continue
            for url in p.urls():
                self._runners.setdefault(url, []).append(p.name)
                self._keys.setdefault(url, api_key(p))
        self._servers: dict[str, dict[str, Any]] = {}
        self._before: dict[str, tuple[dict[str, float] | None, str | None]] = {}

    def before(self) -> None:
        for url, key in self._keys.items():
            self._servers[url] = describe_server(url, key)
            self._before[url] = scrape_metrics(url, key)

    def facts_after(self, usage_missing: dict[tuple[str, str], int]) -> list[FactRow]:
        """Rows for every runner and URL: `server` (version, models), `metrics`
        (deltas over the run, or why there are none) and, where ok answers came
        without token counts, `usage_missing`. `usage_missing` maps (runner,
        base_url) to the number of such answers."""
        rows: list[FactRow] = []
        for url, runners in self._runners.items():
            if url not in self._before:
                continue
            first, why_not_before = self._before[url]
            last, why_not_after = scrape_metrics(url, self._keys[url])
            if first is not None and last is not None:
                metrics: dict[str, Any] = {"deltas": metric_deltas(first, last)}
            else:
                metrics = {"deltas": {}, "unavailable": why_not_before or why_not_after}
            shared = {"shared_with": runners} if len(runners) > 1 else {}
            for runner in runners:
                rows.append((runner, url, "server", {**self._servers[url], **shared}))
                rows.append((runner, url, "metrics", {**metrics, **shared}))
                n = usage_missing.get((runner, url), 0)
                if n:
                    rows.append((runner, url, "usage_missing", {"answers": n, "note": USAGE_MISSING_NOTE}))
        return rows


USAGE_MISSING_NOTE = (
    "usage_missing: the server sent no token counts with these answers (no usage chunk in the stream, "
    "as older TGI and Ollama do); their tokens are unknown (null, not 0). Self-hosted cost is per hour "
    "and does not depend on them; set `stream: false` on the runner to get counts without time to first token."
)
