"""The files of an imported suite, and how they appear: all at once or not at all.

Everything is written into a hidden staging directory next to the target and
renamed into place at the end (a rename within one directory is atomic), so a
failed or interrupted import never leaves a half-written suite behind, and an
existing suite is only replaced when the new one is complete.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from evals.config import SUITE_NAME, SUITE_NAME_RULE, ConfigError, Suite, format_validation_error, read_yaml
from evals.traffic.errors import TrafficImportError

DEFAULT_SCORERS = [{"name": "similarity", "args": {"metric": "rougeL", "threshold": 0.5}}]
"""Imported references are free-text answers: similarity to them is the one scorer that fits every category."""


def check_target(tasks_dir: Path, suite: str, overwrite: bool) -> Path:
    """The suite's directory, after refusing bad names and existing suites (before any work is done)."""
    if not SUITE_NAME.fullmatch(suite):
        raise TrafficImportError(f"suite name {suite!r}: {SUITE_NAME_RULE}")
    target = tasks_dir / suite
    if target.exists() and not overwrite:
        raise TrafficImportError(f"{target} already exists; choose another --suite name, or give --overwrite to replace it")
    return target


def staging_dir(tasks_dir: Path, suite: str) -> Path:
    tasks_dir.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{suite}.", suffix=".importing", dir=tasks_dir))


def publish(staging: Path, target: Path, overwrite: bool) -> None:
    """Move the finished suite into place, replacing the old one only now that the new one is whole."""
    if target.exists():
        if not overwrite:
            raise TrafficImportError(f"{target} appeared during the import; nothing was replaced")
        old = target.with_name(f".{target.name}.replaced-{uuid.uuid4().hex[:8]}")
        target.rename(old)
        try:
            staging.rename(target)
        except BaseException:
            old.rename(target)
            raise
        shutil.rmtree(old)
    else:
        staging.rename(target)


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


GRADING_FIELDS = ("scorers", "pass_rule", "categories", "margin")
"""What a grading file (`scorers_from`) may set: how the suite is graded, nothing about its samples."""


class _GradingKeys(BaseModel):
    """Only the grading fields; their values are checked by the Suite model itself."""

    model_config = ConfigDict(extra="forbid", title="grading file")
    scorers: Any = None
    pass_rule: Any = None
    categories: Any = None
    margin: Any = None


@dataclass(frozen=True)
class Grading:
    """A grading file, checked: its text (copied as written, comments included) and its values."""

    path: Path
    text: str
    data: dict[str, Any]


def load_grading(path: Path) -> Grading:
    """Read and check a grading file before any traffic is read; errors name the file and line."""
    text, data = read_yaml(path)
    try:
        _GradingKeys.model_validate(data)
        Suite.model_validate({"name": "grading", **data})
    except ValidationError as e:
        message = format_validation_error(path, text, e).replace(": invalid suite:", ": invalid grading file:", 1)
        raise ConfigError(message) from None
    return Grading(path, text, data)


def suite_yaml(name: str, description: str, workload: dict[str, Any], grading: Grading | None = None) -> str:
    head = (
        "# Written by `evals import`. Edit freely: a new import with the same name will not\n"
        "# replace this file unless asked to (overwrite).\n"
        + _dump({"name": name, "description": description, "samples": "samples.jsonl"})
    )
    tail = (
        "\n# The workload profile (also in workload.json): volume and token sizes per category,\n"
        "# measured over all imported requests before deduplication and sampling.\n"
        + _dump({"workload": workload})
    )
    if grading is None:
        return (
            head
            + "\n# A default for free-text references. Pick scorers per category once you know what\n"
            "# each category's answers look like (exact, label, json_schema, code tests, judge):\n"
            "#   categories:\n"
            "#     billing: {scorers: [{name: label}]}\n"
            + _dump({"scorers": DEFAULT_SCORERS})
            + tail
        )
    intro = f"\n# Grading from {grading.path.name} (scorers_from), as written there.\n"
    verbatim = head + intro + grading.text.rstrip("\n") + "\n" + tail
    expected = {"name": name, "description": description, "samples": "samples.jsonl", **grading.data, "workload": workload}
    try:
        if yaml.safe_load(verbatim) == expected:
            return verbatim
    except yaml.YAMLError:
        pass
    # Not a plain block mapping (flow style, document markers): its values, without its comments.
    return head + intro + _dump(grading.data) + tail
