"""Query building: date formats, operators, bounds, enums and validation (no HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from prefect_soar.clients.acronis_filters import (
    ActivityQuery,
    TaskQuery,
    TimeFilter,
    TimeFormat,
    build_query,
    detect_time_format,
    format_datetime,
    order_by,
    time_value_ns,
)
from prefect_soar.errors import BadInputError

MAY_1_8AM_NS = 1_714_550_400 * 10**9

# one instant (2024-05-01T08:00:00Z) in each of the six documented layouts
SAME_INSTANT = {
    TimeFormat.RFC3339: "2024-05-01T08:00:00Z",
    TimeFormat.RFC1123: "Wed, 01 May 2024 08:00:00 GMT",
    TimeFormat.RFC850: "Wednesday, 01-May-24 08:00:00 UTC",
    TimeFormat.ANSIC: "Wed May  1 08:00:00 2024",
    TimeFormat.UNIX: "1714550400",
    TimeFormat.UNIX_NANO: "1714550400000000000ns",
}


@pytest.mark.parametrize(("fmt", "text"), SAME_INSTANT.items())
def test_each_documented_layout_is_recognised_and_read_exactly(fmt: TimeFormat, text: str) -> None:
    assert detect_time_format(text) is fmt
    assert time_value_ns(text) == MAY_1_8AM_NS


@pytest.mark.parametrize(
    ("text", "expected_ns"),
    [
        ("2024-05-01T10:00:00.123456789+02:00", MAY_1_8AM_NS + 123_456_789),
        ("2024-05-01T08:00:00.5Z", MAY_1_8AM_NS + 500_000_000),
        ("Wed May 11 08:00:00 2024", MAY_1_8AM_NS + 10 * 86400 * 10**9),  # two-digit day, single space
        ("Wed, 01 May 2024 11:00:00 GMT+3", MAY_1_8AM_NS),
        ("Wed, 01 May 2024 06:00:00 -02", MAY_1_8AM_NS),
        ("Wed, 01 May 2024 08:00:00 MST", MAY_1_8AM_NS),  # Go reads unknown abbreviations as offset zero
        ("wed, 01 may 2024 08:00:00 GMT", MAY_1_8AM_NS),  # Go matches names ignoring case
        ("Thursday, 01-Jan-70 00:00:00 GMT", 0),  # two-digit year >= 69 is 19xx
        ("Monday, 01-Jan-68 00:00:00 GMT", int(datetime(2068, 1, 1, tzinfo=UTC).timestamp()) * 10**9),
        ("1714550400123456789ns", MAY_1_8AM_NS + 123_456_789),
    ],
)
def test_layout_details(text: str, expected_ns: int) -> None:
    assert time_value_ns(text) == expected_ns


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("2024-05-01 08:00:00Z", "not in a supported format"),
        ("2024-05-01T08:00:00", "not in a supported format"),  # RFC3339 needs a zone
        ("2024-13-01T08:00:00Z", "not a real date"),
        ("2024-02-30T08:00:00Z", "not a real date"),
        ("2024-05-01T08:00:00+25:00", "invalid UTC offset"),
        ("2024-05-01T08:00:00.1234567890Z", "not in a supported format"),  # more than nanoseconds
        ("Wed, 01 May 2024 08:00:00", "not in a supported format"),  # RFC1123 without zone
        ("Wed, 1 May 2024 08:00:00 GMT", "not in a supported format"),  # RFC1123 day is two digits
        ("Wed May  1 08:00:00 24", "not in a supported format"),
        ("Wed, 01 May 2024 08:00:00 GMT+30", "beyond 23 hours"),
        ("1714550400000", "looks like milliseconds"),
        ("1714550400000000000", "add the 'ns' suffix"),
        ("99999999999999999999ns", "does not fit in 64 bits"),
        ("-1714550400", "not in a supported format"),
        ("٣٣٣", "not in a supported format"),  # non-ASCII digits
        ("yesterday", "not in a supported format"),
        ("", "not in a supported format"),
    ],
)
def test_invalid_date_values_are_rejected_with_a_reason(text: str, why: str) -> None:
    with pytest.raises(BadInputError, match=why):
        time_value_ns(text)


def test_datetimes_are_sent_as_rfc3339_utc_and_naive_ones_are_refused() -> None:
    cet = timezone(timedelta(hours=2))
    assert format_datetime(datetime(2024, 5, 1, 10, 0, tzinfo=cet)) == "2024-05-01T08:00:00Z"
    assert format_datetime(datetime(2024, 5, 1, 8, 0, 0, 250, tzinfo=UTC)) == "2024-05-01T08:00:00.000250Z"
    with pytest.raises(BadInputError, match="has no timezone"):
        format_datetime(datetime(2024, 5, 1, 8, 0))


@pytest.mark.parametrize("op", ["gt", "ge", "lt", "le", "eq"])
def test_every_operator_renders_op_value(op: str) -> None:
    assert TimeFilter(**{op: "1714550400"}).conditions() == [f"{op}(1714550400)"]
    assert TimeFilter.parse(f"{op}(1714550400)") == TimeFilter(**{op: "1714550400"})


def test_constructors_and_combined_bounds() -> None:
    start = datetime(2024, 5, 1, tzinfo=UTC)
    end = start + timedelta(days=1)
    assert TimeFilter.after(start).conditions() == ["gt(2024-05-01T00:00:00Z)"]
    assert TimeFilter.after(start, inclusive=True).conditions() == ["ge(2024-05-01T00:00:00Z)"]
    assert TimeFilter.before(end).conditions() == ["lt(2024-05-02T00:00:00Z)"]
    assert TimeFilter.before(end, inclusive=True).conditions() == ["le(2024-05-02T00:00:00Z)"]
    assert TimeFilter.at(start).conditions() == ["eq(2024-05-01T00:00:00Z)"]
    assert TimeFilter.between(start, end).conditions() == ["ge(2024-05-01T00:00:00Z)", "lt(2024-05-02T00:00:00Z)"]
    # upper bound given first still renders lower bound first; mixed formats are fine
    assert TimeFilter(lt="Thu, 02 May 2024 00:00:00 GMT", gt=1714521600).conditions() == [
        "gt(1714521600)", "lt(Thu, 02 May 2024 00:00:00 GMT)",
    ]
    # an inclusive window of one instant, written in two layouts
    assert TimeFilter(ge="1714550400", le="1714550400000000000ns").conditions() == [
        "ge(1714550400)", "le(1714550400000000000ns)",
    ]


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({}, "needs at least one"),
        ({"gt": "1714550400", "ge": "1714550400"}, "one lower bound"),
        ({"lt": "1714550400", "le": "1714550400"}, "one upper bound"),
        ({"eq": "1714550400", "lt": "1714550401"}, "eq cannot be combined"),
        ({"gt": "1714550400", "lt": "1714550400"}, "empty time window"),
        ({"ge": "2024-05-02T00:00:00Z", "lt": "2024-05-01T00:00:00Z"}, "empty time window"),
        ({"gt": datetime(2024, 5, 1)}, "has no timezone"),
        ({"gt": True}, "cannot be a bool"),
        ({"gt": 1.5}, "must be a datetime, an int or a string"),
        ({"gt": "soon"}, "not in a supported format"),
    ],
)
def test_time_filter_rules(kwargs: dict, why: str) -> None:
    with pytest.raises(BadInputError, match=why):
        TimeFilter(**kwargs)


@pytest.mark.parametrize(
    ("conditions", "why"),
    [
        ("after(1714550400)", "unknown comparison operator 'after'"),
        ("gt 1714550400", "not of the form op"),
        ("gt(1714550400", "not of the form op"),
        (["gt(1)", "gt(2)"], "given twice"),
        ([], "no date condition"),
        ("gt(2024-05-01)", "not in a supported format"),
    ],
)
def test_wire_condition_parsing_rejects_bad_input(conditions: str | list[str], why: str) -> None:
    with pytest.raises(BadInputError, match=why):
        TimeFilter.parse(conditions)


def test_task_query_renders_every_filter_in_a_stable_order() -> None:
    query = TaskQuery(
        state=["completed", "paused", "completed"],
        result_code=["error", "timedout"],
        type="backup",
        queue="protection",
        uuid="38045860-8901-426e-b51f-fc6d24d1cbe0",
        id="944455285181775872",
        priority="high",
        policy_id="p-1", policy_name="Daily backup", policy_type="backup",
        resource_id="r-1", resource_name="WIN-SRV-01", resource_type="machine",
        executor_id="agent-1", started_by="system", workflow_id="wf-1", tag="scheduled",
        affinity_agent_id="agent-1", affinity_cluster_id="cluster-1", allow_deleted=False,
        enqueued_at="ge(1714550400)", assigned_at=["gt(1714550400)", "lt(1714636800)"],
        started_at={"ge": "2024-05-01T00:00:00Z"}, completed_at=TimeFilter.between(1714550400, 1714636800),
        updated_at=TimeFilter.after(1714550400),
        order="desc(completedAt)", lod="full", extra={"custom": ["a", "b"]},
    )
    assert query.to_params() == [
        ("state", "completed"), ("state", "paused"),
        ("resultCode", "error"), ("resultCode", "timedout"),
        ("type", "backup"), ("queue", "protection"), ("uuid", "38045860-8901-426e-b51f-fc6d24d1cbe0"),
        ("id", "944455285181775872"), ("priority", "high"),
        ("policyId", "p-1"), ("policyName", "Daily backup"), ("policyType", "backup"),
        ("resourceId", "r-1"), ("resourceName", "WIN-SRV-01"), ("resourceType", "machine"),
        ("executorId", "agent-1"), ("startedBy", "system"), ("workflowId", "wf-1"), ("tag", "scheduled"),
        ("affinityAgentId", "agent-1"), ("affinityClusterId", "cluster-1"), ("allow_deleted", "false"),
        ("enqueuedAt", "ge(1714550400)"),
        ("assignedAt", "gt(1714550400)"), ("assignedAt", "lt(1714636800)"),
        ("startedAt", "ge(2024-05-01T00:00:00Z)"),
        ("completedAt", "ge(1714550400)"), ("completedAt", "lt(1714636800)"),
        ("updatedAt", "gt(1714550400)"),
        ("order", "desc(completedAt)"), ("lod", "full"),
        ("custom", "a"), ("custom", "b"),
    ]


def test_activity_query_renders_its_own_filters() -> None:
    query = ActivityQuery(
        task_id=944455285181775872, parent_activity_id="944455285181775873", sustainable=True,
        created_at=TimeFilter.after(1714550400), state="completed", result_code="abandoned", policy_type="backup",
    )
    assert query.to_params() == [
        ("state", "completed"), ("resultCode", "abandoned"),
        ("taskId", "944455285181775872"), ("parentActivityId", "944455285181775873"),
        ("policyType", "backup"), ("sustainable", "true"), ("createdAt", "gt(1714550400)"),
    ]


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"state": "failed"}, "state 'failed' is not one of enqueued"),
        ({"result_code": ["error", "failed"]}, "result_code 'failed' is not one of ok"),
        ({"result_code": []}, "needs at least one value"),
        ({"uuid": "not-a-uuid"}, "is not a UUID"),
        ({"id": 0}, "positive 64-bit integer"),
        ({"id": 2**63}, "positive 64-bit integer"),
        ({"id": True}, "got a bool"),
        ({"priority": "urgent"}, "priority 'urgent' is not one of"),
        ({"lod": "everything"}, "lod 'everything' is not one of"),
        ({"order": "completedAt desc"}, "must be asc"),
        ({"type": "  "}, "non-empty string"),
        ({"queue": "a\nb"}, "control characters"),
        ({"allow_deleted": "yes"}, "True or False"),
        ({"updated_at": TimeFilter.between(1714550400, 1714636800)}, "single condition"),
        ({"completed_at": datetime(2024, 5, 1, tzinfo=UTC)}, "bare datetime is ambiguous"),
        ({"completed_at": {"after": 1}}, "unknown operator"),
        ({"extra": {"after": "x"}}, "paging is the client's job"),
    ],
)
def test_task_query_validation(kwargs: dict, why: str) -> None:
    with pytest.raises(BadInputError, match=why):
        TaskQuery(**kwargs)


def test_build_query_merges_and_names_unknown_filters() -> None:
    base = TaskQuery(type="backup")
    merged = build_query(TaskQuery, base, {"result_code": "error"})
    assert merged.to_params() == [("resultCode", "error"), ("type", "backup")]
    assert build_query(TaskQuery, base, {}) is base
    with pytest.raises(BadInputError, match=r"unknown filter\(s\) \['resultCode'\]"):
        build_query(TaskQuery, None, {"resultCode": "error"})
    with pytest.raises(BadInputError, match="expected a TaskQuery"):
        build_query(TaskQuery, ActivityQuery(), {})


def test_order_by_helper() -> None:
    assert order_by("completedAt", descending=True) == "desc(completedAt)"
    assert order_by("id") == "asc(id)"
    with pytest.raises(BadInputError):
        order_by("completed at")
