"""The knobs of `evals import`, validated once so the pipeline can trust them."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from evals.traffic.fields import check_mapping
from evals.traffic.readers import Format


class ImportOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Format = "auto"
    """Force one format for every file; `auto` detects it per file."""
    mapping: dict[str, str] = Field(default_factory=dict)
    """Sample field -> source column or dotted JSON path (`input=prompt`, `category=metadata.route`)."""
    categories: str | Path = "field"
    """`field` (the mapped or usual category field; `all` where absent), `all`, or a rules YAML file."""
    sample: int | None = Field(default=None, ge=1)
    """Sample size; None keeps every distinct request."""
    min_per_category: int = Field(default=10, ge=0)
    seed: int = 0
    no_redact: bool = False
    """Redaction is on unless this is set: the samples would then hold the logs' text verbatim."""
    near_duplicate_threshold: float | None = Field(default=0.9, gt=0, le=1)
    """Jaccard similarity of word 3-grams from which a request repeats an earlier one; None: exact repeats only."""
    volume_per_day: float | None = Field(default=None, gt=0)
    """Requests per day in production, used when the logs carry no timestamps."""
    logged_fraction: float = Field(default=1.0, gt=0, le=1)
    """Share of production requests the logs hold (0.002: the gateway logs 1 request in 500); the volume
    measured from timestamps is divided by it. Token sizes, category shares and the peak-hour share are not."""
    verbatim_metadata: tuple[str, ...] = ()
    """Keys of the requests' `metadata` copied into the samples without redaction: unit tests whose
    fixtures look like personal data (emails, phone numbers, test cards). Only for fields with no customer data."""
    scorers_from: Path | None = None
    """A YAML file with the grading part of a suite (`scorers`, `pass_rule`, `categories`, `margin`) that
    the written suite.yaml uses instead of the default similarity scorer."""
    max_bad_fraction: float = Field(default=0.1, ge=0, le=1)
    """Share of unusable lines above which a file is rejected rather than skipped through."""
    overwrite: bool = False

    @field_validator("mapping")
    @classmethod
    def _known_fields(cls, v: dict[str, str]) -> dict[str, str]:
        return check_mapping(v)
