"""Where each sample field comes from in a source row: the user's `--map`, else the usual column names.

A user mapping names a column (or a dotted path into a JSON object, e.g.
`category=metadata.route`). Without one, the common names tools write are
tried in order, so most files import without any mapping at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evals.traffic.values import dig

DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "input": ("input", "prompt", "messages", "question", "query", "instruction", "text"),
    "reference": ("reference", "answer", "output", "response", "completion", "target"),
    "category": ("category", "metadata.category", "request.metadata.category", "body.metadata.category"),
    "id": ("id",),
    "timestamp": ("timestamp", "created_at", "time", "ts"),
    "system": ("system", "system_prompt"),
    "reference_model": ("reference_model", "model"),
    "input_tokens": ("input_tokens", "prompt_tokens"),
    "output_tokens": ("output_tokens", "completion_tokens"),
}
"""The fields a mapping may name, each with the columns tried when it names none."""


def check_mapping(mapping: Mapping[str, str]) -> dict[str, str]:
    """The mapping, or a ValueError naming the unknown fields and the known ones."""
    unknown = sorted(set(mapping) - set(DEFAULT_COLUMNS))
    if unknown:
        raise ValueError(f"unknown field(s) in mapping: {', '.join(unknown)}; known: {', '.join(DEFAULT_COLUMNS)}")
    empty = sorted(k for k, v in mapping.items() if not v)
    if empty:
        raise ValueError(f"mapping gives no column for: {', '.join(empty)}")
    return dict(mapping)


class Columns:
    """Looks up sample fields in one source's rows."""

    def __init__(self, mapping: Mapping[str, str], defaults: Mapping[str, tuple[str, ...]] = DEFAULT_COLUMNS) -> None:
        self._paths = {f: (mapping[f],) if f in mapping else defaults.get(f, ()) for f in DEFAULT_COLUMNS}

    def get(self, row: Mapping[str, Any], field: str) -> Any:
        for path in self._paths[field]:
            value = row.get(path) if path in row else dig(row, path)
            if value is not None:
                return value
        return None
