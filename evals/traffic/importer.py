"""`evals import`: traffic logs -> `tasks/<suite>/` (redacted, deduplicated, sampled, profiled).

One pass over the input, one record at a time:

    read -> categorise -> profile (raw sizes, every record)
         -> redact -> deduplicate -> sample (or write straight through)

Categorising and sizing read the raw record (rules are written against real
traffic, and token sizes must be the real ones); from deduplication on only
redacted text exists. So raw personal data and credentials are never held
beyond the record being read and never reach the samples, and requests that
differ only in such values (the same question from two customers) collapse
into one. A request whose logged answer failed (error, truncated, refused) is
held back, not written, until the end of the input (at most `MAX_HELD` of
them): when an exact repeat of it was answered (a retry), that answer
replaces the failed one. The suite is built in a staging directory and
renamed into place only when complete.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from evals.config import load_suite
from evals.suite.sample import RequestSettings, Sample, content_id
from evals.traffic import readers
from evals.traffic.categorize import Categorizer, categorizer
from evals.traffic.dedupe import Deduper
from evals.traffic.errors import TrafficImportError
from evals.traffic.options import ImportOptions
from evals.traffic.records import Record, Skip
from evals.traffic.redact import label_of, redact_sample
from evals.traffic.report import DedupeReport, ImportReport, RedactionReport, SamplingReport, SkipLog, SourceReport
from evals.traffic.sample import StratifiedSampler
from evals.traffic.workload import WorkloadProfiler
from evals.traffic.writer import Grading, check_target, load_grading, publish, staging_dir, suite_yaml, write_json

MAX_HELD = 10_000
"""Failed answers held back waiting for a retry; past this, the oldest is written as it is."""
_FAILED = ("error", "truncated", "refused")


@dataclass(slots=True)
class _Kept:
    """A redacted, distinct request that may be written (a sample is only built for those that are)."""

    record: Record
    category: str
    file_name: str
    found: Counter[str]
    """What redaction replaced in it, by kind."""


def _redact(rec: Record, verbatim: tuple[str, ...] = ()) -> Counter[str]:
    """Redact, in place, every text of a record that will be written, as one sample; count what was replaced.

    Metadata values are redacted too (as JSON text when they are not text), except under the keys in `verbatim`."""
    calls = [call["function"] for m in rec.messages for call in m.get("tool_calls") or ()]
    texts = [m["content"] for m in rec.messages] + [c["arguments"] for c in calls]
    texts += [rec.reference or "", rec.tools or "", rec.source_id or ""]
    meta_keys = [key for key in rec.metadata or {} if key not in verbatim]
    texts += [_as_text(rec.metadata[key]) for key in meta_keys] if rec.metadata else []
    # Linked images are redacted as text (a signed URL carries a token); inline ones are data, not text.
    linked = [p["image_url"] for pair in (rec.images or {}).values() for p in (*pair[0], *pair[1]) if not p["image_url"]["url"].startswith("data:")]
    texts += [image["url"] for image in linked]
    redacted, found = redact_sample(texts)
    if not found:
        return found
    n, k = len(rec.messages), len(calls)
    for m, text in zip(rec.messages, redacted[:n]):
        m["content"] = text
    for c, text in zip(calls, redacted[n : n + k]):
        c["arguments"] = text
    reference, tools, source_id = redacted[n + k : n + k + 3]
    rec.reference = reference if rec.reference is not None else None
    rec.tools = tools if rec.tools is not None else None
    if source_id != (rec.source_id or ""):
        rec.source_id = None  # an id that holds PII is not kept; the content hash stands in
    if meta_keys and rec.metadata is not None:
        rec.metadata = dict(rec.metadata)
        for key, before, after in zip(meta_keys, texts[n + k + 3 :], redacted[n + k + 3 :]):
            if after != before:
                rec.metadata[key] = after
    for image, url in zip(linked, redacted[len(texts) - len(linked) :]):
        image["url"] = url
    return found


def _with_images(rec: Record) -> list[dict[str, Any]]:
    """The record's messages with their image parts back in place: content becomes a list of parts."""
    if not rec.images:
        return rec.messages
    out = [dict(m) for m in rec.messages]
    for i, (before, after) in rec.images.items():
        text = out[i]["content"]
        out[i]["content"] = [*before, *([{"type": "text", "text": text}] if text else []), *after]
    return out


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _dedupe_texts(rec: Record) -> tuple[str, str]:
    """(context, conversation): the system prompts and what the request offered besides its messages
    (tools, tool_choice, response_format: the same conversation with other tools or another schema
    is another task), and every other turn with its role and tool calls. Repeats are only sought
    within one context, so requests that offered different tools are never each other's duplicates."""
    context: list[str] = []
    offered = {k: v for k, v in (("tools", rec.tools), ("tool_choice", rec.tool_choice), ("response_format", rec.response_format)) if v is not None}
    if offered:
        context.append(json.dumps(offered, sort_keys=True, ensure_ascii=False, default=str))
    parts: list[str] = []
    for m in rec.messages:
        if m["role"] == "system":
            context.append(m["content"])
            continue
        parts.append(m["role"])
        parts.append(m["content"])
        for call in m.get("tool_calls") or ():
            parts.append(call["function"]["name"])
            parts.append(call["function"]["arguments"])
    return "\n".join(context), "\n".join(parts)


class _Pipeline:
    """The state of one import between the first record and the last."""

    def __init__(self, options: ImportOptions, categorize: Categorizer, samples_file: IO[str]) -> None:
        self.options = options
        self.categorize = categorize
        self.samples_file = samples_file
        self.deduper = Deduper(options.near_duplicate_threshold)
        self.profiler = WorkloadProfiler()
        self.sampler: StratifiedSampler[_Kept] | None = (
            StratifiedSampler(options.sample, options.min_per_category, options.seed) if options.sample else None
        )
        self.skips = SkipLog()
        self.records = 0
        self.duplicates: Counter[str] = Counter()
        self.kept_per_category: Counter[str] = Counter()
        self.found: Counter[str] = Counter()
        self.records_with_findings = 0
        self.found_in_samples: Counter[str] = Counter()
        self.references: Counter[str] = Counter()
        self.references_in_samples: Counter[str] = Counter()
        self.written_per_category: Counter[str] = Counter()
        self.non_text_parts = 0
        self.retries_used = 0
        self._source_ids: set[str] = set()
        self._held: dict[int, _Kept] = {}
        """Kept requests whose logged answer failed, by exact-repeat key, oldest first."""

    def add(self, rec: Record, file_name: str) -> None:
        self.records += 1
        category = self.categorize(rec)
        self.profiler.add(rec, category)
        self.references[rec.reference_status] += 1
        self.non_text_parts += rec.non_text_parts
        found: Counter[str] = Counter()
        if not self.options.no_redact:
            found = _redact(rec, self.options.verbatim_metadata)
            if found:
                self.found.update(found)
                self.records_with_findings += 1
        context, conversation = _dedupe_texts(rec)
        verdict = self.deduper.check(context, conversation)
        if verdict is not None:
            self.duplicates[verdict] += 1
            if verdict == "exact" and rec.reference_status == "ok" and self._held:
                self._retried(Deduper.key(context, conversation), _Kept(rec, category, file_name, found))
            return
        self.kept_per_category[category] += 1
        kept = _Kept(rec, category, file_name, found)
        if rec.reference_status in _FAILED:
            self._held[Deduper.key(context, conversation)] = kept
            if len(self._held) > MAX_HELD:
                self._emit(self._held.pop(next(iter(self._held))))
            return
        self._emit(kept)

    def _retried(self, key: int, retry: _Kept) -> None:
        """An answered exact repeat of a held request: its answer replaces the failed one."""
        held = self._held.pop(key, None)
        if held is None:
            return
        self.retries_used += 1
        if retry.category != held.category:
            self.kept_per_category[held.category] -= 1
            self.kept_per_category[retry.category] += 1
            self.kept_per_category += Counter()  # drops a category left with none
        self._emit(retry)

    def _emit(self, kept: _Kept) -> None:
        if self.sampler is None:
            self.write(kept)
        else:
            self.sampler.offer(kept.category, kept)

    def write(self, kept: _Kept) -> None:
        rec = kept.record
        sample_id = rec.source_id
        if sample_id is None or sample_id in self._source_ids:
            sample_id = content_id(rec.messages, {"tools": rec.tools, "tool_choice": rec.tool_choice, "response_format": rec.response_format})
        else:
            self._source_ids.add(sample_id)
        when = rec.timestamp
        metadata: dict[str, Any] = {
            "source": f"{kept.file_name}:{rec.line}",
            "reference_model": rec.reference_model,
            "reference_status": rec.reference_status,
            "reference_kind": rec.reference_kind,
            "timestamp": datetime.fromtimestamp(when, tz=UTC).isoformat() if when is not None else None,
            "non_text_parts": rec.non_text_parts,
        }
        for key, value in (rec.metadata or {}).items():  # the request's own tags, after the import's
            metadata.setdefault(key if key not in metadata else f"request_{key}", value)
        sample = Sample(
            id=sample_id,
            input=_with_images(rec),
            reference=rec.reference,
            category=kept.category,
            metadata=metadata,
            tools=json.loads(rec.tools) if rec.tools else None,
            tool_choice=rec.tool_choice if rec.tools or rec.tool_choice == "none" else None,
            response_format=rec.response_format,
            settings=RequestSettings.model_validate(rec.settings) if rec.settings else None,
        )
        unset = {name for name in ("tools", "tool_choice", "response_format", "settings") if getattr(sample, name) is None}
        self.samples_file.write(sample.model_dump_json(exclude=unset) + "\n")
        self.written_per_category[kept.category] += 1
        self.references_in_samples[rec.reference_status] += 1
        self.found_in_samples.update(kept.found)

    def write_sample(self) -> None:
        for kept in self._held.values():  # failed answers that no retry replaced
            self._emit(kept)
        self._held.clear()
        if self.sampler is not None:
            for items in self.sampler.result().values():
                for kept in items:
                    self.write(kept)


def _read_file(pipeline: _Pipeline, path: Path, options: ImportOptions) -> SourceReport:
    fmt = readers.detect_format(path, options.mapping) if options.format == "auto" else options.format
    source = SourceReport(path=str(path), format=fmt)
    first_bad: list[Skip] = []
    for item in readers.read(path, fmt, options.mapping):
        if isinstance(item, Skip):
            source.skipped += 1
            pipeline.skips.add(path.name, item)
            if len(first_bad) < 5:
                first_bad.append(item)
        else:
            source.records += 1
            pipeline.add(item, path.name)
    lines = source.records + source.skipped
    if source.skipped and source.skipped > options.max_bad_fraction * lines:
        listed = "; ".join(f"{path.name}:{s.line}: {s.reason}" for s in first_bad)
        raise TrafficImportError(
            f"{path}: {source.skipped} of {lines} lines could not be used, more than max_bad_fraction "
            f"({options.max_bad_fraction:.0%}); is it really {fmt}? First bad lines: {listed}"
        )
    return source


def import_traffic(
    paths: list[Path], suite: str, workspace: Path, options: ImportOptions | None = None
) -> ImportReport:
    """Turn traffic logs into the suite `workspace/tasks/<suite>/`; raise TrafficImportError (and write nothing) on bad input."""
    options = options or ImportOptions()
    if not paths:
        raise TrafficImportError("no input files given")
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise TrafficImportError(f"input not found: {', '.join(missing)}")
    tasks_dir = workspace / "tasks"
    target = check_target(tasks_dir, suite, options.overwrite)
    categorize = categorizer(options.categories)
    grading = load_grading(options.scorers_from) if options.scorers_from is not None else None
    staging = staging_dir(tasks_dir, suite)
    try:
        report = _build(paths, suite, options, categorize, grading, staging, target)
        load_suite(staging)  # what was written must load as a suite
        publish(staging, target, options.overwrite)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return report


def _build(
    paths: list[Path],
    suite: str,
    options: ImportOptions,
    categorize: Categorizer,
    grading: Grading | None,
    staging: Path,
    target: Path,
) -> ImportReport:
    started = datetime.now(UTC)
    with (staging / "samples.jsonl").open("w", encoding="utf-8") as samples_file:
        pipeline = _Pipeline(options, categorize, samples_file)
        sources = [_read_file(pipeline, path, options) for path in paths]
        if pipeline.records == 0:
            raise TrafficImportError(f"no usable records in {', '.join(str(p) for p in paths)}")
        pipeline.write_sample()

    workload = pipeline.profiler.profile(options.volume_per_day, options.logged_fraction)
    description = f"imported from {', '.join(p.name for p in paths)}"  # when: import_report.json
    (staging / "suite.yaml").write_text(suite_yaml(suite, description, workload, grading), encoding="utf-8")
    write_json(staging / "workload.json", workload)
    report = ImportReport(
        suite=suite,
        suite_dir=str(target),
        created_at=started.isoformat(timespec="seconds"),
        sources=sources,
        records=pipeline.records,
        skipped_total=pipeline.skips.total,
        skipped=pipeline.skips.listed,
        redaction=RedactionReport(
            enabled=not options.no_redact,
            found=_by_label(pipeline.found),
            found_by_kind=dict(sorted(pipeline.found.items())),
            records_with_findings=pipeline.records_with_findings,
            in_samples=_by_label(pipeline.found_in_samples),
        ),
        dedupe=DedupeReport(
            exact=pipeline.duplicates["exact"],
            near=pipeline.duplicates["near"],
            kept=sum(pipeline.kept_per_category.values()),
            near_threshold=options.near_duplicate_threshold,
            retries_used=pipeline.retries_used,
        ),
        sampling=SamplingReport(
            requested=options.sample,
            seed=options.seed,
            min_per_category=options.min_per_category,
            selected=sum(pipeline.written_per_category.values()),
            available=dict(sorted(pipeline.kept_per_category.items())),
            selected_per_category=dict(sorted(pipeline.written_per_category.items())),
        ),
        references=dict(sorted(pipeline.references.items())),
        references_in_samples=dict(sorted(pipeline.references_in_samples.items())),
        warnings=_warnings(pipeline, sources, options, grading),
    )
    write_json(staging / "import_report.json", report.model_dump(mode="json"))
    return report


def _by_label(found: Counter[str]) -> dict[str, int]:
    labels: Counter[str] = Counter()
    for kind, n in found.items():
        labels[label_of(kind)] += n
    return dict(sorted(labels.items()))


def _warnings(
    pipeline: _Pipeline, sources: list[SourceReport], options: ImportOptions, grading: Grading | None
) -> list[str]:
    out = [f"{s.path}: no usable records" for s in sources if s.records == 0]
    graded = (grading.data.get("categories") or {}) if grading is not None else {}
    absent = sorted(c for c in graded if c not in pipeline.written_per_category)
    if absent:
        out.append(f"{options.scorers_from}: categories with no samples in this import: {', '.join(map(str, absent))}")
    if options.no_redact:
        out.append("redaction was turned off: the samples hold the logs' text verbatim, personal data and keys included")
    selected = sum(pipeline.written_per_category.values())
    if options.sample and selected > options.sample:
        out.append(
            f"{selected} samples selected for {options.sample} requested: every category keeps "
            f"min_per_category={options.min_per_category}"
        )
    if pipeline.non_text_parts:
        out.append(f"{pipeline.non_text_parts} audio/file parts were dropped: samples carry text and images only")
    not_ok = sum(n for s, n in pipeline.references_in_samples.items() if s != "ok")
    if not_ok:
        out.append(
            f"{not_ok} samples have no usable reference (see metadata.reference_status); filter or re-answer them"
        )
    return out
