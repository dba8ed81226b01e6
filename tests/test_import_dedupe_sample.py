"""Deduplication and stratified sampling in `evals import`."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from evals.traffic import ImportOptions, import_traffic
from evals.traffic.dedupe import NUM_PERM, Deduper
from evals.traffic.lsh import KeyIndex, Sketches, choose_bands
from evals.traffic.sample import StratifiedSampler, allocate

WORDS = [f"w{i}" for i in range(2000)]


def _text(seed: int, n: int = 120) -> str:
    return " ".join(random.Random(seed).choices(WORDS, k=n))


def _change(text: str, every: int) -> str:
    words = text.split()
    for i in range(0, len(words), every):
        words[i] = "changed"
    return " ".join(words)


# ------------------------------------------------------------- dedupe


def test_exact_repeats_ignore_case_and_whitespace() -> None:
    d = Deduper()
    assert d.check("sys", "Where is my  order?\n") is None
    assert d.check("sys", "where is my order?") == "exact"
    assert d.check("SYS ", "WHERE IS MY ORDER?") == "exact"
    assert d.check("other system prompt", "where is my order?") is None


def test_near_repeats_need_the_threshold_and_the_same_context() -> None:
    d = Deduper(near_threshold=0.9)
    base = _text(1)
    assert d.check("ctx", base) is None
    assert d.check("ctx", _change(base, 60)) == "near"  # 2 of 120 words: Jaccard of 3-grams ~0.95
    assert d.check("ctx", _change(base, 5)) is None  # 1 word in 5: Jaccard ~0.5
    assert d.check("another ctx", _change(base, 40)) is None  # same question, other product
    assert d.check("ctx", _text(2)) is None


def test_near_detection_off_keeps_near_repeats() -> None:
    d = Deduper(near_threshold=None)
    base = _text(3)
    assert d.check("", base) is None
    assert d.check("", _change(base, 60)) is None
    assert d.check("", base) == "exact"


def test_near_repeat_rate_matches_the_threshold() -> None:
    """Of many pairs well above the threshold nearly all are caught; of pairs well below, none."""
    d = Deduper(near_threshold=0.8)
    above = below = 0
    for seed in range(200):
        base = _text(100 + seed)
        d.check("", base)
        above += d.check("", _change(base, 40)) == "near"  # ~0.92
    for seed in range(200):
        base = _text(1000 + seed)
        d.check("", base)
        below += d.check("", _change(base, 8)) == "near"  # ~0.6
    assert above >= 190 and below == 0


def test_bands_keep_recall_at_the_threshold() -> None:
    for threshold in (0.5, 0.8, 0.9, 0.95):
        bands, rows = choose_bands(threshold, NUM_PERM)
        assert bands * rows <= NUM_PERM
        assert 1 - (1 - threshold**rows) ** bands >= 0.98
    assert choose_bands(0.9, 64) == (8, 8)


def test_key_index_survives_merges() -> None:
    index = KeyIndex(buffer_size=8)
    rng = random.Random(0)
    keys = list({rng.randrange(1, 2**64 - 1) for _ in range(100)})
    for i, k in enumerate(keys):
        assert index.get([k]) == [None]
        index.put(k, i)
    assert len(keys) == 100
    assert index.get(keys) == list(range(100))
    assert index.get([0, 2**64 - 1]) == [None, None]


def test_sketch_similarity_estimates_jaccard() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2**32, NUM_PERM, dtype=np.uint64).astype(np.uint32)
    b = a.copy()
    b[: NUM_PERM // 4] = rng.integers(0, 2**32, NUM_PERM // 4, dtype=np.uint64).astype(np.uint32)
    store = Sketches(NUM_PERM)
    row = store.append(Sketches.shrink(a))
    assert store.similarity(row, Sketches.shrink(a)) == 1.0
    assert store.similarity(row, Sketches.shrink(b)) == pytest.approx(0.75, abs=0.02)


def _log(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """rows of (category, system prompt, question) as OpenAI request lines."""
    with path.open("w", encoding="utf-8") as f:
        for category, system, question in rows:
            messages = [{"role": "system", "content": system}, {"role": "user", "content": question}]
            f.write(json.dumps({"request": {"messages": messages, "metadata": {"category": category}}}) + "\n")
    return path


def test_import_reports_what_dedupe_dropped(tmp_path: Path) -> None:
    base = _text(7)
    rows = [
        ("a", "Support bot.", base),
        ("a", "Support bot.", "  " + base.upper() + " "),  # exact after normalising
        ("a", "Support bot.", _change(base, 60)),  # near
        ("a", "Support bot.", _change(base, 59)),  # near
        ("a", "Sales bot.", base),  # other context: kept
        ("a", "Support bot.", _text(8)),  # distinct
    ]
    report = import_traffic([_log(tmp_path / "log.jsonl", rows)], "d", tmp_path, ImportOptions())
    assert (report.dedupe.exact, report.dedupe.near, report.dedupe.kept) == (1, 2, 3)
    assert report.records == 6 and report.sampling.selected == 3
    assert json.loads((tmp_path / "tasks" / "d" / "workload.json").read_text())["requests"] == 6


# ------------------------------------------------------------- sampling

def test_allocate_keeps_minimums_then_shares_by_size() -> None:
    assert allocate({"big": 1000, "mid": 15, "tiny": 4}, 30, 10) == {"big": 16, "mid": 10, "tiny": 4}
    assert allocate({"a": 600, "b": 300, "c": 100}, 100, 0) == {"a": 60, "b": 30, "c": 10}
    assert allocate({"a": 5, "b": 5}, 100, 10) == {"a": 5, "b": 5}
    assert sum(allocate({c: 50 + i for i, c in enumerate("abcdefg")}, 33, 2).values()) == 33
    # Minimums win over the total: losing a category is worse than a larger sample.
    assert allocate({c: 100 for c in "abcd"}, 10, 5) == {c: 5 for c in "abcd"}


def test_sampler_is_seeded_and_keeps_arrival_order() -> None:
    def run(seed: int) -> dict[str, list[int]]:
        s: StratifiedSampler[int] = StratifiedSampler(size=20, min_per_category=5, seed=seed)
        for i in range(500):
            s.offer("rare" if i % 100 == 0 else "common", i)
        return s.result()

    a, b, c = run(1), run(1), run(2)
    assert a == b and a != c
    assert a["rare"] == [0, 100, 200, 300, 400]
    assert len(a["common"]) == 15 and a["common"] == sorted(a["common"])


def test_sampler_is_uniform_within_a_category() -> None:
    hits: Counter[int] = Counter()
    for seed in range(1000):
        s: StratifiedSampler[int] = StratifiedSampler(size=10, min_per_category=0, seed=seed)
        for i in range(50):
            s.offer("x", i)
        hits.update(s.result()["x"])
    assert all(140 <= hits[i] <= 260 for i in range(50))  # expected 200 each


def test_import_sample_keeps_small_categories_and_is_seeded(tmp_path: Path) -> None:
    rows = [("big", "s", f"big question {i} " + _text(i, 20)) for i in range(300)]
    rows += [("mid", "s", f"mid question {i} " + _text(500 + i, 20)) for i in range(15)]
    rows += [("tiny", "s", f"tiny question {i} " + _text(900 + i, 20)) for i in range(4)]
    random.Random(0).shuffle(rows)
    log = _log(tmp_path / "log.jsonl", rows)

    def ids(suite: str, seed: int) -> list[str]:
        report = import_traffic([log], suite, tmp_path, ImportOptions(sample=30, seed=seed))
        assert report.sampling.selected_per_category == {"big": 16, "mid": 10, "tiny": 4}
        assert report.sampling.available == {"big": 300, "mid": 15, "tiny": 4}
        path = tmp_path / "tasks" / suite / "samples.jsonl"
        return [json.loads(line)["id"] for line in path.read_text().splitlines()]

    assert ids("a", seed=3) == ids("b", seed=3)
    assert ids("a2", seed=3) != ids("c", seed=4)
