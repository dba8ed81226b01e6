"""The simulated server's GET /metrics: vLLM's metric names, fed by what the
simulator serves, so the server-facts scraper meets in tests what it meets on
a real vLLM (Prometheus text, `engine` and `model_name` labels, `_total`
counters, cumulative histograms).

What a simulator cannot know is made plausible, never random: there is no
scheduler queue (queue time 0, nothing waiting, no preemptions); the prefix
cache hits when a request repeats the messages before its last one (a shared
system prompt), counting those tokens; KV-cache usage is the tokens of the
requests in flight over a fixed capacity.
"""

from __future__ import annotations

import bisect
import json
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from evals.sim import behaviour as bh

KV_CAPACITY_TOKENS = 262_144
"""KV-cache blocks the simulated server pretends to have, in tokens."""

_MAX_PREFIXES = 65_536
"""Prefixes remembered before the simulated cache is emptied (eviction)."""

_TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)
_REQUEST_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0)
_FINISH_REASONS = ("stop", "length", "abort")


@dataclass
class _Histogram:
    bounds: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    n: int = 0

    def observe(self, value: float) -> None:
        if not self.counts:
            self.counts = [0] * len(self.bounds)
        i = bisect.bisect_left(self.bounds, value)
        if i < len(self.counts):
            self.counts[i] += 1
        self.total += value
        self.n += 1

    def lines(self, name: str, labels: str) -> list[str]:
        out, running = [], 0
        counts = self.counts or [0] * len(self.bounds)
        for bound, c in zip(self.bounds, counts):
            running += c
            out.append(f'{name}_bucket{{{labels},le="{bound!r}"}} {float(running)!r}')
        out.append(f'{name}_bucket{{{labels},le="+Inf"}} {float(self.n)!r}')
        out.append(f"{name}_sum{{{labels}}} {self.total!r}")
        out.append(f"{name}_count{{{labels}}} {float(self.n)!r}")
        return out


@dataclass
class _Model:
    prompt_tokens: int = 0
    generation_tokens: int = 0
    prefix_queries: int = 0
    prefix_hits: int = 0
    running: int = 0
    kv_tokens: int = 0
    finished: Counter[str] = field(default_factory=Counter)
    ttft: _Histogram = field(default_factory=lambda: _Histogram(_TTFT_BUCKETS))
    e2e: _Histogram = field(default_factory=lambda: _Histogram(_REQUEST_BUCKETS))
    queue: _Histogram = field(default_factory=lambda: _Histogram(_REQUEST_BUCKETS))


def prefix_of(body: dict[str, Any]) -> tuple[str | None, int]:
    """(identity, tokens) of what a request shares with earlier ones: its system
    prompt and every message before the last; (None, 0) when there is none."""
    messages = body.get("messages")
    earlier = messages[:-1] if isinstance(messages, list) else []
    system = body.get("system")
    tokens = bh.prompt_tokens(earlier, system)
    if not tokens:
        return None, 0
    return json.dumps([system, earlier], sort_keys=True, separators=(",", ":"), ensure_ascii=False), tokens


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class SimMetrics:
    """Per-model counters, written by the server's loop and read by GET /metrics (or any thread)."""

    def __init__(self, models: Iterable[str]) -> None:
        self._lock = threading.Lock()
        self._models: dict[str, _Model] = {name: _Model() for name in models}  # every series exists from the start, as in vLLM
        self._prefixes: set[str] = set()

    def started(self, model: str, prompt_tokens: int, prefix: tuple[str | None, int], kv_tokens: int) -> None:
        """A request was admitted: its prompt is prefilled now, its tokens occupy the KV cache."""
        key, prefix_tokens = prefix
        with self._lock:
            m = self._models.setdefault(model, _Model())
            m.prompt_tokens += prompt_tokens
            m.prefix_queries += prompt_tokens
            if key is not None:
                if key in self._prefixes:
                    m.prefix_hits += prefix_tokens
                elif len(self._prefixes) >= _MAX_PREFIXES:
                    self._prefixes.clear()
                self._prefixes.add(key)
            m.running += 1
            m.kv_tokens += kv_tokens
            m.queue.observe(0.0)

    def finished(self, model: str, *, kv_tokens: int, generation_tokens: int, reason: str, ttft_s: float, e2e_s: float) -> None:
        with self._lock:
            m = self._models[model]
            m.running -= 1
            m.kv_tokens -= kv_tokens
            m.generation_tokens += generation_tokens
            m.finished[reason] += 1
            m.ttft.observe(ttft_s)
            m.e2e.observe(e2e_s)

    def render(self) -> str:
        """The Prometheus text exposition (version 0.0.4), with vLLM's names and help texts."""
        with self._lock:
            models = {name: _copy(m) for name, m in sorted(self._models.items())}
        labels = {name: f'engine="0",model_name="{_escape(name)}"' for name in models}
        out = ["# SIMULATED: evals sim counts what it served; these are not a real engine's figures."]

        def family(name: str, kind: str, help_: str, rows: list[str]) -> None:
            out.extend([f"# HELP {name} {help_}", f"# TYPE {name} {kind}", *rows])

        def per_model(metric: str, value: Any) -> list[str]:
            return [f"{metric}{{{labels[n]}}} {float(value(m))!r}" for n, m in models.items()]

        family("vllm:num_requests_running", "gauge", "Number of requests in model execution batches.", per_model("vllm:num_requests_running", lambda m: m.running))
        family("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.", per_model("vllm:num_requests_waiting", lambda m: 0))
        family("vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.", per_model("vllm:kv_cache_usage_perc", lambda m: min(1.0, m.kv_tokens / KV_CAPACITY_TOKENS)))
        family("vllm:num_preemptions_total", "counter", "Cumulative number of preemption from the engine.", per_model("vllm:num_preemptions_total", lambda m: 0))
        family("vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.", per_model("vllm:prompt_tokens_total", lambda m: m.prompt_tokens))
        family("vllm:generation_tokens_total", "counter", "Number of generation tokens processed.", per_model("vllm:generation_tokens_total", lambda m: m.generation_tokens))
        family("vllm:prefix_cache_queries_total", "counter", "Prefix cache queries, in terms of number of queried tokens.", per_model("vllm:prefix_cache_queries_total", lambda m: m.prefix_queries))
        family("vllm:prefix_cache_hits_total", "counter", "Prefix cache hits, in terms of number of cached tokens.", per_model("vllm:prefix_cache_hits_total", lambda m: m.prefix_hits))
        success = [f'vllm:request_success_total{{{labels[n]},finished_reason="{r}"}} {float(m.finished[r])!r}' for n, m in models.items() for r in _FINISH_REASONS]
        family("vllm:request_success_total", "counter", "Count of successfully processed requests.", success)
        for name, help_, attr in (
            ("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", "ttft"),
            ("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", "e2e"),
            ("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", "queue"),
        ):
            family(name, "histogram", help_, [line for n, m in models.items() for line in getattr(m, attr).lines(name, labels[n])])
        return "\n".join(out) + "\n"


def _copy(m: _Model) -> _Model:
    """A snapshot, so rendering happens outside the lock."""
    return _Model(
        m.prompt_tokens, m.generation_tokens, m.prefix_queries, m.prefix_hits, m.running, m.kv_tokens, Counter(m.finished),
        *(_Histogram(h.bounds, list(h.counts), h.total, h.n) for h in (m.ttft, m.e2e, m.queue)),
    )
