"""`evals import` end to end: formats, references, the written suite, the workload profile and failure modes."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from pathlib import Path

import pytest

from evals.config import ConfigError, load_suite
from evals.traffic import ImportOptions, ImportReport, TrafficImportError, import_traffic, readers

FIXTURES = Path(__file__).parent / "fixtures" / "traffic"
TICKETS_MAP = {"input": "prompt", "reference": "answer", "category": "route", "id": "ticket_id", "timestamp": "created"}


def _samples(workspace: Path, suite: str) -> list[dict]:
    path = workspace / "tasks" / suite / "samples.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _by_source(samples: list[dict]) -> dict[str, dict]:
    return {s["metadata"]["source"]: s for s in samples}


def _import(tmp_path: Path, files: list[str], suite: str = "s", **options) -> ImportReport:
    return import_traffic([FIXTURES / f for f in files], suite, tmp_path, ImportOptions(**options))


# ------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("name", "mapping", "expected"),
    [
        ("openai_chat.jsonl", {}, "openai"),
        ("openai_chat_day2.jsonl.gz", {}, "openai"),
        ("anthropic_messages.jsonl", {}, "anthropic"),
        ("tickets.csv", TICKETS_MAP, "csv"),
        ("openai_chat.jsonl", {"input": "request.messages"}, "jsonl"),
    ],
)
def test_format_is_detected_per_file(name: str, mapping: dict, expected: str) -> None:
    assert readers.detect_format(FIXTURES / name, mapping) == expected


def test_openai_log_shapes_become_canonical_samples(tmp_path: Path) -> None:
    report = _import(tmp_path, ["openai_chat.jsonl"])
    s = _by_source(_samples(tmp_path, "s"))

    first = s["openai_chat.jsonl:1"]
    assert first["category"] == "billing"
    assert [m["role"] for m in first["input"]] == ["system", "user"]
    assert first["reference"].startswith("I'm sorry about the double charge")
    assert first["metadata"]["reference_model"] == "gpt-4o-mini-2024-07-18"
    assert first["metadata"]["reference_status"] == "ok"
    assert first["metadata"]["timestamp"] == "2025-03-03T09:15:02+00:00"

    multi_turn = s["openai_chat.jsonl:3"]
    assert [m["role"] for m in multi_turn["input"]] == ["system", "user", "assistant", "user"]

    tools = s["openai_chat.jsonl:4"]
    assert [m["role"] for m in tools["input"]] == ["system", "user", "assistant", "tool"]
    call = tools["input"][2]["tool_calls"][0]
    assert call == {"id": "call_fx4a", "type": "function", "function": {"name": "get_order_status", "arguments": '{"order_id": "55120"}'}}
    assert tools["input"][3]["tool_call_id"] == "call_fx4a"
    assert tools["tools"][0]["function"]["name"] == "get_order_status" and "tools" not in tools["metadata"]

    only_calls = s["openai_chat.jsonl:5"]
    assert only_calls["metadata"]["reference_kind"] == "tool_calls"
    assert json.loads(only_calls["reference"]) == [{"name": "cancel_subscription", "arguments": '{"account": "7781"}'}]

    assert s["openai_chat.jsonl:6"]["input"][0]["content"] == "مرحبا، أريد استرداد المبلغ لطلبي رقم 3391 🙏"
    assert s["openai_chat.jsonl:8"]["reference"] == "שלום! ההזמנה שלך נשלחה ותגיע תוך 3–4 ימי עסקים 🚚"
    assert s["openai_chat.jsonl:9"]["metadata"]["reference_status"] == "truncated"
    assert s["openai_chat.jsonl:11"]["metadata"]["reference_status"] == "error"
    assert s["openai_chat.jsonl:11"]["reference"] is None
    assert s["openai_chat.jsonl:12"]["metadata"]["reference_status"] == "missing"  # Batch API input line
    # an image part travels with the sample, in place after the text
    photo = s["openai_chat.jsonl:13"]
    assert photo["metadata"]["non_text_parts"] == 0
    assert photo["input"][0]["content"] == [
        {"type": "text", "text": "What product is in this photo? Is it still under warranty?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/photo-118.jpg"}},
    ]
    fine_tune = s["openai_chat.jsonl:15"]  # trailing assistant turn is the reference
    assert [m["role"] for m in fine_tune["input"]] == ["system", "user"]
    assert fine_tune["reference"] == "Yes, we ship to Canada; duties are shown at checkout."
    assert s["openai_chat.jsonl:16"]["input"][0]["role"] == "system"  # developer -> system
    assert s["openai_chat.jsonl:16"]["metadata"]["timestamp"].startswith("2025-03-04T14:53:20")  # epoch ms
    assert s["openai_chat.jsonl:17"]["metadata"]["reference_status"] == "refused"

    assert report.references == {"error": 1, "missing": 2, "ok": 33, "refused": 1, "truncated": 1}
    assert report.sources[0].records == 38 and report.sources[0].skipped == 4
    assert [(x.line, x.reason) for x in report.skipped] == [
        (7, "invalid JSON: Expecting ':' delimiter (character 59)"),
        (14, "not a JSON object"),
        (20, "no messages"),
        (26, "message 1 has a missing or unknown role"),
    ]


def test_anthropic_log_blocks_become_canonical_samples(tmp_path: Path) -> None:
    report = _import(tmp_path, ["anthropic_messages.jsonl"])
    s = _by_source(_samples(tmp_path, "s"))

    first = s["anthropic_messages.jsonl:1"]
    assert first["input"][0] == {"role": "system", "content": "You are Acme's travel desk. Book only refundable fares unless the traveller says otherwise."}
    assert first["metadata"]["reference_model"] == "claude-sonnet-4-5-20250929"

    tools = s["anthropic_messages.jsonl:2"]
    assert [m["role"] for m in tools["input"]] == ["system", "user", "assistant", "tool", "user"]
    assert tools["input"][2]["content"] == "Let me search."
    assert tools["input"][2]["tool_calls"][0]["function"] == {
        "name": "search_hotels",
        "arguments": '{"city": "Berlin", "near": "Alexanderplatz", "nights": 2}',
    }
    assert tools["input"][3] == {"role": "tool", "tool_call_id": "toolu_fx2", "content": "Park Inn: €120/night; Motel One: €95/night"}
    assert tools["input"][4] == {"role": "user", "content": "The cheaper one please."}

    assert s["anthropic_messages.jsonl:3"]["metadata"]["reference_kind"] == "tool_calls"  # thinking dropped
    assert s["anthropic_messages.jsonl:4"]["metadata"]["reference_status"] == "truncated"  # stop_reason max_tokens
    assert s["anthropic_messages.jsonl:6"]["metadata"]["reference_status"] == "error"
    assert s["anthropic_messages.jsonl:6"]["input"][1]["content"] == "東京で一泊できる安いホテルを教えて 🏨"
    assert s["anthropic_messages.jsonl:7"]["reference"].startswith("Your train leaves")  # Message Batches result
    # an Anthropic image block becomes an image_url part (a data URL), where it was: before the text
    boarding = s["anthropic_messages.jsonl:8"]
    assert boarding["metadata"]["non_text_parts"] == 0
    assert boarding["input"][-1]["content"] == [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "text", "text": "Is this boarding pass for today?"},
    ]
    assert report.references == {"error": 1, "ok": 8, "truncated": 1}
    assert [(x.file, x.line) for x in report.skipped] == [("anthropic_messages.jsonl", 5)]


def test_csv_with_a_column_mapping(tmp_path: Path) -> None:
    _import(tmp_path, ["tickets.csv"], mapping=TICKETS_MAP)
    s = {x["id"]: x for x in _samples(tmp_path, "s")}
    assert set(s) == {"t-001", "t-002", "t-003", "t-004", "t-005", "t-006"}
    assert s["t-003"]["input"] == [{"role": "user", "content": "List three ways to reset my password,\nnumbered."}]
    assert s["t-003"]["category"] == "account"
    assert s["t-005"]["reference"] == "Sí, aceptamos tarjetas de débito Visa y Mastercard."
    assert s["t-006"]["input"][0]["content"] == 'Say "hello", then a comma, like this: hello,'
    assert s["t-001"]["metadata"]["timestamp"] == "2025-03-01T10:00:00+00:00"


def test_parquet_and_gzip_csv_read_the_same_rows(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with (FIXTURES / "tickets.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "tickets.parquet")
    with gzip.open(tmp_path / "tickets.csv.gz", "wb") as g:
        g.write((FIXTURES / "tickets.csv").read_bytes())
    a = import_traffic([tmp_path / "tickets.parquet"], "a", tmp_path, ImportOptions(mapping=TICKETS_MAP))
    b = import_traffic([tmp_path / "tickets.csv.gz"], "b", tmp_path, ImportOptions(mapping=TICKETS_MAP))
    assert a.sources[0].format == "parquet" and b.sources[0].format == "csv"
    strip = lambda rows: [{k: v for k, v in r.items() if k != "metadata"} for r in rows]  # noqa: E731
    assert strip(_samples(tmp_path, "a")) == strip(_samples(tmp_path, "b"))


def test_a_datasets_file_imports_and_the_suite_loads_through_datasets(tmp_path: Path) -> None:
    import datasets

    rows = [{"question": f"What is {i} squared?", "answer": str(i * i), "topic": "math"} for i in range(12)]
    (tmp_path / "qa.json").write_text(json.dumps(rows), encoding="utf-8")  # a JSON array: the `datasets` reader
    report = import_traffic(
        [tmp_path / "qa.json", FIXTURES / "openai_chat.jsonl"],
        "mixed",
        tmp_path,
        ImportOptions(mapping={"category": "topic"}),
    )
    assert [s.format for s in report.sources] == ["datasets", "openai"]
    ds = datasets.load_dataset("json", data_files=str(tmp_path / "tasks" / "mixed" / "samples.jsonl"), split="train")
    assert len(ds) == report.sampling.selected == 12 + 38
    assert ds[0]["input"] == [{"role": "user", "content": "What is 0 squared?"}] and ds[0]["reference"] == "0"


# ------------------------------------------------------------- the written suite


def test_written_suite_validates_and_carries_the_workload(tmp_path: Path) -> None:
    report = _import(tmp_path, ["openai_chat.jsonl", "openai_chat_day2.jsonl.gz"], sample=20, min_per_category=2)
    suite_dir = tmp_path / "tasks" / "s"
    assert sorted(p.name for p in suite_dir.iterdir()) == ["import_report.json", "samples.jsonl", "suite.yaml", "workload.json"]
    suite = load_suite(suite_dir)
    assert suite.name == "s"
    assert suite.description == "imported from openai_chat.jsonl, openai_chat_day2.jsonl.gz"  # the date: import_report.json
    assert [(x.name, x.args) for x in suite.scorers] == [("similarity", {"metric": "rougeL", "threshold": 0.5})]
    assert suite.workload == json.loads((suite_dir / "workload.json").read_text())
    assert "avg_output_tokens" not in suite.workload["categories"]["other"]  # its one answer was refused
    assert "Pick scorers per category" in (suite_dir / "suite.yaml").read_text()
    assert json.loads((suite_dir / "import_report.json").read_text()) == report.model_dump(mode="json")
    assert report.sampling.selected == len(_samples(tmp_path, "s")) == 20
    assert not list((tmp_path / "tasks").glob(".*"))  # no staging left behind


def test_an_existing_suite_is_kept_unless_overwrite(tmp_path: Path) -> None:
    _import(tmp_path, ["tickets.csv"], mapping=TICKETS_MAP)
    before = (tmp_path / "tasks" / "s" / "samples.jsonl").read_text()
    with pytest.raises(TrafficImportError, match="already exists"):
        _import(tmp_path, ["openai_chat.jsonl"])
    assert (tmp_path / "tasks" / "s" / "samples.jsonl").read_text() == before
    _import(tmp_path, ["openai_chat.jsonl"], overwrite=True)
    assert len(_samples(tmp_path, "s")) == 38
    assert sorted(p.name for p in (tmp_path / "tasks").iterdir()) == ["s"]


def test_too_many_bad_lines_fail_naming_the_file_and_lines_and_write_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    lines = (FIXTURES / "openai_chat.jsonl").read_text(encoding="utf-8").splitlines()[:10]
    bad.write_text("\n".join(lines + ["{not json", "null", '{"messages": []}']) + "\n", encoding="utf-8")
    with pytest.raises(TrafficImportError) as err:
        import_traffic([FIXTURES / "anthropic_messages.jsonl", bad], "broken", tmp_path, ImportOptions())
    message = str(err.value)
    assert message.startswith(f"{bad}: 4 of 12 lines could not be used, more than max_bad_fraction (10%)")
    assert "bad.jsonl:7: invalid JSON" in message and "bad.jsonl:12: not a JSON object" in message
    assert "bad.jsonl:13: no messages" in message
    assert list((tmp_path / "tasks").iterdir()) == []  # not even the first file's samples
    # The same file passes when the threshold allows its share of bad lines.
    report = import_traffic([bad], "broken", tmp_path, ImportOptions(max_bad_fraction=0.5))
    assert report.skipped_total == 4 and report.records == 8


def test_nothing_is_written_when_the_import_fails_midway(tmp_path: Path) -> None:
    good = tmp_path / "a.jsonl"
    shutil.copy(FIXTURES / "openai_chat.jsonl", good)
    (tmp_path / "b.csv").write_bytes(b"prompt,answer\nhello,world\n\xff\xfe bad bytes,x\n")
    with pytest.raises(TrafficImportError, match="not UTF-8"):
        import_traffic([good, tmp_path / "b.csv"], "half", tmp_path, ImportOptions())
    assert list((tmp_path / "tasks").iterdir()) == []


def test_an_interrupted_import_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_read = readers.read

    def interrupted(*args, **kwargs):
        yield next(iter(real_read(*args, **kwargs)))
        raise KeyboardInterrupt

    monkeypatch.setattr(readers, "read", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _import(tmp_path, ["openai_chat.jsonl"])
    assert list((tmp_path / "tasks").iterdir()) == []


def test_bad_inputs_are_refused_before_reading(tmp_path: Path) -> None:
    with pytest.raises(TrafficImportError, match="not found"):
        import_traffic([tmp_path / "nope.jsonl"], "x", tmp_path, ImportOptions())
    with pytest.raises(TrafficImportError, match="suite name"):
        import_traffic([FIXTURES / "tickets.csv"], "../escape", tmp_path, ImportOptions())
    with pytest.raises(ValueError, match="unknown field"):
        ImportOptions(mapping={"prompt": "x"})
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(TrafficImportError, match="no usable records"):
        import_traffic([empty], "x", tmp_path, ImportOptions(format="openai"))


# ------------------------------------------------------------- categories


def test_categories_from_rules_first_match_wins(tmp_path: Path) -> None:
    _import(tmp_path, ["openai_chat.jsonl"], categories=FIXTURES / "rules.yaml")
    s = _by_source(_samples(tmp_path, "s"))
    assert s["openai_chat.jsonl:1"]["category"] == "billing"  # "charged" (and "refund") in the question
    assert s["openai_chat.jsonl:3"]["category"] == "shipping"  # "package ... delivered"
    assert s["openai_chat.jsonl:9"]["category"] == "code"  # the reviewer system prompt names Python
    assert s["openai_chat.jsonl:16"]["category"] == "other"  # keywords are whole words: "refunds" is not "refund"
    assert s["openai_chat.jsonl:8"]["category"] == "other"  # Hebrew shipping question: no rule matches


def test_categories_all_and_bad_rules(tmp_path: Path) -> None:
    _import(tmp_path, ["tickets.csv"], mapping=TICKETS_MAP, categories="all")
    assert {x["category"] for x in _samples(tmp_path, "s")} == {"all"}
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - category: x\n    regex: '(unclosed'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"rules.yaml:\d+: .*regular expression"):
        _import(tmp_path, ["tickets.csv"], "t", mapping=TICKETS_MAP, categories=rules)


# ------------------------------------------------------------- workload


def test_workload_profile_hand_checked(tmp_path: Path) -> None:
    _import(tmp_path, ["workload.jsonl"], sample=2, min_per_category=1)
    w = json.loads((tmp_path / "tasks" / "s" / "workload.json").read_text())
    assert w["requests"] == 10  # all requests, not the 2 sampled
    assert w["volume_from"] == "timestamps" and w["days_observed"] == 2 and not w["estimated"]
    assert w["source"] == "evals import: 10 timestamped requests on 2 days (2025-03-01 to 2025-03-02)"
    assert w["requests_per_day"] == 5.0  # 6 on Mar 1, 4 on Mar 2
    assert w["requests_per_month"] == 152.2  # 5 * 365.25 / 12
    # Mar 1: 4 of 6 in 09:00-10:00 UTC (one logged as 10:59:59+01:00); Mar 2: 3 of 4 in 20:00-21:00.
    assert w["peak_hour_share"] == round((4 / 6 + 3 / 4) / 2, 4)
    billing, code = w["categories"]["billing"], w["categories"]["code"]
    assert billing["requests"] == 6 and billing["share"] == 0.6
    assert billing["input_tokens"] == {"count": 6, "mean": 35.0, "p50": 35.0, "p95": 57.5, "estimated": False, "estimated_count": 0}
    assert billing["output_tokens"] == {"count": 6, "mean": 20.0, "p50": 5.0, "p95": 72.5, "estimated": False, "estimated_count": 0}
    assert (billing["avg_input_tokens"], billing["avg_output_tokens"]) == (35.0, 20.0)
    # No usage logged for code: characters / 4 (40, 80, 120, 400 chars; answers 4, 12, 20, 100 chars).
    assert code["input_tokens"] == {"count": 4, "mean": 40.0, "p50": 25.0, "p95": 89.5, "estimated": True, "estimated_count": 4}
    assert code["output_tokens"] == {"count": 4, "mean": 8.5, "p50": 4.0, "p95": 22.0, "estimated": True, "estimated_count": 4}


def test_workload_profile_feeds_the_cost_projection(tmp_path: Path) -> None:
    from evals.report.economics import workload_used

    _import(tmp_path, ["workload.jsonl"])
    used = workload_used(load_suite(tmp_path / "tasks" / "s").workload, {"billing": 6, "code": 4})
    assert used.requests_per_month == 152.2 and used.peak_hour_share == 0.7083
    assert used.category_share == {"billing": 0.6, "code": 0.4} and not used.estimated


def test_workload_volume_from_the_user_or_unknown(tmp_path: Path) -> None:
    _import(tmp_path, ["tickets.csv"], "given", mapping={"input": "prompt"}, volume_per_day=1200)
    w = json.loads((tmp_path / "tasks" / "given" / "workload.json").read_text())
    assert (w["volume_from"], w["requests_per_day"], w["requests_per_month"], w["peak_hour_share"]) == ("user", 1200.0, 36525.0, None)
    _import(tmp_path, ["tickets.csv"], "unknown", mapping={"input": "prompt"})
    w = json.loads((tmp_path / "tasks" / "unknown" / "workload.json").read_text())
    assert w["volume_from"] == "unknown" and w["requests_per_day"] is None and w["estimated"]
    assert "no timestamps" in w["source"]


def test_timestamps_out_of_range_cost_one_request_not_the_import() -> None:
    from evals.traffic.values import parse_timestamp

    for bad in (10**400, 1e20, "9999-12-31T23:59:59-05:00", "not a date", float("nan"), -5):
        assert parse_timestamp(bad) is None, bad
    assert parse_timestamp("2026-11-01T12:00:00Z") == 1793534400.0
    assert parse_timestamp(1793534400000) == 1793534400.0
