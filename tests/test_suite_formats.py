"""Samples files other than JSON lines: CSV and TSV (pyarrow, cells kept as text), Parquet
(pyarrow) and JSON arrays (the standard library). None of them needs the optional `datasets`;
the import formats that do, say so."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evals.config import ConfigError, load_suite
from evals.suite.load import load_samples


def _suite(tmp_path: Path, samples_name: str, body: str | None = None) -> Path:
    d = tmp_path / "s"
    d.mkdir(exist_ok=True)
    (d / "suite.yaml").write_text(f"name: s\nsamples: {samples_name}\n")
    if body is not None:
        (d / samples_name).write_text(body)
    return d


def test_csv_cells_stay_text_and_empty_cells_are_absent(tmp_path: Path) -> None:
    d = _suite(tmp_path, "s.csv", 'id,input,reference,category\n007,"Code, please",007,\n8,Hi,,chat\n')
    a, b = load_samples(load_suite(d))
    assert (a.id, a.input[-1]["content"], a.reference, a.category) == ("007", "Code, please", "007", "all")  # not 7
    assert (b.id, b.reference, b.category) == ("8", None, "chat")


def test_tsv_and_messages_as_json_text(tmp_path: Path) -> None:
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "a\tb"}]
    cell = json.dumps(msgs)  # JSON writes the tab as \t, so the row still has two cells
    assert "\t" not in cell
    d = _suite(tmp_path, "s.tsv", f"input\treference\n{cell}\tyes\n")
    [s] = load_samples(load_suite(d))
    assert s.input == msgs and s.reference == "yes"


def test_json_array_and_json_lines_under_a_json_name(tmp_path: Path) -> None:
    rows = [{"id": "a", "input": "x", "reference": {"label": "L"}}, {"id": "b", "input": "y", "reference": "plain"}]
    d = _suite(tmp_path, "s.json", json.dumps(rows))
    assert [(s.id, s.reference) for s in load_samples(load_suite(d))] == [("a", {"label": "L"}), ("b", "plain")]  # mixed shapes
    (d / "s.json").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert [s.id for s in load_samples(load_suite(d))] == ["a", "b"]


def test_json_that_is_not_an_array_is_named(tmp_path: Path) -> None:
    d = _suite(tmp_path, "s.json", json.dumps({"input": "x"}))
    with pytest.raises(ConfigError, match=r"s\.json: expected a JSON array of samples"):
        load_samples(load_suite(d))


def test_unreadable_parquet_is_named(tmp_path: Path) -> None:
    d = _suite(tmp_path, "s.parquet", "not parquet at all")
    with pytest.raises(ConfigError, match=r"s\.parquet: could not be read as parquet"):
        load_samples(load_suite(d))


def test_parquet_loads_without_importing_datasets(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = _suite(tmp_path, "s.parquet")
    pq.write_table(pa.table({"id": ["a", "b"], "input": ["x", "y"], "reference": ["1", "2"]}), d / "s.parquet")
    code = f"import sys; from evals.config import load_suite; from evals.suite.load import load_samples; print([s.id for s in load_samples(load_suite({str(d)!r}))], 'datasets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['a', 'b'] False"


def test_import_of_a_datasets_only_format_without_datasets_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from evals.traffic.readers import FormatError, _dataset_rows

    monkeypatch.setitem(sys.modules, "datasets", None)  # `import datasets` now fails as if it were not installed
    (tmp_path / "logs.arrow").write_bytes(b"")
    with pytest.raises(FormatError, match=r"logs\.arrow: reading this format needs the optional `datasets` library: pip install 'workload-evals\[datasets\]'"):
        list(_dataset_rows(tmp_path / "logs.arrow"))
