"""Which category a request belongs to: from a field of the log, from a small rules file, or `all`.

Categories matter twice: sampling keeps every category represented, and the
workload profile sizes tokens per category. A rules file lists keyword or
regex rules matched against the request's text (system prompt included, since
many products route by system prompt); the first rule that matches wins and
the rest fall into `default` (`other`).

```yaml
rules:
  - category: billing
    keywords: [refund, invoice, "charged twice"]
  - category: code
    regex: "```|\\bdef |Traceback"
default: other
```
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from evals.config import ConfigError, format_validation_error, read_yaml
from evals.traffic.records import Record

Categorizer = Callable[[Record], str]


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str = Field(min_length=1)
    keywords: list[str] = Field(default_factory=list)
    """Whole words or phrases, any case."""
    regex: str | None = None
    """A Python regular expression, searched anywhere in the text."""

    @field_validator("regex")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"not a valid regular expression: {e}") from None
        return v

    @model_validator(mode="after")
    def _something(self) -> Rule:
        if not self.keywords and self.regex is None:
            raise ValueError("give `keywords`, `regex`, or both")
        return self

    def pattern(self) -> re.Pattern[str]:
        parts = [rf"(?i:(?<!\w){re.escape(k)}(?!\w))" for k in self.keywords if k]
        if self.regex is not None:
            parts.append(f"(?:{self.regex})")
        return re.compile("|".join(parts))


class Rules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[Rule] = Field(min_length=1)
    default: str = Field(default="other", min_length=1)


def load_rules(path: Path) -> Rules:
    text, data = read_yaml(path)
    try:
        return Rules.model_validate(data)
    except ValidationError as e:
        raise ConfigError(format_validation_error(path, text, e)) from None


def _rules_categorizer(rules: Rules) -> Categorizer:
    compiled = [(r.category, r.pattern()) for r in rules.rules]

    def categorize(rec: Record) -> str:
        text = "\n".join(m.get("content") or "" for m in rec.messages)
        for category, pattern in compiled:
            if pattern.search(text):
                return category
        return rules.default

    return categorize


def categorizer(source: str | Path) -> Categorizer:
    """`field`: the record's own category field (`all` where it has none); `all`: one category; else a rules file."""
    if source == "field":
        return lambda rec: rec.category or "all"
    if source == "all":
        return lambda rec: "all"
    return _rules_categorizer(load_rules(Path(source)))
