"""What an import did, as written to `import_report.json`: enough to trust the suite or find what went wrong."""

from __future__ import annotations

from pydantic import BaseModel, Field

from evals.traffic.records import Skip

MAX_SKIPPED_LISTED = 1000


class SkippedLine(BaseModel):
    file: str
    line: int
    reason: str


class SourceReport(BaseModel):
    path: str
    format: str
    records: int = 0
    skipped: int = 0


class RedactionReport(BaseModel):
    enabled: bool
    found: dict[str, int] = Field(default_factory=dict)
    """Occurrences replaced in all valid records, by placeholder type (EMAIL, CARD, SECRET, ...)."""
    found_by_kind: dict[str, int] = Field(default_factory=dict)
    """The same, by detector (openai_key, jwt, ipv6, ...)."""
    records_with_findings: int = 0
    in_samples: dict[str, int] = Field(default_factory=dict)
    """Occurrences replaced in the samples written, by placeholder type."""


class DedupeReport(BaseModel):
    exact: int = 0
    """Dropped: same text as an earlier request after normalising case and whitespace."""
    near: int = 0
    """Dropped: estimated Jaccard similarity to an earlier request at or above `near_threshold`."""
    kept: int = 0
    near_threshold: float | None
    retries_used: int = 0
    """Failed answers (error, truncated, refused) replaced by the answer to an exact repeat of the request."""


class SamplingReport(BaseModel):
    requested: int | None
    seed: int
    min_per_category: int
    selected: int = 0
    available: dict[str, int] = Field(default_factory=dict)
    """Distinct requests per category, after deduplication."""
    selected_per_category: dict[str, int] = Field(default_factory=dict)


class ImportReport(BaseModel):
    suite: str
    suite_dir: str
    created_at: str
    sources: list[SourceReport]
    records: int
    """Valid records read, before deduplication and sampling."""
    skipped_total: int
    skipped: list[SkippedLine]
    """The first skipped lines (at most 1000); `skipped_total` counts them all."""
    redaction: RedactionReport
    dedupe: DedupeReport
    sampling: SamplingReport
    references: dict[str, int]
    """Reference status (ok, error, truncated, refused, missing) of all valid records."""
    references_in_samples: dict[str, int]
    warnings: list[str] = Field(default_factory=list)


class SkipLog:
    """Skipped lines of the whole import: all counted, the first ones kept for the report."""

    def __init__(self) -> None:
        self.total = 0
        self.listed: list[SkippedLine] = []

    def add(self, file: str, skip: Skip) -> None:
        self.total += 1
        if len(self.listed) < MAX_SKIPPED_LISTED:
            self.listed.append(SkippedLine(file=file, line=skip.line, reason=skip.reason))
