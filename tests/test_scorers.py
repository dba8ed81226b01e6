"""Built-in scorers, JSON extraction, confusion matrix and pass rules."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from evals.config import PassRule, ScorerSpec
from evals.scoring import Score, build
from evals.scoring.confusion import confusion_matrix
from evals.scoring.extract import extract_json, last_number, normalize
from evals.scoring.passrule import combine, merge_args
from evals.suite.sample import Sample

NO_REF = object()


def grade(name: str, output: str, reference: Any = NO_REF, **args: Any) -> Score:
    sample = Sample(id="s1", input=[{"role": "user", "content": "q"}])
    if reference is not NO_REF:
        sample.reference = reference
    return asyncio.run(build(name, args)(output, sample))


def assert_ungradable(score: Score) -> None:
    assert score.error and not score.passed and score.value == 0


# ---------------------------------------------------------------- extraction helpers


def test_normalize_strips_wrapping() -> None:
    assert normalize('  "Paris."  ') == "paris"
    assert normalize("**New   York**!") == "new york"
    assert normalize("\u201cYes\u201d") == "yes"


@pytest.mark.parametrize(
    ("text", "value", "percent"),
    [
        ("The total is 1,234.5 dollars.", 1234.5, False),
        ("first 3 then -3", -3.0, False),
        ("about 1e3 units", 1000.0, False),
        ("growth of 12%", 12.0, True),
        ("on 2024-05-01", 1.0, False),
        ("\u22127.5", -7.5, False),
    ],
)
def test_last_number(text: str, value: float, percent: bool) -> None:
    n = last_number(text)
    assert n is not None and n.value == value and n.percent == percent


def test_extract_json_raw_fenced_chatty() -> None:
    assert extract_json('{"a": 1}') == ({"a": 1}, None)
    fenced = 'Sure!\n```json\n{"a": [1, 2]}\n```\nAnything else?'
    assert extract_json(fenced) == ({"a": [1, 2]}, None)
    chatty = 'Here you go [see below]: {"name": "Ada", "tags": ["x}"]} Hope that helps.'
    assert extract_json(chatty) == ({"name": "Ada", "tags": ["x}"]}, None)


def test_extract_json_invalid() -> None:
    value, error = extract_json("```json\n{'a': 1}\n```")
    assert value is None and error and "fenced block" in error
    value, error = extract_json("no json here")
    assert value is None and error
    value, error = extract_json("NaN")
    assert value is None and error
    value, error = extract_json("[" * 100_000)
    assert value is None and error


# ---------------------------------------------------------------- exact, contains, regex


def test_exact() -> None:
    assert grade("exact", ' "Paris." ', "paris").passed
    assert not grade("exact", "Paris", "London").passed
    assert not grade("exact", "paris", "Paris", normalize=False).passed
    assert grade("exact", "NYC", ["New York", "NYC"]).passed
    assert_ungradable(grade("exact", "Paris"))
    assert_ungradable(grade("exact", "Paris", {"city": "Paris"}))
    with pytest.raises(ValueError, match="'exact'.*normalize"):
        build("exact", {"normalize": "yes"})


def test_contains() -> None:
    s = grade("contains", "The refund was\nissued today", all=["refund was issued", "TODAY"])
    assert s.passed and s.value == 1
    s = grade("contains", "The refund was issued", all=["refund", "today"], any=["issued", "sent"])
    assert not s.passed and s.value == pytest.approx(2 / 3) and "today" in s.explanation
    assert not grade("contains", "Today", any=["today"], case_sensitive=True).passed
    assert grade("contains", "The capital is Paris.", "Paris").passed
    assert_ungradable(grade("contains", "The capital is Paris."))
    with pytest.raises(ValueError, match="'contains'.*`any`"):
        build("contains", {"any": "today"})


def test_regex() -> None:
    assert grade("regex", "Ticket TCK-123 opened", pattern=r"TCK-\d+").passed
    assert grade("regex", "  yes\n", pattern="YES", flags="i", fullmatch=True).passed
    assert not grade("regex", "yes, sure", pattern="yes", fullmatch=True).passed
    with pytest.raises(ValueError, match="'regex'.*`pattern`"):
        build("regex", {"pattern": "(unclosed"})
    with pytest.raises(ValueError, match="'regex'.*`flags`"):
        build("regex", {"pattern": "x", "flags": "ix"})


def test_unknown_argument_names_the_scorer() -> None:
    with pytest.raises(TypeError, match="'regex'"):
        build("regex", {"pattern": "x", "flag": "i"})


# ---------------------------------------------------------------- numeric


def test_numeric() -> None:
    assert grade("numeric", "So the answer is 1,234.5", 1234.5).passed
    assert grade("numeric", "about 101", 100).passed  # within the default 1%
    assert not grade("numeric", "about 102", 100).passed
    assert grade("numeric", "It rose 12%", 0.12).passed
    assert grade("numeric", "0.12", "12%").passed
    assert grade("numeric", "41", 42, abs_tol=1, rel_tol=0).passed
    s = grade("numeric", "no idea", 42)
    assert not s.passed and s.error is None and s.details["predicted"] is None
    assert_ungradable(grade("numeric", "42"))
    assert_ungradable(grade("numeric", "42", "forty-two"))
    with pytest.raises(ValueError, match="'numeric'.*`rel_tol`"):
        build("numeric", {"rel_tol": -0.1})


# ---------------------------------------------------------------- label


LABELS = ["spam", "not spam", "unsure"]


def test_label_pass_and_fail() -> None:
    s = grade("label", "Spam.", "spam", labels=LABELS)
    assert s.passed and s.details == {"expected": "spam", "predicted": "spam"}
    s = grade("label", "I think this is not spam at all", "spam", labels=LABELS)
    assert not s.passed and s.details == {"expected": "spam", "predicted": "not spam"}


def test_label_none_or_several_is_no_prediction() -> None:
    s = grade("label", "It could be spam, or I am unsure", "spam", labels=LABELS)
    assert not s.passed and s.details["predicted"] is None and "several" in s.explanation
    s = grade("label", "No comment", "spam", labels=LABELS)
    assert not s.passed and s.details["predicted"] is None and "none" in s.explanation


def test_label_unhappy_paths() -> None:
    assert_ungradable(grade("label", "spam", labels=LABELS))
    assert_ungradable(grade("label", "spam", "ham", labels=LABELS))
    assert grade("label", "1", 1, labels=["0", "1"]).passed
    with pytest.raises(ValueError, match="'label'.*`labels`"):
        build("label", {"labels": ["Spam", "spam."]})


# ---------------------------------------------------------------- JSON scorers


def test_json_valid() -> None:
    assert grade("json_valid", 'Result:\n```json\n{"ok": true}\n```').passed
    s = grade("json_valid", "{'ok': True}")
    assert not s.passed and s.error is None and s.explanation


SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer"},
        "email": {"type": "string", "format": "email"},
    },
    "required": ["name", "age"],
}


def test_json_schema_validation() -> None:
    assert grade("json_schema", '{"name": "Ada", "age": 36}', schema=SCHEMA).passed
    s = grade("json_schema", 'Here: {"name": "Ada", "age": "36", "email": "nope"}', schema=SCHEMA)
    assert not s.passed and s.value == 0 and "age" in s.explanation and len(s.details["schema_errors"]) == 2
    with pytest.raises(ValueError, match="'json_schema'.*`schema`"):
        build("json_schema", {"schema": {"type": "nonsense"}})
    with pytest.raises(ValueError, match="'json_schema'"):
        build("json_schema", {})


def test_json_schema_match_reference() -> None:
    ref = {"name": "Ada Lovelace", "age": 36, "city": "London"}
    out = '{"name": "ada lovelace", "age": 36.0, "city": "London", "x": 1}'
    s = grade("json_schema", out, ref, schema=SCHEMA, match_reference=True)
    assert s.passed and s.value == 1
    s = grade("json_schema", '{"name": "Ada Lovelace", "age": 37, "city": "Paris"}', ref, match_reference=True)
    assert not s.passed and s.value == pytest.approx(1 / 3) and "age, city" in s.explanation
    s = grade("json_schema", "not json", ref, match_reference=True)
    assert not s.passed and s.value == 0 and s.error is None
    assert_ungradable(grade("json_schema", "{}", match_reference=True))
    assert_ungradable(grade("json_schema", "{}", "Ada", match_reference=True))



def test_json_schema_match_reference_accepts_a_logged_json_answer() -> None:
    """`evals import` keeps a logged answer as text: a JSON object in it is the reference."""
    ref = '{"name": "Ada Lovelace", "age": 36, "city": "London"}'
    assert grade("json_schema", '{"name": "ada lovelace", "age": 36.0, "city": "London"}', ref, match_reference=True).passed
    s = grade("json_schema", '{"name": "Ada Lovelace", "age": 37, "city": "London"}', f"```json\n{ref}\n```", match_reference=True)
    assert not s.passed and "age" in s.explanation
    assert_ungradable(grade("json_schema", "{}", '["a list", "not an object"]', match_reference=True))

# ---------------------------------------------------------------- similarity


def test_similarity_metrics() -> None:
    ref = "the cat sat on the mat"
    for metric in ("rougeL", "bleu", "chrf"):
        same = grade("similarity", ref, ref, metric=metric)
        assert same.passed and same.value == pytest.approx(1.0)
        other = grade("similarity", "quantum chromodynamics lecture", ref, metric=metric)
        assert not other.passed and other.value < 0.3
    assert grade("similarity", "the cat sat", ref).value == pytest.approx(2 * 1 * 0.5 / 1.5)  # P=1, R=0.5


def test_similarity_rouge_reads_other_scripts() -> None:
    # rouge-score's own tokenizer would drop every character here and score 0.
    japanese = "猫はマットの上に座った"
    assert grade("similarity", japanese, japanese).value == pytest.approx(1.0)
    assert grade("similarity", "Привет мир", "привет мир").value == pytest.approx(1.0)


def test_similarity_unhappy_paths() -> None:
    assert_ungradable(grade("similarity", "text"))
    with pytest.raises(ValueError, match="'similarity'.*`metric`"):
        build("similarity", {"metric": "meteor"})
    with pytest.raises(ValueError, match="'similarity'.*`threshold`"):
        build("similarity", {"threshold": 2})


# ---------------------------------------------------------------- confusion matrix


def test_confusion_matrix_numbers() -> None:
    pairs = [("spam", "spam")] * 3 + [("spam", "ham")] + [("ham", "ham")] * 4 + [("ham", "spam")] * 2
    pairs.append(("ham", None))
    cm = confusion_matrix(pairs)
    assert cm["labels"] == ["ham", "spam", "(none)"]
    assert cm["matrix"] == [[4, 2, 1], [1, 3, 0], [0, 0, 0]]
    assert cm["n"] == 11 and cm["accuracy"] == pytest.approx(7 / 11)
    spam = cm["per_label"]["spam"]
    assert spam["precision"] == pytest.approx(3 / 5) and spam["recall"] == pytest.approx(3 / 4)
    assert spam["f1"] == pytest.approx(2 * 0.6 * 0.75 / 1.35)
    ham = cm["per_label"]["ham"]
    assert ham["precision"] == pytest.approx(4 / 5) and ham["recall"] == pytest.approx(4 / 7) and ham["support"] == 7
    assert cm["macro_f1"] == pytest.approx((spam["f1"] + ham["f1"]) / 2)


def test_confusion_matrix_undefined_precision_and_empty() -> None:
    cm = confusion_matrix([("a", "b"), ("a", "b")])
    assert cm["per_label"]["a"]["precision"] is None and cm["per_label"]["a"]["f1"] == 0
    assert cm["per_label"]["b"]["recall"] is None
    assert confusion_matrix([])["accuracy"] is None


# ---------------------------------------------------------------- pass rules and overrides


def result(
    name: str, value: float, passed: bool, weight: float = 1.0, error: str | None = None
) -> tuple[ScorerSpec, Score]:
    return ScorerSpec(name=name, weight=weight), Score(value=value, passed=passed, error=error)


def test_pass_rule_all_and_any() -> None:
    rs = [result("a", 1.0, True), result("b", 0.4, False)]
    assert combine(rs, PassRule(mode="all")) == (0.4, False)
    assert combine(rs, PassRule(mode="any")) == (1.0, True)


def test_pass_rule_weighted() -> None:
    rs = [result("a", 1.0, True, weight=3), result("b", 0.0, False, weight=1)]
    assert combine(rs, PassRule(mode="weighted", threshold=0.75)) == (0.75, True)
    assert combine(rs, PassRule(mode="weighted", threshold=0.8)) == (0.75, False)
    thirds = [result(x, 1.0, True, weight=w) for x, w in (("a", 0.1), ("b", 0.2), ("c", 0.7))]
    assert combine(thirds, PassRule(mode="weighted", threshold=1.0))[1]


def test_pass_rule_error_counts_as_failed() -> None:
    rs = [result("a", 1.0, True), result("judge", 1.0, True, error="unparseable verdict")]
    assert combine(rs, PassRule(mode="all")) == (0.0, False)
    assert combine(rs, PassRule(mode="weighted", threshold=0.6)) == (0.5, False)
    assert combine([rs[1]], PassRule(mode="any")) == (0.0, False)
    with pytest.raises(ValueError):
        combine([], PassRule())


def test_merge_args_sample_overrides_suite() -> None:
    sample = [{"name": "regex", "pattern": "B"}, {"name": "numeric", "abs_tol": 1}]
    assert merge_args({"pattern": "A", "flags": "i"}, sample, "regex") == {"pattern": "B", "flags": "i"}
    assert merge_args({"rel_tol": 0.1}, None, "numeric") == {"rel_tol": 0.1}
    with pytest.raises(ValueError, match="name"):
        merge_args({}, [{"pattern": "x"}], "regex")
