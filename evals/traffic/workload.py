"""The workload profile: how much traffic there is and how big its requests are, per category.

Cost projections need the team's volume and token sizes, not the sample's, so
the profile counts every valid request before deduplication and sampling
(a repeated request is still paid for). Volume comes from the logged
timestamps (divided by `logged_fraction` when the logs hold only a share of
the requests); without them, from the volume the user states; otherwise it is
marked unknown rather than guessed. Token sizes come from logged usage; where
a request has none, characters / 4 stands in and the figure says `estimated`.

The top level (`requests_per_month`, `peak_hour_share`, `source`,
`estimated`) and each category's `share`, `avg_input_tokens` and
`avg_output_tokens` are what cost projections read; p50 and p95 sit beside
the means. Requests per day is the mean over the UTC calendar days that have
requests; per month is that times 30.44. Peak-hour share is the share of a
day's requests that fall in its busiest UTC hour, averaged over those days:
it sizes replicas for the peak rather than the mean.
"""

from __future__ import annotations

from array import array
from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Any

import numpy as np

from evals.traffic.records import Record

DAYS_PER_MONTH = 365.25 / 12
CHARS_PER_TOKEN = 4


def _chars(rec: Record) -> int:
    n = 0
    for m in rec.messages:
        n += len(m.get("content") or "")
        for call in m.get("tool_calls") or ():
            n += len(call["function"]["name"]) + len(call["function"]["arguments"])
    return n


class _Sizes:
    """Token counts of one category and direction, 4 bytes each (a million requests: 4 MB)."""

    def __init__(self) -> None:
        self.values = array("I")
        self.estimated = 0

    def add(self, tokens: int | None, chars: int) -> None:
        if tokens is None:
            tokens = round(chars / CHARS_PER_TOKEN)
            self.estimated += 1
        self.values.append(min(tokens, 0xFFFFFFFF))

    def summary(self) -> dict[str, Any]:
        if not self.values:
            return {"count": 0}
        v = np.frombuffer(self.values, dtype=np.uint32)
        return {
            "count": len(v),
            "mean": round(float(v.mean()), 1),
            "p50": round(float(np.percentile(v, 50)), 1),
            "p95": round(float(np.percentile(v, 95)), 1),
            "estimated": self.estimated > 0,
            "estimated_count": self.estimated,
        }


class WorkloadProfiler:
    """Accumulates the profile one record at a time; memory is 8 bytes per request plus a count per hour."""

    def __init__(self) -> None:
        self._requests: Counter[str] = Counter()
        self._input: defaultdict[str, _Sizes] = defaultdict(_Sizes)
        self._output: defaultdict[str, _Sizes] = defaultdict(_Sizes)
        self._hours: Counter[tuple[str, int]] = Counter()
        self._first: float | None = None
        self._last: float | None = None

    def add(self, rec: Record, category: str) -> None:
        self._requests[category] += 1
        self._input[category].add(rec.input_tokens, _chars(rec))
        if rec.reference is not None:
            self._output[category].add(rec.output_tokens, len(rec.reference))
        if rec.timestamp is not None:
            t = datetime.fromtimestamp(rec.timestamp, tz=UTC)
            self._hours[(t.date().isoformat(), t.hour)] += 1
            self._first = rec.timestamp if self._first is None else min(self._first, rec.timestamp)
            self._last = rec.timestamp if self._last is None else max(self._last, rec.timestamp)

    def profile(self, volume_per_day: float | None, logged_fraction: float = 1.0) -> dict[str, Any]:
        """The profile in the shape the cost projection reads (`requests_per_month`, `peak_hour_share`,
        per-category `share` and `avg_*_tokens`), with the distributions behind it.

        `logged_fraction` is the share of production requests the logs hold: a volume measured from
        timestamps is divided by it (a volume the user gives is production volume already)."""
        total = sum(self._requests.values())
        categories = {}
        for c, n in sorted(self._requests.items()):
            entry: dict[str, Any] = {"requests": n, "share": round(n / total, 4)}
            for direction, sizes in (("input", self._input[c]), ("output", self._output[c])):
                summary = sizes.summary()
                if summary["count"]:
                    entry[f"avg_{direction}_tokens"] = summary["mean"]
                entry[f"{direction}_tokens"] = summary
            categories[c] = entry
        return {"requests": total, **self._volume(total, volume_per_day, logged_fraction), "categories": categories}

    def _volume(self, total: int, volume_per_day: float | None, logged_fraction: float) -> dict[str, Any]:
        per_day: Counter[str] = Counter()
        busiest: Counter[str] = Counter()
        for (day, _), n in self._hours.items():
            per_day[day] += n
            busiest[day] = max(busiest[day], n)
        timed = sum(per_day.values())
        if per_day:
            daily = timed / len(per_day) / logged_fraction
            assert self._first is not None and self._last is not None
            first = datetime.fromtimestamp(self._first, tz=UTC)
            last = datetime.fromtimestamp(self._last, tz=UTC)
            scaled = f"; per-day volume divided by logged_fraction={logged_fraction:g}" if logged_fraction < 1 else ""
            return {
                "volume_from": "timestamps",
                "source": f"evals import: {timed:,} timestamped requests on {len(per_day)} days "
                f"({first.date().isoformat()} to {last.date().isoformat()}){scaled}",
                "estimated": False,
                "requests_per_day": round(daily, 1),
                "requests_per_month": round(daily * DAYS_PER_MONTH, 1),
                "peak_hour_share": round(sum(busiest[d] / per_day[d] for d in per_day) / len(per_day), 4),
                "days_observed": len(per_day),
                "timestamped_requests": timed,
                "untimed_requests": total - timed,
                "logged_fraction": logged_fraction,
                "first": first.isoformat(),
                "last": last.isoformat(),
                "user_volume_per_day": volume_per_day,
            }
        if volume_per_day is not None:
            return {
                "volume_from": "user",
                "source": "evals import: volume_per_day as given (the logs have no timestamps)",
                "estimated": False,
                "requests_per_day": volume_per_day,
                "requests_per_month": round(volume_per_day * DAYS_PER_MONTH, 1),
                "peak_hour_share": None,
            }
        return {
            "volume_from": "unknown",
            "source": "evals import: unknown (the logs have no timestamps and no volume_per_day was given)",
            "estimated": True,
            "requests_per_day": None,
            "requests_per_month": None,
            "peak_hour_share": None,
        }
