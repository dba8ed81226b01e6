"""Load a suite's samples into Sample objects.

JSON Lines are read with the standard library, line by line: references in
one suite are often of mixed shape (a label string here, a JSON object
there), which Arrow's single-schema columns behind `datasets` cannot hold,
and line numbers make errors precise. CSV, TSV and Parquet are read by
pyarrow (CSV cells as text: a reference "007" stays "007"), a JSON array by
the standard library. None of them needs `datasets` (an optional extra, for
`evals import --format datasets`), and nothing is cached outside the suite.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evals.config import ConfigError, Suite
from evals.suite.sample import Sample, content_id

_TABULAR = {".csv": "csv", ".parquet": "parquet", ".json": "json", ".tsv": "csv"}
_ROLES = {"system", "user", "assistant", "tool", "developer"}
_REQUEST_FIELDS = ("tools", "tool_choice", "response_format", "settings")
"""The request besides its messages, under these names in every samples format (see evals.suite.sample)."""


def _jsonl_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """Read as bytes and decode line by line, so a bad byte is reported with its line."""
    packed = path.suffix == ".gz"
    n = 0
    try:
        with gzip.open(path, "rb") if packed else open(path, "rb") as f:
            for n, raw in enumerate(f, 1):
                line = _text(raw, f"{path}:{n}")
                if not line.strip():
                    continue
                try:
                    yield n, json.loads(line)
                except json.JSONDecodeError as e:
                    raise ConfigError(f"{path}:{n}: not valid JSON ({e.msg} at column {e.colno}); fix or remove the line") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        where = f"{path}:{n + 1}" if n else str(path)
        raise ConfigError(f"{where}: not a readable gzip file ({e or type(e).__name__}); compress it again, or drop the .gz ending if it is plain text") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a samples file") from None


def _text(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{where}: not UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1}); save the file as UTF-8") from None


def _table_rows(path: Path) -> Iterator[tuple[int, Any]]:
    suffix = path.suffix.lower()
    kind = _TABULAR.get(suffix)
    if kind is None:
        raise ConfigError(f"{path}: unsupported samples format {suffix!r}; use .jsonl, .csv, .tsv, .parquet or .json")
    if kind == "json":
        raw = path.read_bytes()
        try:
            data = json.loads(raw)
        except UnicodeDecodeError as e:
            line = raw[: e.start].count(b"\n") + 1
            raise ConfigError(f"{path}:{line}: not UTF-8 (byte 0x{raw[e.start]:02x}); save the file as UTF-8") from None
        except json.JSONDecodeError:
            yield from _jsonl_rows(path)  # JSON lines under a .json name
            return
        if not isinstance(data, list):
            raise ConfigError(f"{path}: expected a JSON array of samples (or JSON lines, one sample per line)")
        yield from enumerate(data, 1)
        return
    import pyarrow as pa  # loaded only for these formats
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    try:
        if kind == "parquet":
            table = pq.read_table(path)
        else:
            table = pa_csv.read_csv(
                path,
                parse_options=pa_csv.ParseOptions(delimiter="\t" if suffix == ".tsv" else ","),
                convert_options=pa_csv.ConvertOptions(default_column_type=pa.string(), strings_can_be_null=True),
            )
    except (pa.ArrowException, OSError) as e:
        raise ConfigError(f"{path}: could not be read as {kind}: {e}") from None
    offset = 2 if kind == "csv" else 1  # a CSV's first line is its header
    for i, row in enumerate(table.to_pylist()):
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
    rows = _jsonl_rows(path) if path.name.endswith((".jsonl", ".jsonl.gz", ".ndjson")) else _table_rows(path)
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
        sid = str(sid) if sid not in (None, "") else content_id(messages, {k: _maybe_json(row.get(k)) for k in ("tools", "tool_choice", "response_format")})
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
