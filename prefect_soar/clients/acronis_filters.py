"""Query building for the Acronis Task Manager: date conditions, enums, and the task/activity queries.

Date filters go on the wire as ``field=op(value)``; a lower and an upper bound on one field are two
repeated keys (``completedAt=ge(a)&completedAt=lt(b)``). ``updatedAt`` takes a single condition.
Values are a timezone-aware :class:`~datetime.datetime` (sent as RFC3339 UTC, ``...Z``), an ``int``
(Unix seconds), or a string in one of the six layouts the service documents, sent exactly as given
once it is validated:

=================  ==================================  =====================================
Format             Layout (Go)                         Example
=================  ==================================  =====================================
RFC3339            ``2006-01-02T15:04:05Z07:00``       ``2024-05-01T08:00:00.123456789Z``
RFC1123            ``Mon, 02 Jan 2006 15:04:05 MST``   ``Wed, 01 May 2024 08:00:00 GMT``
RFC850             ``Monday, 02-Jan-06 15:04:05 MST``  ``Wednesday, 01-May-24 08:00:00 GMT``
ANSIC              ``Mon Jan _2 15:04:05 2006``        ``Wed May  1 08:00:00 2024``
Unix seconds       ``1587553200``                      ``1714550400``
Unix nanoseconds   ``1587553200000000000ns``           ``1714550400000000000ns``
=================  ==================================  =====================================

Zone abbreviations (``MST``, ``CET``, ...) are read the way Go's ``time.Parse`` reads them in UTC:
``UTC``/``GMT`` and any other abbreviation mean offset zero; only ``GMT+h`` and ``+hh`` carry an
offset. Prefer ``datetime`` values or RFC3339 with a numeric offset.

Example:
    >>> TaskQuery(state="completed", result_code=["error", "timedout"], type="backup",
    ...           completed_at=TimeFilter.between(start, end)).to_params()
"""

from __future__ import annotations

import calendar
import re
import uuid as uuid_module
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from prefect_soar.errors import BadInputError
from prefect_soar.models.acronis import LevelOfDetail, ResultCode, TaskPriority, TaskState

SERVICE = "acronis"
PAGING_PARAMS = frozenset({"after", "before", "limit"})
MAX_UNIX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z
MAX_INT64 = 2**63 - 1


class TimeOperator(StrEnum):
    """Comparison operators of the date filters."""

    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"
    EQ = "eq"


class TimeFormat(StrEnum):
    """The six date layouts the service accepts in a date filter."""

    RFC3339 = "RFC3339"
    RFC1123 = "RFC1123"
    RFC850 = "RFC850"
    ANSIC = "ANSIC"
    UNIX = "UnixTimestamp"
    UNIX_NANO = "UnixTimestampNano"


_MONTHS = {name: number for number, name in enumerate(calendar.month_abbr) if name}
# Go matches day and month names ignoring ASCII case
_SHORT_DAYS = "(?i:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_LONG_DAYS = "(?i:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_MONTH = f"(?i:{'|'.join(_MONTHS)})"
_ZONE = r"(?P<zone>ChST|MeST|WITA|GMT(?:[+-]\d{1,2})?|[+-]\d{2}|[A-Z]{4}T|[A-Z]{3}T|[A-Z]{3})"
_CLOCK = r"(?P<H>\d{1,2}):(?P<M>\d{2}):(?P<S>\d{2})"

_LAYOUTS: tuple[tuple[TimeFormat, re.Pattern[str]], ...] = (
    (
        TimeFormat.RFC3339,
        re.compile(
            r"(?P<Y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})T(?P<H>\d{2}):(?P<M>\d{2}):(?P<S>\d{2})"
            r"(?:\.(?P<frac>\d{1,9}))?(?P<tz>Z|[+-]\d{2}:\d{2})",
            re.ASCII,
        ),
    ),
    (
        TimeFormat.RFC1123,
        re.compile(rf"(?:{_SHORT_DAYS}), (?P<d>\d{{2}}) (?P<b>{_MONTH}) (?P<Y>\d{{4}}) {_CLOCK} {_ZONE}", re.ASCII),
    ),
    (
        TimeFormat.RFC850,
        re.compile(rf"(?:{_LONG_DAYS}), (?P<d>\d{{2}})-(?P<b>{_MONTH})-(?P<y>\d{{2}}) {_CLOCK} {_ZONE}", re.ASCII),
    ),
    (
        TimeFormat.ANSIC,
        re.compile(rf"(?:{_SHORT_DAYS}) (?P<b>{_MONTH})  ?(?P<d>\d{{1,2}}) {_CLOCK} (?P<Y>\d{{4}})", re.ASCII),
    ),
    (TimeFormat.UNIX, re.compile(r"(?P<unix>[0-9]+)")),
    (TimeFormat.UNIX_NANO, re.compile(r"(?P<nanos>[0-9]+)ns")),
)

_CONDITION = re.compile(r"(?P<op>[A-Za-z]+)\((?P<value>.*)\)", re.DOTALL)
_ORDER = re.compile(r"(asc|desc)\(([A-Za-z][A-Za-z0-9_.]*)\)")


def _bad(message: str) -> BadInputError:
    return BadInputError(message, service=SERVICE)


def _zone_offset_seconds(zone: str | None) -> int:
    """Offset of a Go ``MST``-style zone token, read as Go's ``time.Parse`` does in UTC."""
    if not zone:
        return 0
    if zone.startswith("GMT") and len(zone) > 3:
        hours = int(zone[3:])
        if abs(hours) > 23:
            raise _bad(f"zone {zone!r} has an offset beyond 23 hours")
        return hours * 3600
    if zone[0] in "+-":
        hours = int(zone)
        if abs(hours) > 23:
            raise _bad(f"zone {zone!r} has an offset beyond 23 hours")
        return hours * 3600
    return 0  # UTC, GMT and every other abbreviation: offset zero (Go's fabricated location)


def detect_time_format(text: str) -> TimeFormat:
    """Name the documented layout ``text`` is written in.

    Args:
        text: A date filter value, e.g. ``"Wed, 01 May 2024 08:00:00 GMT"``.

    Returns:
        Its :class:`TimeFormat`.

    Raises:
        BadInputError: ``text`` is in none of the six layouts, or is not a real date.
    """
    return _parse(text)[0]


def time_value_ns(text: str) -> int:
    """The instant a date filter value names, in Unix nanoseconds (validating it on the way)."""
    return _parse(text)[1]


def _parse(text: str) -> tuple[TimeFormat, int]:
    if not isinstance(text, str):
        raise _bad(f"a date value must be a string, got {type(text).__name__}")
    for fmt, pattern in _LAYOUTS:
        match = pattern.fullmatch(text)
        if match is not None:
            return fmt, _instant_ns(fmt, match, text)
    raise _bad(
        f"date value {text!r} is not in a supported format: use a timezone-aware datetime, or RFC3339 "
        "(2024-05-01T08:00:00Z), RFC1123 (Wed, 01 May 2024 08:00:00 GMT), RFC850 (Wednesday, 01-May-24 "
        "08:00:00 GMT), ANSIC (Wed May  1 08:00:00 2024), Unix seconds (1714550400) or Unix nanoseconds "
        "(1714550400000000000ns)"
    )


def _instant_ns(fmt: TimeFormat, match: re.Match[str], text: str) -> int:
    groups = match.groupdict()
    if fmt is TimeFormat.UNIX:
        seconds = int(groups["unix"])
        if seconds > MAX_UNIX_SECONDS:
            hint = " (it looks like milliseconds)" if len(groups["unix"]) in (13, 14) else ""
            if len(groups["unix"]) >= 18:
                hint = " (it looks like nanoseconds: add the 'ns' suffix)"
            raise _bad(f"Unix timestamp {text!r} is beyond the year 9999{hint}")
        return seconds * 1_000_000_000
    if fmt is TimeFormat.UNIX_NANO:
        nanos = int(groups["nanos"])
        if nanos > MAX_INT64:
            raise _bad(f"Unix nanosecond timestamp {text!r} does not fit in 64 bits")
        return nanos
    if fmt is TimeFormat.RFC850:
        short_year = int(groups["y"])
        year = 1900 + short_year if short_year >= 69 else 2000 + short_year  # Go's two-digit year rule
    else:
        year = int(groups["Y"])
    month = int(groups["m"]) if groups.get("m") else _MONTHS[groups["b"].title()]
    try:
        moment = datetime(
            year, month, int(groups["d"]), int(groups["H"]), int(groups["M"]), int(groups["S"]), tzinfo=UTC
        )
    except ValueError as exc:
        raise _bad(f"date value {text!r} is not a real date and time: {exc}") from None
    offset = 0
    if fmt is TimeFormat.RFC3339:
        tz = groups["tz"]
        if tz != "Z":
            hours, minutes = int(tz[1:3]), int(tz[4:6])
            if hours > 23 or minutes > 59:
                raise _bad(f"date value {text!r} has an invalid UTC offset {tz!r}")
            offset = (hours * 3600 + minutes * 60) * (1 if tz[0] == "+" else -1)
    elif fmt in (TimeFormat.RFC1123, TimeFormat.RFC850):
        offset = _zone_offset_seconds(groups["zone"])
    frac = groups.get("frac") or ""
    nanos = int(frac.ljust(9, "0")) if frac else 0
    return (calendar.timegm(moment.timetuple()) - offset) * 1_000_000_000 + nanos


def format_datetime(value: datetime) -> str:
    """Render a timezone-aware datetime as RFC3339 UTC with ``Z`` (microseconds only when non-zero).

    Raises:
        BadInputError: ``value`` is naive (its zone would be a guess).
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise _bad(
            f"datetime {value.isoformat()} has no timezone; pass an aware value, e.g. "
            "datetime(..., tzinfo=UTC) or datetime.now(UTC)"
        )
    utc = value.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}"
    return text + "Z"


TimeValue = datetime | str | int
"""A date filter value: an aware datetime, Unix seconds, or a string in a documented layout."""


def time_value_text(value: TimeValue) -> str:
    """Validate a date filter value and return its wire text.

    Args:
        value: An aware datetime, an int of Unix seconds, or a string in one of the six layouts.

    Returns:
        The text that goes inside ``op(...)``.

    Raises:
        BadInputError: The value is naive, out of range or in no documented layout.
    """
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, bool):
        raise _bad("a date value cannot be a bool")
    if isinstance(value, int):
        if value < 0:
            raise _bad(f"Unix timestamp {value} is negative")
        text = str(value)
        _parse(text)
        return text
    if isinstance(value, str):
        _parse(value)
        return value
    raise _bad(f"a date value must be a datetime, an int or a string, got {type(value).__name__}")


@dataclass(frozen=True)
class TimeFilter:
    """Conditions on one date field: at most one lower bound (``gt``/``ge``), at most one upper bound
    (``lt``/``le``), or ``eq`` alone.

    Attributes:
        gt: Strictly after.
        ge: At or after.
        lt: Strictly before.
        le: At or before.
        eq: Exactly at.

    Example:
        >>> TimeFilter(ge=datetime(2024, 5, 1, tzinfo=UTC), lt="1714636800").conditions()
        ['ge(2024-05-01T00:00:00Z)', 'lt(1714636800)']
    """

    gt: TimeValue | None = None
    ge: TimeValue | None = None
    lt: TimeValue | None = None
    le: TimeValue | None = None
    eq: TimeValue | None = None

    def __post_init__(self) -> None:
        given = {op.value: getattr(self, op.value) for op in TimeOperator if getattr(self, op.value) is not None}
        if not given:
            raise _bad("a TimeFilter needs at least one of gt, ge, lt, le, eq")
        if "gt" in given and "ge" in given:
            raise _bad("a TimeFilter takes one lower bound: gt or ge, not both")
        if "lt" in given and "le" in given:
            raise _bad("a TimeFilter takes one upper bound: lt or le, not both")
        if "eq" in given and len(given) > 1:
            raise _bad("eq cannot be combined with other conditions on the same field")
        texts = {op: time_value_text(value) for op, value in given.items()}
        lower = next(((op, texts[op]) for op in ("gt", "ge") if op in texts), None)
        upper = next(((op, texts[op]) for op in ("lt", "le") if op in texts), None)
        if lower and upper:
            low, high = time_value_ns(lower[1]), time_value_ns(upper[1])
            inclusive = lower[0] == "ge" and upper[0] == "le"
            if low > high or (low == high and not inclusive):
                raise _bad(
                    f"empty time window: {lower[0]}({lower[1]}) and {upper[0]}({upper[1]}) match nothing; "
                    "the lower bound must come before the upper bound"
                )

    @classmethod
    def after(cls, value: TimeValue, *, inclusive: bool = False) -> TimeFilter:
        """Later than ``value`` (``gt``), or at/after it when ``inclusive`` (``ge``)."""
        return cls(ge=value) if inclusive else cls(gt=value)

    @classmethod
    def before(cls, value: TimeValue, *, inclusive: bool = False) -> TimeFilter:
        """Earlier than ``value`` (``lt``), or at/before it when ``inclusive`` (``le``)."""
        return cls(le=value) if inclusive else cls(lt=value)

    @classmethod
    def between(cls, start: TimeValue, end: TimeValue) -> TimeFilter:
        """The half-open window ``start <= t < end`` (``ge`` + ``lt``): consecutive windows never overlap."""
        return cls(ge=start, lt=end)

    @classmethod
    def at(cls, value: TimeValue) -> TimeFilter:
        """Exactly ``value`` (``eq``)."""
        return cls(eq=value)

    @classmethod
    def parse(cls, conditions: str | Sequence[str]) -> TimeFilter:
        """Build from wire conditions: ``"gt(2020-04-22T11:00:00Z)"`` or a list of them.

        Raises:
            BadInputError: A condition is not ``op(value)`` with a known operator and a valid value.
        """
        items = [conditions] if isinstance(conditions, str) else list(conditions)
        if not items:
            raise _bad("no date condition given")
        kwargs: dict[str, str] = {}
        for item in items:
            if not isinstance(item, str):
                raise _bad(f"a date condition must be a string like 'gt(2024-05-01T00:00:00Z)', got {item!r}")
            match = _CONDITION.fullmatch(item.strip())
            if match is None:
                raise _bad(f"date condition {item!r} is not of the form op(value), e.g. gt(2024-05-01T00:00:00Z)")
            op = match["op"]
            if op not in TimeOperator.__members__.values():
                raise _bad(f"unknown comparison operator {op!r} in {item!r}; use one of gt, ge, lt, le, eq")
            if op in kwargs:
                raise _bad(f"operator {op!r} given twice")
            kwargs[op] = match["value"]
        return cls(**kwargs)

    def conditions(self) -> list[str]:
        """The wire conditions, lower bound first: e.g. ``["ge(2024-05-01T00:00:00Z)", "lt(1714636800)"]``."""
        return [
            f"{op}({time_value_text(getattr(self, op))})"
            for op in ("gt", "ge", "eq", "lt", "le")
            if getattr(self, op) is not None
        ]


TimeFilterLike = TimeFilter | str | Sequence[str] | Mapping[str, Any]
"""A TimeFilter, a wire condition string ``"gt(...)"``, a list of them, or a mapping ``{"ge": ...}``."""


def as_time_filter(value: TimeFilterLike, *, field_name: str) -> TimeFilter:
    """Coerce what a caller passed for a date field into a :class:`TimeFilter`."""
    if isinstance(value, TimeFilter):
        return value
    if isinstance(value, datetime):
        raise _bad(
            f"{field_name}: a bare datetime is ambiguous; say TimeFilter.after(t), TimeFilter.before(t), "
            "TimeFilter.between(a, b) or TimeFilter.at(t)"
        )
    if isinstance(value, Mapping):
        unknown = set(value) - set(TimeOperator.__members__.values())
        if unknown:
            raise _bad(f"{field_name}: unknown operator(s) {sorted(unknown)}; use gt, ge, lt, le, eq")
        return TimeFilter(**{k: v for k, v in value.items() if v is not None})
    if isinstance(value, (str, Sequence)):
        return TimeFilter.parse(value)
    raise _bad(f"{field_name}: expected a TimeFilter or 'op(value)' conditions, got {type(value).__name__}")


def order_by(field_name: str, *, descending: bool = False) -> str:
    """Build an ``order`` value: ``asc(field)`` or ``desc(field)``."""
    return validate_order(f"{'desc' if descending else 'asc'}({field_name})")


def validate_order(value: str) -> str:
    """Check an ``order`` value is ``asc(<field>)`` or ``desc(<field>)`` and return it."""
    if not isinstance(value, str) or _ORDER.fullmatch(value) is None:
        raise _bad(f"order {value!r} must be asc(<field>) or desc(<field>), e.g. desc(completedAt)")
    return value


def _text(name: str, value: Any) -> str:
    if isinstance(value, StrEnum):
        return value.value
    if not isinstance(value, str) or not value.strip():
        raise _bad(f"{name} must be a non-empty string, got {value!r}")
    if any(ord(ch) < 32 for ch in value):
        raise _bad(f"{name} contains control characters")
    return value


def _enum_values(name: str, value: Any, known: type[StrEnum]) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else list(value)
    if not items:
        raise _bad(f"{name} needs at least one value")
    allowed = [member.value for member in known]
    out: list[str] = []
    for item in items:
        text = _text(name, item)
        if text not in allowed:
            raise _bad(f"{name} {text!r} is not one of {', '.join(allowed)}")
        if text not in out:
            out.append(text)
    return tuple(out)


def _uuid(name: str, value: Any) -> str:
    if isinstance(value, uuid_module.UUID):
        return str(value)
    text = _text(name, value)
    try:
        uuid_module.UUID(text)
    except ValueError:
        raise _bad(f"{name} {text!r} is not a UUID (e.g. 38045860-8901-426e-b51f-fc6d24d1cbe0)") from None
    return text


def task_id_value(name: str, value: Any) -> int:
    """Validate a numeric task or activity id (an int, or its ``idString``) and return it as an int."""
    if isinstance(value, bool):
        raise _bad(f"{name} must be an integer id, got a bool")
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or value <= 0 or value > MAX_INT64:
        raise _bad(f"{name} must be a positive 64-bit integer id (or its idString), got {value!r}")
    return value


def _bool(name: str, value: Any) -> str:
    if not isinstance(value, bool):
        raise _bad(f"{name} must be True or False, got {value!r}")
    return "true" if value else "false"


# kind of every filter field: how it is validated and rendered
_TEXT, _REPEAT_STATE, _REPEAT_RESULT, _UUID, _ID, _PRIORITY, _BOOL, _TIME, _TIME_SINGLE = range(9)


@dataclass(frozen=True)
class BaseQuery:
    """Shared machinery of :class:`TaskQuery` and :class:`ActivityQuery`."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            object.__setattr__(self, f.name, self._normalize(f.name, value))

    def _normalize(self, name: str, value: Any) -> Any:
        if name == "order":
            return validate_order(value)
        if name == "lod":
            return _single_enum("lod", value, LevelOfDetail)
        if name == "extra":
            return _extra(value)
        wire, kind = self._spec()[name]
        if kind == _TEXT:
            return _text(name, value)
        if kind == _REPEAT_STATE:
            return _enum_values(name, value, TaskState)
        if kind == _REPEAT_RESULT:
            return _enum_values(name, value, ResultCode)
        if kind == _UUID:
            return _uuid(name, value)
        if kind == _ID:
            return task_id_value(name, value)
        if kind == _PRIORITY:
            return _single_enum(name, value, TaskPriority)
        if kind == _BOOL:
            _bool(name, value)
            return value
        time_filter = as_time_filter(value, field_name=name)
        if kind == _TIME_SINGLE and len(time_filter.conditions()) > 1:
            raise _bad(f"{name} ({wire}) takes a single condition; give either a lower or an upper bound")
        return time_filter

    @classmethod
    def _spec(cls) -> dict[str, tuple[str, int]]:
        raise NotImplementedError

    def to_params(self) -> list[tuple[str, str]]:
        """The query string pairs of the first request, in a stable order (repeated keys for lists)."""
        params: list[tuple[str, str]] = []
        spec = self._spec()
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or f.name == "extra":
                continue
            if f.name in ("order", "lod"):
                params.append((f.name, value))
                continue
            wire, kind = spec[f.name]
            if isinstance(value, TimeFilter):
                params.extend((wire, condition) for condition in value.conditions())
            elif isinstance(value, tuple):
                params.extend((wire, item) for item in value)
            elif kind == _BOOL:
                params.append((wire, _bool(f.name, value)))
            else:
                params.append((wire, str(value)))
        for key, values in (getattr(self, "extra", None) or {}).items():
            params.extend((key, item) for item in values)
        return params

    def is_empty(self) -> bool:
        """Whether no filter, order or lod is set."""
        return not self.to_params()


def _single_enum(name: str, value: Any, known: type[StrEnum]) -> str:
    if not isinstance(value, str):
        raise _bad(f"{name} takes one value, got {value!r}")
    return _enum_values(name, value, known)[0]


def _extra(value: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        raise _bad("extra must be a mapping of query parameter -> value or list of values")
    out: dict[str, tuple[str, ...]] = {}
    for key, raw in value.items():
        key = _text("extra parameter name", key)
        if key in PAGING_PARAMS:
            raise _bad(f"extra cannot set {key!r}: paging is the client's job (limit, after, before arguments)")
        items = [raw] if isinstance(raw, (str, int)) else list(raw)
        out[key] = tuple(_text(f"extra[{key!r}]", str(item) if isinstance(item, int) else item) for item in items)
    return out


@dataclass(frozen=True)
class TaskQuery(BaseQuery):
    """Filters, order and level of detail of ``GET /api/task_manager/v2/tasks``.

    Every attribute is optional; what is set is validated at construction (``BadInputError``).
    Repeatable filters (``state``, ``result_code``) take one value or a list. Date filters take a
    :class:`TimeFilter`, a wire condition ``"gt(2024-05-01T00:00:00Z)"``, a list of conditions, or a
    mapping ``{"ge": ..., "lt": ...}``.

    Attributes:
        state: Task states (``enqueued``, ``assigned``, ``started``, ``paused``, ``completed``).
        result_code: Result codes (``ok``, ``error``, ``warning``, ``cancelled``, ``abandoned``, ``timedout``).
        type: Task type, e.g. ``backup`` or a GUID.
        queue: Queue name, e.g. ``legacySync``.
        uuid: Task UUID.
        id: Numeric task id.
        priority: ``low``, ``belowNormal``, ``normal``, ``aboveNormal`` or ``high``.
        policy_id: Protection policy id.
        policy_name: Protection policy name.
        policy_type: Policy type, e.g. ``backup``.
        resource_id: Resource (machine, database, ...) id.
        resource_name: Resource name.
        resource_type: Resource type.
        executor_id: Id of the agent that ran the task.
        started_by: Who started the task.
        workflow_id: Workflow id.
        tag: Task tag.
        affinity_agent_id: Agent affinity.
        affinity_cluster_id: Cluster affinity.
        allow_deleted: Include deleted tasks.
        enqueued_at: Conditions on ``enqueuedAt``.
        assigned_at: Conditions on ``assignedAt``.
        started_at: Conditions on ``startedAt``.
        completed_at: Conditions on ``completedAt``.
        updated_at: One condition on ``updatedAt`` (the service takes a single entry).
        order: ``asc(<field>)`` or ``desc(<field>)``, e.g. ``desc(completedAt)``.
        lod: Level of detail: ``tiny``, ``short``, ``long``, ``full``, ``debug`` or ``count``.
        extra: Further query parameters, sent as given (for filters not modelled here).
    """

    state: str | Sequence[str] | None = None
    result_code: str | Sequence[str] | None = None
    type: str | None = None
    queue: str | None = None
    uuid: str | None = None
    id: int | str | None = None
    priority: str | None = None
    policy_id: str | None = None
    policy_name: str | None = None
    policy_type: str | None = None
    resource_id: str | None = None
    resource_name: str | None = None
    resource_type: str | None = None
    executor_id: str | None = None
    started_by: str | None = None
    workflow_id: str | None = None
    tag: str | None = None
    affinity_agent_id: str | None = None
    affinity_cluster_id: str | None = None
    allow_deleted: bool | None = None
    enqueued_at: TimeFilter | str | Sequence[str] | None = None
    assigned_at: TimeFilter | str | Sequence[str] | None = None
    started_at: TimeFilter | str | Sequence[str] | None = None
    completed_at: TimeFilter | str | Sequence[str] | None = None
    updated_at: TimeFilter | str | Sequence[str] | None = None
    order: str | None = None
    lod: str | None = None
    extra: Mapping[str, str | Sequence[str]] | None = None

    @classmethod
    def _spec(cls) -> dict[str, tuple[str, int]]:
        return _TASK_SPEC


@dataclass(frozen=True)
class ActivityQuery(BaseQuery):
    """Filters, order and level of detail of ``GET /api/task_manager/v2/activities``.

    Same conventions as :class:`TaskQuery`.

    Attributes:
        state: Activity states.
        result_code: Result codes.
        type: Activity type.
        uuid: Activity UUID.
        id: Numeric activity id.
        task_id: The owning task's numeric id.
        parent_activity_id: The parent activity's numeric id.
        policy_id: Protection policy id.
        policy_name: Protection policy name.
        policy_type: Policy type, e.g. ``backup``.
        resource_id: Resource id.
        resource_name: Resource name.
        resource_type: Resource type.
        executor_id: Id of the agent that ran the activity.
        sustainable: Only sustainable (or only non-sustainable) activities.
        created_at: Conditions on ``createdAt``.
        started_at: Conditions on ``startedAt``.
        completed_at: Conditions on ``completedAt``.
        updated_at: One condition on ``updatedAt``.
        order: ``asc(<field>)`` or ``desc(<field>)``.
        lod: Level of detail.
        extra: Further query parameters, sent as given.
    """

    state: str | Sequence[str] | None = None
    result_code: str | Sequence[str] | None = None
    type: str | None = None
    uuid: str | None = None
    id: int | str | None = None
    task_id: int | str | None = None
    parent_activity_id: int | str | None = None
    policy_id: str | None = None
    policy_name: str | None = None
    policy_type: str | None = None
    resource_id: str | None = None
    resource_name: str | None = None
    resource_type: str | None = None
    executor_id: str | None = None
    sustainable: bool | None = None
    created_at: TimeFilter | str | Sequence[str] | None = None
    started_at: TimeFilter | str | Sequence[str] | None = None
    completed_at: TimeFilter | str | Sequence[str] | None = None
    updated_at: TimeFilter | str | Sequence[str] | None = None
    order: str | None = None
    lod: str | None = None
    extra: Mapping[str, str | Sequence[str]] | None = None

    @classmethod
    def _spec(cls) -> dict[str, tuple[str, int]]:
        return _ACTIVITY_SPEC


_COMMON_SPEC: dict[str, tuple[str, int]] = {
    "state": ("state", _REPEAT_STATE),
    "result_code": ("resultCode", _REPEAT_RESULT),
    "type": ("type", _TEXT),
    "uuid": ("uuid", _UUID),
    "id": ("id", _ID),
    "policy_id": ("policyId", _TEXT),
    "policy_name": ("policyName", _TEXT),
    "policy_type": ("policyType", _TEXT),
    "resource_id": ("resourceId", _TEXT),
    "resource_name": ("resourceName", _TEXT),
    "resource_type": ("resourceType", _TEXT),
    "executor_id": ("executorId", _TEXT),
    "started_at": ("startedAt", _TIME),
    "completed_at": ("completedAt", _TIME),
    "updated_at": ("updatedAt", _TIME_SINGLE),
}
_TASK_SPEC: dict[str, tuple[str, int]] = {
    **_COMMON_SPEC,
    "queue": ("queue", _TEXT),
    "priority": ("priority", _PRIORITY),
    "started_by": ("startedBy", _TEXT),
    "workflow_id": ("workflowId", _TEXT),
    "tag": ("tag", _TEXT),
    "affinity_agent_id": ("affinityAgentId", _TEXT),
    "affinity_cluster_id": ("affinityClusterId", _TEXT),
    "allow_deleted": ("allow_deleted", _BOOL),
    "enqueued_at": ("enqueuedAt", _TIME),
    "assigned_at": ("assignedAt", _TIME),
}
_ACTIVITY_SPEC: dict[str, tuple[str, int]] = {
    **_COMMON_SPEC,
    "task_id": ("taskId", _ID),
    "parent_activity_id": ("parentActivityId", _ID),
    "sustainable": ("sustainable", _BOOL),
    "created_at": ("createdAt", _TIME),
}


def build_query(query_type: type[BaseQuery], query: BaseQuery | None, filters: Mapping[str, Any]) -> BaseQuery:
    """Merge a query object and keyword filters into one validated query of ``query_type``.

    Raises:
        BadInputError: An unknown filter name, or an invalid value.
    """
    if query is not None and not isinstance(query, query_type):
        raise _bad(f"expected a {query_type.__name__}, got {type(query).__name__}")
    known = {f.name for f in fields(query_type)}
    unknown = sorted(set(filters) - known)
    if unknown:
        raise _bad(f"unknown filter(s) {unknown} for {query_type.__name__}; known: {', '.join(sorted(known))}")
    if query is None:
        return query_type(**filters)
    if not filters:
        return query
    merged = {f.name: getattr(query, f.name) for f in fields(query)}
    merged.update(filters)
    return query_type(**merged)


__all__ = [
    "ActivityQuery",
    "BaseQuery",
    "TaskQuery",
    "TimeFilter",
    "TimeFilterLike",
    "TimeFormat",
    "TimeOperator",
    "TimeValue",
    "build_query",
    "detect_time_format",
    "format_datetime",
    "order_by",
    "task_id_value",
    "time_value_ns",
    "time_value_text",
    "validate_order",
]
