"""Read traffic files of any supported format as a stream of Records (and Skips for unusable lines).

Files are read line by line (or batch by batch for Parquet and `datasets`), so
memory does not grow with the file: a 1 GB log is never held whole. Gzip is
recognised by its magic bytes, whatever the file is called. The format is
detected per file from its name and its first lines unless forced.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Literal, cast

from evals.traffic import anthropic_log, openai_log, tabular
from evals.traffic.errors import TrafficImportError
from evals.traffic.fields import DEFAULT_COLUMNS, Columns
from evals.traffic.records import Record, Skip
from evals.traffic.values import parse_timestamp

Format = Literal["auto", "openai", "anthropic", "jsonl", "csv", "parquet", "datasets"]
"""`jsonl`, `csv`, `parquet` and `datasets` are generic rows read through the column mapping."""

_SNIFF_LINES = 50
_CSV_FIELD_LIMIT = 64 * 1024 * 1024
_BATCH_ROWS = 1024

# In logs the sample id is a content hash unless the user maps one, and OpenAI
# responses carry their creation time.
_LOG_COLUMNS = {**DEFAULT_COLUMNS, "id": (), "timestamp": (*DEFAULT_COLUMNS["timestamp"], "response.created")}


class FormatError(TrafficImportError):
    """A file cannot be read at all (unknown format, not text, unreadable container)."""


def _open_binary(path: Path) -> IO[bytes]:
    with path.open("rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    return cast(IO[bytes], gzip.open(path, "rb") if gzipped else path.open("rb"))


def _suffix(path: Path) -> str:
    """The extension that says the format, under any .gz."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def detect_format(path: Path, mapping: Mapping[str, str]) -> str:
    """The format of one file, from its extension and, for JSON lines, what its first lines hold."""
    if path.is_dir():
        return "datasets"
    ext = _suffix(path)
    if ext in (".csv", ".tsv"):
        return "csv"
    if ext in (".parquet", ".pq"):
        return "parquet"
    if ext == ".arrow":
        return "datasets"
    with _open_binary(path) as f:
        head = f.read(64 * 1024)
    first = head.lstrip()[:1]
    if not first:
        return "jsonl"  # empty: nothing to read, whatever it was meant to be
    if first == b"[":
        return "datasets"  # a JSON array, not JSON lines
    if first != b"{":
        if ext == ".txt":
            return "datasets"  # one prompt per line, the `text` builder
        raise FormatError(f"{path}: cannot tell the format (not JSON lines, CSV or Parquet); give format=")
    if "input" in mapping or "reference" in mapping:
        return "jsonl"
    return _sniff_jsonl(path)


def _sniff_jsonl(path: Path) -> str:
    kinds: set[str] = set()
    with _open_binary(path) as f:
        for n, line in enumerate(f):
            if n >= _SNIFF_LINES:
                break
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                kinds.add(_classify(obj))
    if "anthropic" in kinds:
        return "anthropic"
    if "openai" in kinds or "chat" in kinds:
        return "openai"
    return "jsonl"


def _classify(obj: dict[str, Any]) -> str:
    """anthropic / openai where a line shows it, `chat` for plain messages either could have written, else rows."""
    response = obj.get("response")
    if isinstance(response, dict) and isinstance(response.get("body"), dict):
        response = response["body"]
    if isinstance(obj.get("result"), dict) or isinstance(obj.get("params"), dict):
        return "anthropic"
    if isinstance(response, dict):
        if response.get("type") in ("message", "error") or isinstance(response.get("content"), list):
            return "anthropic"
        if "choices" in response or response.get("object") == "chat.completion":
            return "openai"
    request = next((obj[k] for k in ("request", "body") if isinstance(obj.get(k), dict)), obj)
    messages = request.get("messages")
    if not isinstance(messages, list):
        return "rows"
    if request.get("system") is not None or "anthropic_version" in request:
        return "anthropic"
    for m in messages:
        if not isinstance(m, dict):
            continue
        if m.get("role") in ("system", "developer", "tool") or "tool_calls" in m:
            return "openai"
        content = m.get("content")
        if isinstance(content, list) and any(
            isinstance(b, dict) and b.get("type") in ("tool_use", "tool_result") for b in content
        ):
            return "anthropic"
    return "chat"


def read(path: Path, fmt: str, mapping: Mapping[str, str]) -> Iterator[Record | Skip]:
    """Every line or row of one file, as a Record or a Skip; `fmt` must already be resolved (not `auto`)."""
    if fmt in ("openai", "anthropic"):
        parse_log = openai_log.parse if fmt == "openai" else anthropic_log.parse
        return _records(_json_lines(path), parse_log, Columns(mapping, _LOG_COLUMNS))
    columns = Columns(mapping)
    rows = {"jsonl": _json_lines, "csv": _csv_rows, "parquet": _parquet_rows, "datasets": _dataset_rows}[fmt](path)
    return _records(rows, lambda row: tabular.parse(row, columns), columns)


def _records(
    rows: Iterator[tuple[int, Any]], parse: Callable[[dict[str, Any]], Record], columns: Columns
) -> Iterator[Record | Skip]:
    for line, row in rows:
        if isinstance(row, Skip):
            yield row
            continue
        if not isinstance(row, dict):
            yield Skip(line, "not a JSON object")
            continue
        try:
            rec = parse(row)
        except ValueError as e:
            yield Skip(line, str(e))
            continue
        rec.line = line
        category = columns.get(row, "category")
        rec.category = str(category) if category not in (None, "") else None
        source_id = columns.get(row, "id")
        rec.source_id = str(source_id) if source_id not in (None, "") else None
        rec.timestamp = parse_timestamp(columns.get(row, "timestamp"))
        yield rec


def _json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    with _open_binary(path) as f:
        for n, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                yield n, json.loads(raw)
            except UnicodeDecodeError:
                yield n, Skip(n, "not UTF-8 text")
            except json.JSONDecodeError as e:
                yield n, Skip(n, f"invalid JSON: {e.msg} (character {e.pos + 1})")
            except RecursionError:
                yield n, Skip(n, "JSON nested too deeply")


def _csv_rows(path: Path) -> Iterator[tuple[int, Any]]:
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
    delimiter = "\t" if _suffix(path) == ".tsv" else ","
    with io.TextIOWrapper(_open_binary(path), encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        start = 2
        try:
            for row in reader:
                if None in row:
                    yield start, Skip(start, "more cells than header columns")
                elif any(v is not None and v != "" for v in row.values()):
                    yield start, {k: (v if v != "" else None) for k, v in row.items()}
                start = reader.line_num + 1
        except UnicodeDecodeError:
            raise FormatError(f"{path}: not UTF-8 text near line {start}; re-encode the file as UTF-8") from None
        except csv.Error as e:
            raise FormatError(f"{path}:{start}: unreadable CSV ({e})") from None


def _parquet_rows(path: Path) -> Iterator[tuple[int, Any]]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises its own error types for every kind of corrupt file
        raise FormatError(f"{path}: not a readable Parquet file ({e})") from None
    n = 0
    for batch in pf.iter_batches(batch_size=_BATCH_ROWS):
        for row in batch.to_pylist():
            n += 1
            yield n, row


def _dataset_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """Anything `datasets` loads from local files: a saved dataset directory, a data directory, JSON, Arrow, text.

    `datasets` is an optional extra; its lock files and caches go to a temporary directory removed
    after the read, never under the home directory."""
    try:
        import datasets
    except ModuleNotFoundError:
        raise FormatError(f"{path}: reading this format needs the optional `datasets` library: pip install 'workload-evals[datasets]', or convert the file to JSONL, CSV or Parquet") from None

    with tempfile.TemporaryDirectory(prefix="evals-datasets-") as cache:
        try:
            if path.is_dir() and ((path / "dataset_info.json").exists() or (path / "state.json").exists()):
                ds: Any = datasets.load_from_disk(str(path))
                if isinstance(ds, datasets.DatasetDict):
                    ds = ds["train"] if "train" in ds else next(iter(ds.values()))
            elif path.is_dir():
                ds = datasets.load_dataset(str(path), split="train", streaming=True, cache_dir=cache)
            else:
                builder = {".json": "json", ".arrow": "arrow", ".txt": "text"}.get(_suffix(path), "json")
                ds = datasets.load_dataset(builder, data_files=str(path), split="train", streaming=True, cache_dir=cache)
        except Exception as e:  # datasets wraps loader failures in many exception types
            raise FormatError(f"{path}: `datasets` cannot load it ({type(e).__name__}: {e})") from None
        try:
            yield from enumerate(ds, 1)
        except Exception as e:  # a streaming dataset fails as it reads, with its builder's own errors
            raise FormatError(f"{path}: `datasets` failed while reading it ({type(e).__name__}: {e})") from None
