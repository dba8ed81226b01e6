"""Bad input gets an error naming the file, line and field, and what to do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.config import ConfigError, load_runner, load_suite
from evals.suite.load import load_samples

RUNNER = """name: local
provider: openai_compatible
model: m
base_url: http://localhost:8000/v1
concurrency: 8
pricing:
  self_hosted:
    gpu: A100-80GB
    gpus: 4
    cloud_price_per_gpu_hour: 1.79
"""


def _suite(tmp_path: Path, yaml_text: str, lines: list[str] | None = None, name: str = "samples.jsonl") -> Path:
    d = tmp_path / "s"
    d.mkdir(exist_ok=True)
    (d / "suite.yaml").write_text(yaml_text)
    if lines is not None:
        (d / name).write_text("\n".join(lines) + "\n")
    return d


def test_valid_runner_loads(tmp_path: Path) -> None:
    p = tmp_path / "r.yaml"
    p.write_text(RUNNER)
    r = load_runner(p)
    assert r.pricing.self_hosted and r.pricing.self_hosted.hourly_cost_usd() == pytest.approx(7.16)


def test_unknown_key_names_file_line_and_field(tmp_path: Path) -> None:
    p = tmp_path / "r.yaml"
    p.write_text(RUNNER.replace("concurrency: 8", "concurency: 8"))
    with pytest.raises(ConfigError) as e:
        load_runner(p)
    msg = str(e.value)
    assert f"{p}:5" in msg and "`concurency`" in msg and "unknown field" in msg


def test_wrong_type_names_nested_field_and_value(tmp_path: Path) -> None:
    p = tmp_path / "r.yaml"
    p.write_text(RUNNER.replace("gpus: 4", "gpus: four"))
    with pytest.raises(ConfigError) as e:
        load_runner(p)
    msg = str(e.value)
    assert f"{p}:9" in msg and "pricing.self_hosted.gpus" in msg and "'four'" in msg


def test_pricing_needs_exactly_one_kind(tmp_path: Path) -> None:
    p = tmp_path / "r.yaml"
    p.write_text(RUNNER + "  api:\n    model: gpt-5\n")
    with pytest.raises(ConfigError, match="exactly one of `api` or `self_hosted`"):
        load_runner(p)


def test_invalid_yaml_names_line(tmp_path: Path) -> None:
    p = tmp_path / "r.yaml"
    p.write_text("name: x\nprovider: [unclosed\n")
    with pytest.raises(ConfigError, match=r"r\.yaml:\d+: not valid YAML"):
        load_runner(p)


def test_missing_samples_file(tmp_path: Path) -> None:
    d = _suite(tmp_path, "name: s\nsamples: nope.jsonl\n")
    with pytest.raises(ConfigError, match=r"suite\.yaml:2: `samples`: file .*nope\.jsonl not found"):
        load_suite(d)


def test_bad_jsonl_line_is_named(tmp_path: Path) -> None:
    d = _suite(tmp_path, "name: s\n", ['{"input": "hi", "reference": "a"}', '{"input": "oops", '])
    with pytest.raises(ConfigError, match=r"samples\.jsonl:2: not valid JSON"):
        load_samples(load_suite(d))


def test_sample_without_input_says_how_to_map_it(tmp_path: Path) -> None:
    d = _suite(tmp_path, "name: s\n", ['{"prompt": "hi"}'])
    with pytest.raises(ConfigError, match=r"samples\.jsonl:1: missing field `input`.*fields\.input"):
        load_samples(load_suite(d))


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    d = _suite(tmp_path, "name: s\n", ['{"id": "a", "input": "x"}', '{"id": "a", "input": "y"}'])
    with pytest.raises(ConfigError, match="duplicate sample id 'a' \\(first at line 1\\)"):
        load_samples(load_suite(d))


def test_prompt_strings_become_messages_with_system_prompt_and_content_ids(tmp_path: Path) -> None:
    d = _suite(tmp_path, "name: s\nsystem_prompt: Be brief.\n", ['{"input": "hi", "reference": "a", "category": "c"}'])
    [s] = load_samples(load_suite(d))
    assert s.input == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    assert len(s.id) == 16 and s.category == "c"


def test_csv_through_datasets_with_field_mapping(tmp_path: Path) -> None:
    d = _suite(tmp_path, "name: s\nsamples: traffic.csv\nfields:\n  input: prompt\n  reference: answer\n  category: route\n", ["prompt,answer,route", "What is 2+2?,4,math", '"Hello, world",hi,chat'], name="traffic.csv")
    samples = load_samples(load_suite(d))
    assert [(s.input[-1]["content"], s.reference, s.category) for s in samples] == [("What is 2+2?", "4", "math"), ("Hello, world", "hi", "chat")]


def test_parquet_through_datasets(tmp_path: Path) -> None:
    import pandas as pd

    d = _suite(tmp_path, "name: s\nsamples: s.parquet\n")
    pd.DataFrame({"id": ["a", "b"], "input": ["x", "y"], "reference": ["1", "2"]}).to_parquet(d / "s.parquet")
    assert [s.id for s in load_samples(load_suite(d))] == ["a", "b"]


def test_message_without_role_is_named(tmp_path: Path) -> None:
    d = _suite(tmp_path, "name: s\n", [json.dumps({"input": [{"content": "x"}]})])
    with pytest.raises(ConfigError, match=r"samples\.jsonl:1: `input\[0\]`: each message needs a role"):
        load_samples(load_suite(d))


def test_simulated_accuracy_needs_a_default(tmp_path: Path) -> None:
    p = tmp_path / "r.yaml"
    p.write_text("name: s\nprovider: simulated\nmodel: m\nsimulate:\n  accuracy: {triage: 0.9}\npricing:\n  api: {model: gpt-5}\n")
    with pytest.raises(ConfigError, match="`default`"):
        load_runner(p)
