"""`evals import`: retries of failed answers, request metadata, grading files, logged fraction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from evals import api
from evals.cli import main
from evals.config import ConfigError, load_suite
from evals.traffic import ImportOptions, import_traffic

FIXTURES = Path(__file__).parent / "fixtures" / "traffic"
SYSTEM = {"role": "system", "content": "Answer the support agent."}


def _line(question: str, answer: str | None = None, *, when: str = "2026-10-05T09:00:00Z", finish: str = "stop",
          error: bool = False, metadata: dict[str, Any] | None = None) -> str:
    request: dict[str, Any] = {"model": "gpt-5", "messages": [SYSTEM, {"role": "user", "content": question}]}
    if metadata is not None:
        request["metadata"] = metadata
    line: dict[str, Any] = {"timestamp": when, "request": request}
    if error:
        line["response"], line["error"] = None, {"status": 502, "message": "bad gateway"}
    else:
        message = {"role": "assistant", "content": answer}
        line["response"] = {"model": "gpt-5", "choices": [{"message": message, "finish_reason": finish}]}
    return json.dumps(line)


def _log(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "gateway.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _samples(workspace: Path, suite: str = "s") -> list[dict]:
    text = (workspace / "tasks" / suite / "samples.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


# ------------------------------------------------------------- retries


@pytest.mark.parametrize("sample", [None, 10])
def test_a_failed_answer_is_replaced_by_its_retry(tmp_path: Path, sample: int | None) -> None:
    log = _log(
        tmp_path,
        _line("Where is order 1?", error=True),
        _line("What is the refund window?", "30 days"),
        _line("where is  order 1?", "It shipped on Monday."),  # the retry: an exact repeat
        _line("Summarise ticket 7.", "The customer wa", finish="length"),  # never retried
        _line("Is SSO on Team?", "no"),
        _line("Is SSO on Team?", error=True),  # a failed repeat of an answered request: just a repeat
    )
    report = import_traffic([log], "s", tmp_path, ImportOptions(sample=sample, min_per_category=1))
    samples = _samples(tmp_path)
    by_question = {s["input"][-1]["content"]: s for s in samples}
    assert len(samples) == 4
    retried = by_question["where is  order 1?"]
    assert retried["reference"] == "It shipped on Monday."
    assert retried["metadata"]["reference_status"] == "ok" and retried["metadata"]["source"] == "gateway.jsonl:3"
    assert by_question["Summarise ticket 7."]["metadata"]["reference_status"] == "truncated"
    assert by_question["Is SSO on Team?"]["reference"] == "no"
    assert (report.dedupe.exact, report.dedupe.retries_used, report.dedupe.kept) == (2, 1, 4)
    assert report.references == {"error": 2, "ok": 3, "truncated": 1}
    assert report.references_in_samples == {"ok": 3, "truncated": 1}
    if sample is None:  # written as read, the retried one where its retry was, the unanswered one at the end
        assert [s["metadata"]["source"] for s in samples] == ["gateway.jsonl:2", "gateway.jsonl:3", "gateway.jsonl:5", "gateway.jsonl:4"]


# ------------------------------------------------------------- metadata


def test_request_metadata_is_kept_and_redacted_except_verbatim_keys(tmp_path: Path) -> None:
    metadata = {
        "ticket": "T-1042",
        "customer_email": "jane.doe@example.com",
        "cc": ["bob@example.org"],
        "tests": "assert domain_of('jane.doe@example.com') == 'example.com'\n",
        "source": "crm",
    }
    log = _log(tmp_path, _line("Reply to jane.doe@example.com about T-1042", "Done.", metadata=metadata))
    import_traffic([log], "s", tmp_path, ImportOptions(verbatim_metadata=("tests",)))
    [s] = _samples(tmp_path)
    assert s["input"][-1]["content"] == "Reply to <EMAIL_1> about T-1042"
    meta = s["metadata"]
    assert meta["customer_email"] == "<EMAIL_1>" and meta["cc"] == '["<EMAIL_2>"]' and meta["ticket"] == "T-1042"
    assert meta["tests"] == metadata["tests"]  # verbatim, as asked
    assert meta["source"] == "gateway.jsonl:1" and meta["request_source"] == "crm"  # the import's own key wins

    import_traffic([log], "s", tmp_path, ImportOptions(overwrite=True))
    [s] = _samples(tmp_path)
    assert s["metadata"]["tests"] == "assert domain_of('<EMAIL_1>') == 'example.com'\n"


# ------------------------------------------------------------- grading file

GRADING = """\
# How this suite is graded.
scorers:
  - name: exact
    args: {normalize: true}   # short answers
categories:
  billing:
    scorers: [{name: similarity, args: {threshold: 0.4}}]
  nowhere:
    scorers: [contains]
margin: 0.03
"""


def test_scorers_from_replaces_the_default_grading_and_keeps_its_comments(tmp_path: Path) -> None:
    grading = tmp_path / "grading.yaml"
    grading.write_text(GRADING, encoding="utf-8")
    report = import_traffic([FIXTURES / "workload.jsonl"], "s", tmp_path, ImportOptions(scorers_from=grading))
    text = (tmp_path / "tasks" / "s" / "suite.yaml").read_text(encoding="utf-8")
    assert GRADING in text and "similarity, args: {metric: rougeL, threshold: 0.5}" not in text
    suite = load_suite(tmp_path / "tasks" / "s")
    assert [s.name for s in suite.scorers] == ["exact"] and suite.margin == 0.03
    assert suite.scorers_for("billing")[0].args == {"threshold": 0.4}
    assert suite.workload is not None and suite.workload["requests"] == 10
    assert any("nowhere" in w for w in report.warnings)

    grading.write_text("{scorers: [exact], margin: 0.1}\n", encoding="utf-8")  # flow style: values, not text
    import_traffic([FIXTURES / "workload.jsonl"], "s", tmp_path, ImportOptions(scorers_from=grading, overwrite=True))
    assert load_suite(tmp_path / "tasks" / "s").margin == 0.1


@pytest.mark.parametrize(
    ("bad", "where", "field"),
    [
        (GRADING.replace("    scorers: [contains]", "    scorer: [contains]"), 9, "categories.nowhere.scorer"),
        (GRADING + "samples: other.jsonl\n", 11, "samples"),
        (GRADING.replace("margin: 0.03", "margin: 3"), 10, "margin"),
    ],
)
def test_a_bad_grading_file_is_reported_with_its_line_before_anything_is_read(
    tmp_path: Path, bad: str, where: int, field: str
) -> None:
    grading = tmp_path / "grading.yaml"
    grading.write_text(bad, encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"invalid grading file:\n.*grading.yaml:{where}: `{field}`"):
        api.import_traffic(workspace=tmp_path, paths=[FIXTURES / "workload.jsonl"], suite="s", scorers_from=grading)
    assert not (tmp_path / "tasks" / "s").exists()


# ------------------------------------------------------------- volume


def test_logged_fraction_scales_the_volume_not_the_shape(tmp_path: Path) -> None:
    import_traffic([FIXTURES / "workload.jsonl"], "s", tmp_path, ImportOptions(logged_fraction=0.01))
    w = json.loads((tmp_path / "tasks" / "s" / "workload.json").read_text())
    assert (w["requests_per_day"], w["requests_per_month"]) == (500.0, 15218.8)  # 5 logged a day, 1 in 100 logged
    assert w["peak_hour_share"] == round((4 / 6 + 3 / 4) / 2, 4) and w["categories"]["billing"]["share"] == 0.6
    assert w["logged_fraction"] == 0.01 and "logged_fraction=0.01" in w["source"]
    with pytest.raises(ConfigError, match="--logged-fraction"):  # named as the user typed it
        api.import_traffic(workspace=tmp_path, paths=[FIXTURES / "workload.jsonl"], suite="t", logged_fraction=0)


def test_the_command_line_passes_the_new_options(tmp_path: Path) -> None:
    grading = tmp_path / "grading.yaml"
    grading.write_text(GRADING, encoding="utf-8")
    log = _log(tmp_path, _line("Where is order 1?", error=True), _line("Where is order 1?", "Shipped.", metadata={"tests": "a@b.example.com"}))
    args = ["import", str(log), "--suite", "s", "-w", str(tmp_path), "--scorers-from", str(grading), "--logged-fraction", "0.5",
            "--verbatim-metadata", "tests"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert "1 failed answers replaced by their retry" in r.output
    [s] = _samples(tmp_path)
    assert s["reference"] == "Shipped." and s["metadata"]["tests"] == "a@b.example.com"
    suite = load_suite(tmp_path / "tasks" / "s")
    assert suite.margin == 0.03 and suite.workload is not None and suite.workload["requests_per_day"] == 4.0
