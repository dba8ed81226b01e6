"""Generic rows (CSV, JSONL, Parquet, any `datasets` file) -> Records, through a column mapping.

The input column may hold a prompt string or a list of chat messages; the
reference column the expected answer. Rows carry no finish reason, so a row
with a reference counts as `ok`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from evals.traffic.fields import Columns
from evals.traffic.openai_log import canonical_messages
from evals.traffic.records import Record
from evals.traffic.values import as_int, as_text


def _messages(value: Any) -> tuple[list[dict[str, Any]], int]:
    if isinstance(value, str) and value.lstrip().startswith("[{"):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            pass
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("input is empty")
        return [{"role": "user", "content": value}], 0
    if isinstance(value, list):
        return canonical_messages(value)
    if value is None:
        raise ValueError("no input column (map one with input=COLUMN)")
    raise ValueError("input is neither text nor a list of messages")


def parse(row: Mapping[str, Any], columns: Columns) -> Record:
    """One row as a Record; a ValueError says why the row is unusable."""
    messages, dropped = _messages(columns.get(row, "input"))
    system = as_text(columns.get(row, "system"))
    if system and messages[0]["role"] != "system":
        messages.insert(0, {"role": "system", "content": system})
    rec = Record(messages=messages, non_text_parts=dropped)
    reference = as_text(columns.get(row, "reference"))
    if reference is None and len(messages) > 1 and messages[-1]["role"] == "assistant":
        reference = messages.pop()["content"] or None
    if reference is not None:
        rec.reference, rec.reference_kind, rec.reference_status = reference, "text", "ok"
    model = columns.get(row, "reference_model")
    rec.reference_model = model if isinstance(model, str) and model else None
    rec.input_tokens = as_int(columns.get(row, "input_tokens"))
    rec.output_tokens = as_int(columns.get(row, "output_tokens"))
    return rec
