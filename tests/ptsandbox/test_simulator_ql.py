"""The emulator's query-language parser and compiler, without HTTP."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from prefect_soar.simulators.ptsandbox_ql import (
    BoolOp,
    Condition,
    Not,
    OrderItem,
    QLError,
    QLField,
    compile_query,
    parse,
    parse_datetime,
    parse_duration,
)

FIELDS = {
    "level": QLField("level", "enum", lambda r: r.level, frozenset({"LOW", "HIGH"}), {"LOW": 0, "HIGH": 1}),
    "name": QLField("name", "text", lambda r: r.name),
    "size": QLField("size", "number", lambda r: r.size),
    "age": QLField("age", "duration", lambda r: r.start),
}
ROWS = [
    SimpleNamespace(id="a", level="LOW", name="alpha", size=5, start=1000.0),
    SimpleNamespace(id="b", level="HIGH", name="beta", size=50, start=1900.0),
    SimpleNamespace(id="c", level="HIGH", name="gamma", size=500, start=1990.0),
]


def run(query: str) -> list[str]:
    compiled = compile_query(query, FIELDS, now=2000.0, default_order=(OrderItem("name", False),))
    return [r.id for r in sorted((r for r in ROWS if compiled.matches(r)), key=compiled.sort_key)]


def test_and_binds_tighter_than_or_and_parentheses_override() -> None:
    tree = parse("a = 1 OR b = 2 AND c = 3")
    assert isinstance(tree.where, BoolOp) and tree.where.op == "OR"
    assert isinstance(tree.where.terms[1], BoolOp) and tree.where.terms[1].op == "AND"
    grouped = parse("(a = 1 OR b = 2) AND c = 3")
    assert isinstance(grouped.where, BoolOp) and grouped.where.op == "AND"


def test_keywords_are_case_insensitive_and_values_keep_their_text() -> None:
    parsed = parse("name in ('x y', \"it\\'s\") and not size >= 3 order by name desc, size")
    assert isinstance(parsed.where, BoolOp)
    condition, negated = parsed.where.terms
    assert condition == Condition("name", "IN", ("x y", "it's"), 0)
    assert isinstance(negated, Not)
    assert parsed.order == (OrderItem("name", True), OrderItem("size", False))
    assert parse("").where is None and parse("ORDER BY size").where is None


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ("level = high", ["b", "c"]),
        ("level != HIGH", ["a"]),
        ("size < 50", ["a"]),
        ("size <= 50", ["a", "b"]),
        ("size > 50", ["c"]),
        ("size >= 50 AND name <> gamma", ["b"]),
        ("name IN (alpha, gamma)", ["a", "c"]),
        ("name NOT IN (alpha)", ["b", "c"]),
        ("age < 101s", ["b", "c"]),
        ("age < 1m OR level = LOW", ["a", "c"]),
        ("NOT (level = LOW OR size > 100)", ["b"]),
        ("ORDER BY level DESC, name DESC", ["c", "b", "a"]),
        ("ORDER BY age", ["c", "b", "a"]),
        ("ORDER BY size DESC", ["c", "b", "a"]),
    ],
)
def test_operators(query: str, ids: list[str]) -> None:
    assert run(query) == ids


def test_cursor_keys_round_trip_and_belong_to_their_query() -> None:
    compiled = compile_query("ORDER BY name DESC", FIELDS, now=0)
    values = compiled.sort_values(ROWS[0])
    assert values == ["alpha", "a"]
    assert compiled.key_from_values(values) == compiled.sort_key(ROWS[0])
    assert compiled.sort_key(ROWS[1]) < compiled.sort_key(ROWS[0])  # DESC on text
    with pytest.raises(QLError, match="cursor"):
        compiled.key_from_values(["alpha"])


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("level", "expected an operator"),
        ("level = LOW AND", "expected a field name, found end of query"),
        ("level IN LOW", "expected '(' after IN"),
        ("level IN (LOW", "closing the IN list"),
        ("level NOT = LOW", "expected IN after NOT"),
        ("size = big", "expected a number"),
        ("ORDER name", "expected BY"),
        (")", "expected a field name"),
        ("level = LOW)", "unexpected ')' at position 11"),
    ],
)
def test_errors_say_what_and_where(query: str, message: str) -> None:
    with pytest.raises(QLError) as caught:
        compile_query(query, FIELDS, now=0)
    assert message in str(caught.value)


def test_literals() -> None:
    assert parse_duration("30d") == 30 * 86400 and parse_duration("1.5h") == 5400 and parse_duration("2W") == 1209600
    assert parse_datetime("1970-01-02") == 86400
    assert parse_datetime("1970-01-02T00:00:00", utc_offset_seconds=3600) == 86400 - 3600
    assert parse_datetime("1970-01-02T00:00:00+02:00") == 86400 - 7200
    assert parse_datetime("1970-01-01T00:00:01.500Z") == 1.5
    assert parse_datetime("1741947693.5") == 1741947693.5
    for bad in ("7", "7y", "d"):
        with pytest.raises(QLError):
            parse_duration(bad)
