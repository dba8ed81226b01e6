"""Small, forgiving conversions of logged values: logs from different tools spell the same thing differently."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from typing import Any


def dig(obj: Any, path: str) -> Any:
    """The value at a dotted path (`metadata.route`) in nested mappings, or None."""
    for key in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def parse_timestamp(value: Any) -> float | None:
    """Unix seconds (UTC) from an ISO-8601 string, a datetime, or an epoch in s, ms or µs.

    Naive ISO strings are taken as UTC: logs are written by servers, and servers log UTC.
    Anything unreadable, or outside the dates a datetime can hold, is None: a bad
    timestamp costs the volume figure one request, not the line or the import.
    """
    try:
        ts = _parse(value)
        if ts is not None:
            datetime.fromtimestamp(ts, tz=UTC)  # the workload profile converts it later
        return ts
    except (OverflowError, ValueError, OSError):
        return None


def _parse(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
        return dt.timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
    if isinstance(value, str):
        text = value.strip()
        try:
            return _epoch(float(text))
        except ValueError:
            pass
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            return None
        return _parse(dt)
    if isinstance(value, (int, float)):
        return _epoch(float(value))
    return None


def _epoch(x: float) -> float | None:
    if not math.isfinite(x) or x <= 0:
        return None
    if x > 1e14:
        return x / 1e6
    if x > 1e11:
        return x / 1e3
    return x


def as_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        n = int(value) if isinstance(value, int) else int(float(value))
    except (TypeError, ValueError, OverflowError):
        return None
    return n if n >= 0 else None


def as_text(value: Any) -> str | None:
    """Text as is; numbers and structures as JSON, so a label or a JSON answer survives as a reference."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, float) and math.isnan(value):
        return None
    return json.dumps(value, ensure_ascii=False, default=str)
