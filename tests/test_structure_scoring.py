"""Tool calls compared as data: one hand-written case per rule of evals.scoring.structure."""

from __future__ import annotations

import json

import pytest

from evals.scoring.structure import compare_call, match_calls, reference_calls, tool_schemas, validate_calls

BOOK = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "nights": {"type": "integer"},
        "budget": {"type": "number"},
        "room": {"type": "string", "enum": ["single", "double"]},
        "breakfast": {"type": "boolean"},
        "guest": {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}},
        "dates": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["city", "nights"],
    "additionalProperties": False,
}
TOOLS = [{"type": "function", "function": {"name": "book", "parameters": BOOK}}, {"type": "function", "function": {"name": "cancel", "parameters": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}}}]
SCHEMAS = tool_schemas(TOOLS)


def call(name: str, **args: object) -> dict:
    return {"name": name, "arguments": json.dumps(args)}


def diff(expected: dict, got: dict, **tol: float) -> str | None:
    return compare_call(expected, got, SCHEMAS.get(expected["name"]), **tol)


def test_name_is_exact() -> None:
    assert diff(call("book", city="Oslo", nights=2), call("Book", city="Oslo", nights=2)) == "called 'Book', expected 'book'"


def test_required_argument_must_be_present_even_when_the_reference_lacks_it() -> None:
    assert diff({"name": "book", "arguments": {"city": "Oslo"}}, call("book", city="Oslo")) == "book.nights: required, missing"


def test_reference_argument_missing_is_named() -> None:
    assert diff(call("book", city="Oslo", nights=2, budget=100), call("book", city="Oslo", nights=2)) == "book.budget: expected 100, missing"


def test_optional_argument_the_reference_lacks_is_ignored() -> None:
    assert diff(call("book", city="Oslo", nights=2), call("book", city="Oslo", nights=2, breakfast=True)) is None


def test_numbers_within_tolerance() -> None:
    # |100.4 - 100| = 0.4 <= max(0, 0.005 * 100) = 0.5: a match; 100.6 is 0.6 > 0.5
    assert diff(call("book", city="X", nights=1, budget=100), call("book", city="X", nights=1, budget=100.4), rel_tol=0.005) is None
    assert diff(call("book", city="X", nights=1, budget=100), call("book", city="X", nights=1, budget=100.6), rel_tol=0.005) == "book.budget: expected 100, got 100.6"
    # an int and a float of the same value are equal; abs_tol alone: |2.04 - 2| = 0.04 <= 0.05
    assert diff(call("book", city="X", nights=2), call("book", city="X", nights=2.0)) is None
    assert diff(call("book", city="X", nights=1, budget=2), call("book", city="X", nights=1, budget=2.04), abs_tol=0.05) is None


def test_strings_are_normalised() -> None:
    assert diff(call("book", city="New York", nights=1), call("book", city="  new   york. ", nights=1)) is None
    assert diff(call("book", city="New York", nights=1), call("book", city="Newark", nights=1)) == 'book.city: expected "New York", got "Newark"'


def test_enum_values_compare_exactly() -> None:
    assert diff(call("book", city="X", nights=1, room="double"), call("book", city="X", nights=1, room="Double")) == 'book.room: expected "double", got "Double" (enum values compare exactly)'


def test_booleans_only_equal_booleans() -> None:
    assert diff(call("book", city="X", nights=1, breakfast=True), call("book", city="X", nights=1, breakfast=1)) == "book.breakfast: expected true, got 1"


def test_nested_objects_and_arrays_recursively() -> None:
    ref = call("book", city="X", nights=1, guest={"name": "Ann", "age": 30}, dates=["2026-01-01", "2026-01-02"])
    assert diff(ref, call("book", city="X", nights=1, guest={"name": "ann", "age": 30}, dates=["2026-01-01", "2026-01-02"])) is None
    assert diff(ref, call("book", city="X", nights=1, guest={"name": "Ann", "age": 31}, dates=["2026-01-01", "2026-01-02"])) == "book.guest.age: expected 30, got 31"
    assert diff(ref, call("book", city="X", nights=1, guest={"name": "Ann", "age": 30}, dates=["2026-01-02", "2026-01-01"])) == 'book.dates[0]: expected "2026-01-01", got "2026-01-02"'
    assert diff(ref, call("book", city="X", nights=1, guest={"name": "Ann", "age": 30}, dates=["2026-01-01"])) == "book.dates: expected 2 items, got 1"


def test_invalid_json_arguments_fail_with_a_reason() -> None:
    got = {"name": "book", "arguments": '{"city": "X"'}
    assert diff(call("book", city="X", nights=1), got).startswith("book: arguments are not valid JSON")


def test_parallel_calls_are_an_order_free_multiset() -> None:
    expected = [call("cancel", id="a"), call("cancel", id="b"), call("book", city="X", nights=1)]
    got = [call("book", city="X", nights=1), call("cancel", id="b"), call("cancel", id="a")]
    assert match_calls(expected, got, SCHEMAS) == (3, [])


def test_parallel_calls_count_and_differences() -> None:
    expected = [call("cancel", id="a"), call("cancel", id="b")]
    # one right, one with the wrong id: the wrong one is explained against its same-name partner
    assert match_calls(expected, [call("cancel", id="a"), call("cancel", id="c")], SCHEMAS) == (1, ['cancel.id: expected "b", got "c"'])
    # a duplicate does not count twice: the multiset {a, a} is not {a, b}
    assert match_calls(expected, [call("cancel", id="a"), call("cancel", id="a")], SCHEMAS)[0] == 1
    assert match_calls(expected, [call("cancel", id="a")], SCHEMAS) == (1, ["expected call 'cancel' was not made"])
    assert match_calls([], [call("cancel", id="a")], SCHEMAS) == (0, ["extra call 'cancel'"])


def test_schema_mode_validates_against_the_requests_tools() -> None:
    assert validate_calls([call("book", city="X", nights=1)], SCHEMAS) == []
    assert validate_calls([call("book", city="X", nights="one")], SCHEMAS) == ["book.nights: 'one' is not of type 'integer'"]
    assert validate_calls([call("book", city="X", nights=1, pets=2)], SCHEMAS) == ["book: Additional properties are not allowed ('pets' was unexpected)"]
    assert validate_calls([call("refund", id="a")], SCHEMAS) == ["called 'refund', which is not one of the request's tools (book, cancel)"]


@pytest.mark.parametrize(
    ("reference", "calls"),
    [
        ('[{"name": "cancel", "arguments": "{\\"id\\": \\"a\\"}"}]', [{"name": "cancel", "arguments": '{"id": "a"}'}]),
        ({"name": "cancel", "arguments": {"id": "a"}}, [{"name": "cancel", "arguments": {"id": "a"}}]),
        ([{"type": "function", "function": {"name": "cancel", "arguments": "{}"}}], [{"name": "cancel", "arguments": "{}"}]),
        ("a plain answer", None),
        (None, None),
    ],
)
def test_reference_shapes(reference: object, calls: list | None) -> None:
    assert reference_calls(reference) == calls


def test_the_readme_worked_example() -> None:
    """README "Agent and structured-output traffic": the example suite's refund tool, row by row."""
    from evals.examples.make_support_suite import AGENT_TOOLS

    schemas = tool_schemas(AGENT_TOOLS)
    logged = {"name": "issue_refund", "arguments": '{"order_id": "ORD-43911", "amount": 238.93, "currency": "GBP", "reason": "duplicate_charge"}'}
    args = {"order_id": "ORD-43911", "amount": 238.930, "currency": "GBP", "reason": "duplicate_charge"}
    assert match_calls([logged], [call("issue_refund", **args)], schemas) == (1, [])
    assert match_calls([logged], [call("issue_refund", **args, note="sorry!")], schemas) == (1, [])
    assert match_calls([logged], [call("issue_refund", **{**args, "currency": "gbp"})], schemas) == (0, ['issue_refund.currency: expected "GBP", got "gbp" (enum values compare exactly)'])
    assert match_calls([logged], [call("issue_refund", **{**args, "amount": 239})], schemas) == (0, ["issue_refund.amount: expected 238.93, got 239"])
    assert match_calls([logged], [call("get_order", order_id="ORD-43911")], schemas) == (0, ["called 'get_order', expected 'issue_refund'"])


def test_label_scorer_on_tool_names() -> None:
    """Which tool was chosen, as a classification: the label scorer with `on: tool_name`."""
    import asyncio

    from evals.providers.base import Completion, Status
    from evals.scoring.base import build
    from evals.suite.sample import Sample

    fn = build("label", {"labels": ["book", "cancel"], "on": "tool_name"})
    sample = Sample(id="s", input=[{"role": "user", "content": "cancel a"}], tools=TOOLS, reference=[{"name": "cancel", "arguments": '{"id": "a"}'}])

    def answer(*names: str) -> Completion:
        return Completion(status=Status.ok, tool_calls=[{"id": str(i), "type": "function", "function": {"name": n, "arguments": "{}"}} for i, n in enumerate(names)])

    right, wrong, none, both = (asyncio.run(fn(answer(*n), sample)) for n in (("cancel",), ("book",), (), ("book", "cancel")))
    assert right.passed and right.details == {"expected": "cancel", "predicted": "cancel"}
    assert not wrong.passed and wrong.details == {"expected": "cancel", "predicted": "book"}
    assert not none.passed and none.details["predicted"] is None and not both.passed
    # text mode still reads the text, from a Completion or a plain string
    text_fn = build("label", {"labels": ["book", "cancel"]})
    plain = Sample(id="t", input=[{"role": "user", "content": "x"}], reference="book")
    assert asyncio.run(text_fn(Completion(status=Status.ok, text="Book"), plain)).passed
