"""The PT Sandbox query language (QL) subset understood by the lab emulator.

PT publishes no grammar; this is the subset the reference SDK shows, made strict so that a
client bug shows up as a 400 rather than as silently wrong results::

    query      := [expr] [ORDER BY order_item ("," order_item)*]
    expr       := and_expr (OR and_expr)*
    and_expr   := unary (AND unary)*
    unary      := NOT unary | "(" expr ")" | condition
    condition  := field op value | field [NOT] IN "(" value ("," value)* ")"
    op         := "=" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    order_item := field [ASC | DESC]

* Keywords (``AND OR NOT IN ORDER BY ASC DESC``) and field names are case-insensitive.
* Values are bare words or quoted strings (``'...'`` or ``"..."``, backslash escapes).
  Enum literals are unquoted and case-insensitive (``verdict = dangerous``); an unknown
  enum value is a 400.
* ``age`` takes a duration ``N[s|m|h|d|w]`` (``age < 7d``: started less than 7 days ago).
* Date-time fields (``start``) take an unquoted ISO 8601 value (``2025-03-14``,
  ``2025-03-14T10:00:00``, with or without fraction and ``Z``/offset) or an epoch number. A
  value without an offset is local time at ``utcOffsetSeconds``.
* Enum fields allow ``=``, ``!=`` and ``IN``; text fields add ``< <= > >=`` (ordinal);
  number, date-time and duration fields allow every comparison but ``IN`` is text/enum only.
* ``ORDER BY`` sorts by each item in turn, then by ``id``; the default order is
  ``start DESC``. Enum fields with a severity (the verdict) sort by severity, others by text.
* Anything else (an unknown field, a stray token, a wrong value type) raises
  :class:`QLError`, which the emulator answers with HTTP 400 and the message.

The field tables (which names exist, their types and getters) belong to the caller; this
module parses once (cached by text) and compiles a query into plain closures, so filtering a
hundred thousand rows stays fast.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache, reduce
from typing import Any, Literal

Kind = Literal["enum", "text", "number", "datetime", "duration"]
Predicate = Callable[[Any], bool]

_KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "ORDER", "BY", "ASC", "DESC"})
_ORDERING_OPS = frozenset({"<", "<=", ">", ">="})
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lp>\()|(?P<rp>\))|(?P<comma>,)|
        (?P<op><=|>=|!=|<>|=|<|>)|
        (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|
        (?P<word>[A-Za-z0-9_.:+\-]+)
    )""",
    re.VERBOSE,
)


class QLError(ValueError):
    """A query that is not valid QL; the message says what and where."""


@dataclass(frozen=True)
class QLField:
    """One queryable field.

    Attributes:
        name: Canonical name (used in messages).
        kind: Value type: ``enum``, ``text``, ``number``, ``datetime`` (epoch seconds) or
            ``duration`` (the row's age, computed from ``getter`` = its start epoch).
        getter: Row -> value.
        values: Allowed enum literals (upper case), for ``enum`` fields.
        rank: For an enum, literal -> sort rank (e.g. verdict severity); default: by text.
    """

    name: str
    kind: Kind
    getter: Callable[[Any], Any]
    values: frozenset[str] = frozenset()
    rank: dict[str, int] = field(default_factory=dict)

    def sort_value(self, row: Any) -> Any:
        """The value this field sorts rows by (numbers ascending, text ordinal)."""
        value = self.getter(row)
        if self.kind == "enum" and self.rank:
            return self.rank.get(value, -1)
        if self.kind == "duration":
            return -value  # a larger start means a smaller age
        return value

    @property
    def numeric_sort(self) -> bool:
        """Whether :meth:`sort_value` is a number (so DESC can negate it)."""
        return self.kind in ("number", "datetime", "duration") or bool(self.kind == "enum" and self.rank)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    pos: int


@dataclass(frozen=True)
class Condition:
    """``field op value`` or ``field [NOT] IN (values)`` (``op`` is ``IN``/``NOT IN``)."""

    field: str
    op: str
    values: tuple[str, ...]
    pos: int


@dataclass(frozen=True)
class BoolOp:
    """``AND``/``OR`` of two or more terms."""

    op: str
    terms: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    """``NOT term``."""

    term: Node


Node = Condition | BoolOp | Not


@dataclass(frozen=True)
class OrderItem:
    """One ``ORDER BY`` item."""

    field: str
    descending: bool


@dataclass(frozen=True)
class ParsedQuery:
    """A parsed query: its filter (``None``: every row) and its order."""

    where: Node | None
    order: tuple[OrderItem, ...]


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.lastgroup is None:
            if text[pos] in "\"'":
                raise QLError(f"unterminated string starting at position {pos}")
            raise QLError(f"unexpected character {text[pos]!r} at position {pos}")
        kind = match.lastgroup
        value = match.group(kind)
        start = match.start(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        elif kind == "word" and value.upper() in _KEYWORDS:
            kind, value = "kw", value.upper()
        tokens.append(_Token(kind, value, start))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.i = 0
        self.end = len(text)

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def where(self) -> str:
        token = self.peek()
        return f"{token.text!r} at position {token.pos}" if token else "end of query"

    def take(self, kind: str, text: str | None = None) -> _Token | None:
        token = self.peek()
        if token is not None and token.kind == kind and (text is None or token.text == text):
            self.i += 1
            return token
        return None

    def expect(self, kind: str, text: str | None, what: str) -> _Token:
        token = self.take(kind, text)
        if token is None:
            raise QLError(f"expected {what}, found {self.where()}")
        return token

    def query(self) -> ParsedQuery:
        where: Node | None = None
        token = self.peek()
        if token is not None and not (token.kind == "kw" and token.text == "ORDER"):
            where = self.expr()
        order: list[OrderItem] = []
        if self.take("kw", "ORDER"):
            self.expect("kw", "BY", "BY after ORDER")
            while True:
                name = self.expect("word", None, "a field name in ORDER BY")
                descending = False
                if self.take("kw", "DESC"):
                    descending = True
                else:
                    self.take("kw", "ASC")
                order.append(OrderItem(name.text, descending))
                if not self.take("comma"):
                    break
        if self.peek() is not None:
            raise QLError(f"unexpected {self.where()}")
        return ParsedQuery(where, tuple(order))

    def expr(self) -> Node:
        terms = [self.and_expr()]
        while self.take("kw", "OR"):
            terms.append(self.and_expr())
        return terms[0] if len(terms) == 1 else BoolOp("OR", tuple(terms))

    def and_expr(self) -> Node:
        terms = [self.unary()]
        while self.take("kw", "AND"):
            terms.append(self.unary())
        return terms[0] if len(terms) == 1 else BoolOp("AND", tuple(terms))

    def unary(self) -> Node:
        if self.take("kw", "NOT"):
            return Not(self.unary())
        if self.take("lp"):
            inner = self.expr()
            self.expect("rp", None, "')'")
            return inner
        return self.condition()

    def value(self) -> str:
        token = self.take("word") or self.take("str")
        if token is None:
            raise QLError(f"expected a value, found {self.where()}")
        return token.text

    def condition(self) -> Condition:
        name = self.take("word")
        if name is None:
            raise QLError(f"expected a field name, found {self.where()}")
        negated = bool(self.take("kw", "NOT"))
        if self.take("kw", "IN"):
            self.expect("lp", None, "'(' after IN")
            values = [self.value()]
            while self.take("comma"):
                values.append(self.value())
            self.expect("rp", None, "')' closing the IN list")
            return Condition(name.text, "NOT IN" if negated else "IN", tuple(values), name.pos)
        if negated:
            raise QLError(f"expected IN after NOT, found {self.where()}")
        op = self.take("op")
        if op is None:
            raise QLError(f"expected an operator (= != < <= > >= IN) after {name.text!r}, found {self.where()}")
        return Condition(name.text, "!=" if op.text == "<>" else op.text, (self.value(),), name.pos)


@lru_cache(maxsize=256)
def parse(text: str) -> ParsedQuery:
    """Parse a query (cached by its text).

    Raises:
        QLError: The query is not valid QL.
    """
    return _Parser(text or "").query()


def _resolve(fields: dict[str, QLField], name: str) -> QLField:
    spec = fields.get(name.lower())
    if spec is None:
        known = ", ".join(sorted({f.name for f in fields.values()}))
        raise QLError(f"unknown field {name!r}; known fields: {known}")
    return spec


def parse_duration(text: str) -> float:
    """``7d`` -> seconds. Raises :class:`QLError` on another form."""
    match = _DURATION.match(text)
    if match is None:
        raise QLError(f"expected a duration like 30d, 12h, 15m or 45s, found {text!r}")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]


def parse_datetime(text: str, utc_offset_seconds: int = 0) -> float:
    """An ISO 8601 date-time (or epoch number) -> epoch seconds; naive values are at ``utc_offset_seconds``."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise QLError(f"expected an ISO 8601 date-time like 2025-03-14T10:00:00, found {text!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone(timedelta(seconds=utc_offset_seconds)))
    return value.timestamp()


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
# ``age OP d`` on the start epoch: age = now - start, so the comparison flips.
_FLIP = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _literal(spec: QLField, raw: str, utc_offset_seconds: int, now: float) -> Any:
    if spec.kind == "enum":
        value = raw.upper()
        if spec.values and value not in spec.values:
            raise QLError(f"unknown value {raw!r} for {spec.name}; expected one of {', '.join(sorted(spec.values))}")
        return value
    if spec.kind == "number":
        try:
            return float(raw)
        except ValueError:
            raise QLError(f"expected a number for {spec.name}, found {raw!r}") from None
    if spec.kind == "datetime":
        return parse_datetime(raw, utc_offset_seconds)
    if spec.kind == "duration":
        return now - parse_duration(raw)
    return raw


def _compile_condition(cond: Condition, fields: dict[str, QLField], utc_offset_seconds: int, now: float) -> Predicate:
    spec = _resolve(fields, cond.field)
    get = spec.getter
    if cond.op in ("IN", "NOT IN"):
        if spec.kind not in ("enum", "text"):
            raise QLError(f"IN is not supported for {spec.name} (a {spec.kind} field)")
        members = frozenset(_literal(spec, v, utc_offset_seconds, now) for v in cond.values)
        if cond.op == "IN":
            return lambda row: get(row) in members
        return lambda row: get(row) not in members
    if spec.kind == "enum" and cond.op in _ORDERING_OPS:
        raise QLError(f"operator {cond.op} is not supported for {spec.name}; use =, != or IN")
    target = _literal(spec, cond.values[0], utc_offset_seconds, now)
    op = _FLIP[cond.op] if spec.kind == "duration" else cond.op
    compare = _COMPARE[op]
    if op == "=":
        return lambda row: get(row) == target
    if op == "!=":
        return lambda row: get(row) != target
    return lambda row: compare(get(row), target)


def _compile_node(node: Node, fields: dict[str, QLField], utc_offset_seconds: int, now: float) -> Predicate:
    if isinstance(node, Condition):
        return _compile_condition(node, fields, utc_offset_seconds, now)
    if isinstance(node, Not):
        inner = _compile_node(node.term, fields, utc_offset_seconds, now)
        return lambda row: not inner(row)
    terms = [_compile_node(t, fields, utc_offset_seconds, now) for t in node.terms]
    return reduce(_and if node.op == "AND" else _or, terms)


def _and(first: Predicate, second: Predicate) -> Predicate:
    return lambda row: first(row) and second(row)


def _or(first: Predicate, second: Predicate) -> Predicate:
    return lambda row: first(row) or second(row)


class _Desc:
    """Reverses the order of a text value inside a sort key."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Desc) -> bool:
        return bool(other.value < self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)


@dataclass(frozen=True)
class CompiledQuery:
    """A query ready to run: ``matches(row)``, ``sort_key(row)`` and the raw sort values of a row.

    The sort key is a tuple ending with the row id, so it is a total order: a cursor that
    stores :meth:`sort_values` of the last row finds its place again even when rows are added.
    """

    matches: Predicate
    order: tuple[tuple[QLField, bool], ...]
    id_getter: Callable[[Any], str]

    def sort_values(self, row: Any) -> list[Any]:
        """The JSON-able values the row sorts by (for a cursor)."""
        return [spec.sort_value(row) for spec, _ in self.order] + [self.id_getter(row)]

    def key_from_values(self, values: Sequence[Any]) -> tuple[Any, ...]:
        """The comparable sort key for stored :meth:`sort_values`."""
        if len(values) != len(self.order) + 1:
            raise QLError("the cursor does not belong to this query")
        parts: list[Any] = []
        for (spec, descending), value in zip(self.order, values, strict=False):
            if descending:
                parts.append(-value if spec.numeric_sort else _Desc(value))
            else:
                parts.append(value)
        parts.append(values[-1])
        return tuple(parts)

    def sort_key(self, row: Any) -> tuple[Any, ...]:
        """The comparable sort key of a row."""
        return self.key_from_values(self.sort_values(row))


def compile_query(
    text: str,
    fields: dict[str, QLField],
    *,
    now: float,
    utc_offset_seconds: int = 0,
    default_order: Sequence[OrderItem] = (),
    id_getter: Callable[[Any], str] = lambda row: str(row.id),
) -> CompiledQuery:
    """Parse and compile a query against a field table.

    Args:
        text: The QL text ("" = every row in the default order).
        fields: Lower-case field name (aliases included) -> :class:`QLField`.
        now: The clock (epoch seconds) ``age`` is measured from.
        utc_offset_seconds: Time zone of naive date-time literals.
        default_order: Order used when the query has no ``ORDER BY``.
        id_getter: Row -> its id, the final tie-break of every order.

    Raises:
        QLError: Bad syntax, unknown field, or a value of the wrong type.
    """
    parsed = parse(text)
    matches: Predicate = (lambda row: True) if parsed.where is None else _compile_node(
        parsed.where, fields, utc_offset_seconds, now
    )
    order_items = parsed.order or tuple(default_order)
    order = tuple((_resolve(fields, item.field), item.descending) for item in order_items)
    return CompiledQuery(matches, order, id_getter)
