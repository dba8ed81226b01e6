"""Load a suite's samples into Sample objects.

JSON Lines are read with the standard library, line by line: references in
one suite are often of mixed shape (a label string here, a JSON object
there), which Arrow's single-schema columns behind `datasets` cannot hold,
and line numbers make errors precise. Every other format (CSV, Parquet,
JSON arrays, ...) goes through `datasets`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from typing import Any, Iterator

from pydantic import ValidationError

from evals.config import ConfigError, Suite
from evals.suite.sample import Sample, content_id

_BUILDERS = {".csv": "csv", ".parquet": "parquet", ".json": "json", ".tsv": "csv"}
_ROLES = {"system", "user", "assistant", "tool", "developer"}
_REQUEST_FIELDS = ("tools", "tool_choice", "response_format", "settings")
"""The request besides its messages, under these names in every samples format (see evals.suite.sample)."""


def _jsonl_rows(path: Path) -> Iterator[tuple[int, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:  # type: ignore[operator]
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as e:
                raise ConfigError(f"{path}:{n}: not valid JSON ({e.msg} at column {e.colno}); fix or remove the line") from None


def _dataset_rows(path: Path) -> Iterator[tuple[int, Any]]:
    from datasets import disable_progress_bars, load_dataset  # heavy import, only when needed

    disable_progress_bars()

    suffix = path.suffix.lower()
    builder = _BUILDERS.get(suffix)
    if builder is None:
        raise ConfigError(f"{path}: unsupported samples format {suffix!r}; use .jsonl, .csv, .tsv, .parquet or .json")
    kwargs: dict[str, Any] = {"delimiter": "\t"} if suffix == ".tsv" else {}
    try:
        ds = load_dataset(builder, data_files=str(path), split="train", **kwargs)
    except Exception as e:
        raise ConfigError(f"{path}: could not be read as {builder}: {e}") from None
    # row numbers: header line counts for CSV
    offset = 2 if builder == "csv" else 1
    for i, row in enumerate(ds):
        yield i + offset, row


def _maybe_json(v: Any) -> Any:
    """CSV cells hold messages or structured references as JSON text."""
    if isinstance(v, str) and v[:1] in "[{":
        try:
            return json.loads(v)
        except json.JSONDecodeError:
            return v
    return v


def _messages(raw: Any, where: str, system_prompt: str | None) -> list[dict[str, Any]]:
    raw = _maybe_json(raw)
    if isinstance(raw, str):
        msgs: list[dict[str, Any]] = [{"role": "user", "content": raw}]
    elif isinstance(raw, list) and raw and all(isinstance(m, dict) for m in raw):
        msgs = [dict(m) for m in raw]
        for i, m in enumerate(msgs):
            if m.get("role") not in _ROLES or "content" not in m:
                raise ConfigError(f"{where}: `input[{i}]`: each message needs a role ({', '.join(sorted(_ROLES))}) and content")
    else:
        raise ConfigError(f"{where}: `input`: expected a prompt string or a list of {{role, content}} messages, got {type(raw).__name__}")
    if system_prompt and not any(m["role"] == "system" for m in msgs):
        msgs.insert(0, {"role": "system", "content": system_prompt})
    return msgs


def load_samples(suite: Suite) -> list[Sample]:
    path = suite.samples_path
    fm = suite.fields
    rows = _jsonl_rows(path) if path.name.endswith((".jsonl", ".jsonl.gz", ".ndjson")) else _dataset_rows(path)
    seen: dict[str, int] = {}
    out: list[Sample] = []
    for line, row in rows:
        where = f"{path}:{line}"
        if not isinstance(row, dict):
            raise ConfigError(f"{where}: expected a JSON object per line")
        if fm.input not in row:
            raise ConfigError(f"{where}: missing field `{fm.input}` (the sample's input); set `fields.input` in suite.yaml if the column has another name")
        messages = _messages(row[fm.input], where, suite.system_prompt)
        sid = row.get(fm.id)
        sid = str(sid) if sid not in (None, "") else content_id(messages)
        if sid in seen:
            raise ConfigError(f"{where}: duplicate sample id {sid!r} (first at line {seen[sid]}); ids must be unique")
        seen[sid] = line
        meta = _maybe_json(row.get(fm.metadata)) or {}
        try:
            out.append(
                Sample(
                    id=sid,
                    input=messages,
                    reference=_maybe_json(row.get(fm.reference)),
                    category=str(row.get(fm.category) or "all"),
                    metadata=meta if isinstance(meta, dict) else {"value": meta},
                    scorers=_maybe_json(row.get(fm.scorers)),
                    **{k: _maybe_json(row[k]) for k in _REQUEST_FIELDS if row.get(k) is not None},
                )
            )
        except ValidationError as e:
            first = e.errors()[0]
            field = ".".join(map(str, first["loc"])) or "sample"
            raise ConfigError(f"{where}: `{field}`: {first['msg']}") from None
    if not out:
        raise ConfigError(f"{path}: no samples found")
    return out


def suite_hash(suite: Suite) -> str:
    """Content hash of everything that defines the suite: its YAML, samples and plugins."""
    h = hashlib.sha256()
    for p in [suite.dir / "suite.yaml", suite.samples_path, *(suite.dir / x for x in suite.plugins)]:
        if p.exists():
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]
