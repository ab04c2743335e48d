"""The exact HTTP requests of every AcronisClient method (respx, strict router)."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import respx

from prefect_soar.clients.acronis import AcronisClient, token_lifetime
from prefect_soar.clients.acronis_filters import ActivityQuery, TaskQuery, TimeFilter
from prefect_soar.errors import (
    AuthenticationError,
    BadInputError,
    BadRequestError,
    InvalidResponseError,
    NotFoundError,
)
from prefect_soar.models.acronis import Token

from .conftest import CLIENT_ID, CLIENT_SECRET, DC, respx_client

TOKEN_URL = f"{DC}/api/2/idp/token"
TASKS_URL = f"{DC}/api/task_manager/v2/tasks"
ACTIVITIES_URL = f"{DC}/api/task_manager/v2/activities"
BASIC = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()

SIX_FORMATS = {
    "RFC3339": "2024-05-01T08:00:00.123456789+02:00",
    "RFC1123": "Wed, 01 May 2024 08:00:00 GMT",
    "RFC850": "Wednesday, 01-May-24 08:00:00 GMT",
    "ANSIC": "Wed May  1 08:00:00 2024",
    "UnixTimestamp": "1714550400",
    "UnixTimestampNano": "1714550400000000000ns",
}
OPERATORS = ("gt", "ge", "lt", "le", "eq")


def token_body(token: str = "tok-1", **expiry: float) -> dict[str, Any]:
    body: dict[str, Any] = {"access_token": token, "token_type": "bearer", "id_token": f"id-{token}"}
    body.update(expiry or {"expires_on": int(time.time()) + 7200})
    return body


def mock_tokens(router: respx.MockRouter, *tokens: str, **expiry: float) -> respx.Route:
    return router.post(TOKEN_URL).mock(
        side_effect=[httpx.Response(200, json=token_body(t, **expiry)) for t in (tokens or ("tok-1",))]
    )


def page(*ids: int, after: str | None = None, before: str | None = None) -> httpx.Response:
    cursors = {k: v for k, v in (("after", after), ("before", before)) if v}
    return httpx.Response(200, json={"items": [{"id": i, "idString": str(i), "state": "completed"} for i in ids],
                                     "paging": {"cursors": cursors}, "size": len(ids),
                                     "timeStamp": "2024-05-01T12:00:00Z"})


def envelope(status: int, message: str, code: int | str | None = None) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code or status, "message": message,
                                                  "domain": "TaskManager", "details": {}}})


def sent(route: respx.Route, index: int = -1) -> list[tuple[str, str]]:
    return route.calls[index].request.url.params.multi_items()


# -- token ----------------------------------------------------------------------------------


async def test_token_request_and_bearer_use_are_exact(respx_mock: respx.MockRouter) -> None:
    token = mock_tokens(respx_mock)
    tasks = respx_mock.get(TASKS_URL).mock(return_value=page(1))
    async with respx_client() as client:
        await client.check_connection()
    request = token.calls.last.request
    assert request.method == "POST"
    assert str(request.url) == TOKEN_URL
    assert request.headers["Authorization"] == BASIC
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.content == b"grant_type=client_credentials"
    api = tasks.calls.last.request
    assert str(api.url) == f"{TASKS_URL}?limit=1"
    assert api.headers["Authorization"] == "Bearer tok-1"
    assert api.headers["Accept"] == "application/json"
    assert api.headers["User-Agent"].startswith("prefect-soar/")


async def test_token_is_cached_until_shortly_before_expires_on(respx_mock: respx.MockRouter) -> None:
    token = mock_tokens(respx_mock, "tok-1", expires_on=int(time.time()) + 7200)
    tasks = respx_mock.get(TASKS_URL).mock(return_value=page(1))
    async with respx_client() as client:
        await client.list_tasks()
        await client.list_tasks()
    assert token.call_count == 1
    assert tasks.call_count == 2


async def test_token_is_fetched_again_when_it_expires(respx_mock: respx.MockRouter) -> None:
    token = mock_tokens(respx_mock, "tok-1", "tok-2", expires_in=0.2)
    tasks = respx_mock.get(TASKS_URL).mock(return_value=page(1))
    async with respx_client() as client:
        await client.list_tasks()
        await asyncio.sleep(0.2)  # the token (0.2 s, refreshed an eighth early) is now stale
        await client.list_tasks()
    assert token.call_count == 2
    assert [c.request.headers["Authorization"] for c in tasks.calls] == ["Bearer tok-1", "Bearer tok-2"]


async def test_a_token_already_past_expires_on_is_used_once_and_the_clock_is_blamed(
    respx_mock: respx.MockRouter, caplog: pytest.LogCaptureFixture,
) -> None:
    token = mock_tokens(respx_mock, "tok-1", "tok-2", expires_on=int(time.time()) - 3600)
    respx_mock.get(TASKS_URL).mock(return_value=page(1))
    with caplog.at_level(logging.WARNING, logger="prefect_soar.acronis"):
        async with respx_client() as client:
            await client.list_tasks()
            await client.list_tasks()
    assert token.call_count == 2
    assert any("check this machine's clock" in r.getMessage() for r in caplog.records)


async def test_a_401_refreshes_the_token_once_and_retries(respx_mock: respx.MockRouter) -> None:
    token = mock_tokens(respx_mock, "tok-1", "tok-2")
    tasks = respx_mock.get(TASKS_URL).mock(side_effect=[envelope(401, "Access token has expired"), page(5)])
    async with respx_client() as client:
        result = await client.list_tasks(state="completed")
    assert [t.id for t in result.items] == [5]
    assert token.call_count == 2
    assert [c.request.headers["Authorization"] for c in tasks.calls] == ["Bearer tok-1", "Bearer tok-2"]
    assert sent(tasks, 0) == sent(tasks, 1) == [("state", "completed")]


async def test_a_second_401_is_an_authentication_error(respx_mock: respx.MockRouter) -> None:
    token = mock_tokens(respx_mock, "tok-1", "tok-2")
    tasks = respx_mock.get(TASKS_URL).mock(return_value=envelope(401, "Access token is invalid"))
    async with respx_client() as client:
        with pytest.raises(AuthenticationError, match="Access token is invalid") as caught:
            await client.list_tasks()
    assert caught.value.status == 401
    assert token.call_count == 2 and tasks.call_count == 2


async def test_bad_client_credentials_fail_at_the_token_endpoint_without_leaking_them(
    respx_mock: respx.MockRouter,
) -> None:
    respx_mock.post(TOKEN_URL).mock(return_value=httpx.Response(401, json={"error": {
        "code": 401, "message": "Invalid client credentials", "domain": "PlatformAccountServer"}}))
    async with respx_client() as client:
        with pytest.raises(AuthenticationError, match="Invalid client credentials") as caught:
            await client.check_connection()
    text = str(caught.value)
    assert CLIENT_SECRET not in text and BASIC.split()[1] not in text
    assert "/api/2/idp/token" in text


def test_token_lifetime_uses_expires_on_or_expires_in_minus_an_early_margin() -> None:
    now = 1_700_000_000.0
    assert token_lifetime(Token(access_token="t", expires_on=now + 7200), now=now) == 6300  # 15 min early
    assert token_lifetime(Token(access_token="t", expires_in=7200), now=now) == 6300
    assert token_lifetime(Token(access_token="t", expires_in=8), now=now) == 7  # an eighth for short tokens
    assert token_lifetime(Token(access_token="t"), now=now) == 6300  # the documented 2 h
    assert token_lifetime(Token(access_token="t", expires_on=now - 5), now=now) == 0
    # expires_on is absolute: read as relative it would be ~50 years
    assert token_lifetime(Token(access_token="t", expires_on=1562910964), now=1562910964 - 100) < 100


# -- list_tasks: every date format, operator and filter ---------------------------------------


@pytest.mark.parametrize("op", OPERATORS)
@pytest.mark.parametrize("fmt", SIX_FORMATS)
async def test_every_date_format_with_every_operator_is_sent_as_op_value(
    respx_mock: respx.MockRouter, fmt: str, op: str,
) -> None:
    mock_tokens(respx_mock)
    tasks = respx_mock.get(TASKS_URL).mock(return_value=page())
    value = SIX_FORMATS[fmt]
    async with respx_client() as client:
        await client.list_tasks(completed_at=TimeFilter(**{op: value}))
    assert sent(tasks) == [("completedAt", f"{op}({value})")]


@pytest.mark.parametrize(
    ("field", "wire"),
    [("enqueued_at", "enqueuedAt"), ("assigned_at", "assignedAt"), ("started_at", "startedAt"),
     ("completed_at", "completedAt"), ("updated_at", "updatedAt")],
)
async def test_every_date_field_goes_by_its_wire_name(respx_mock: respx.MockRouter, field: str, wire: str) -> None:
    mock_tokens(respx_mock)
    tasks = respx_mock.get(TASKS_URL).mock(return_value=page())
    since = datetime(2020, 4, 22, 13, 0, tzinfo=timezone(timedelta(hours=2)))
    async with respx_client() as client:
        await client.list_tasks(**{field: TimeFilter.after(since)})
    assert sent(tasks) == [(wire, "gt(2020-04-22T11:00:00Z)")]


async def test_values_are_url_encoded_on_the_wire(respx_mock: respx.MockRouter) -> None:
    mock_tokens(respx_mock)
    tasks = respx_mock.get(TASKS_URL).mock(return_value=page())
    async with respx_client() as client:
        window = TimeFilter(gt="2024-05-01T10:00:00+02:00", lt="Wed, 01 May 2024 09:00:00 GMT")
        await client.list_tasks(started_at=window)
    assert tasks.calls.last.request.url.query == (
        b"startedAt=gt%282024-05-01T10%3A00%3A00%2B02%3A00%29&startedAt=lt%28Wed%2C+01+May+2024+09%3A00%3A00+GMT%29"
    )


async def test_a_lower_and_an_upper_bound_are_two_repeated_keys(respx_mock: respx.MockRouter) -> None:
    mock_tokens(respx_mock)
    tasks = respx_mock.get(TASKS_URL).mock(return_value=page())
    start = datetime(2024, 5, 1, tzinfo=UTC)
    async with respx_client() as client:
        await client.list_tasks(completed_at=TimeFilter.between(start, start + timedelta(hours=6)))
        await client.list_tasks(completed_at=["gt(1714521600)", "le(1714543200000000000ns)"])
        await client.list_tasks(completed_at={"ge": start, "le": "Wed May  1 06:00:00 2024"})
    assert sent(tasks, 0) == [("completedAt", "ge(2024-05-01T00:00:00Z)"), ("completedAt", "lt(2024-05-01T06:00:00Z)")]
    assert sent(tasks, 1) == [("completedAt", "gt(1714521600)"), ("completedAt", "le(1714543200000000000ns)")]
    assert sent(tasks, 2) == [
        ("completedAt", "ge(2024-05-01T00:00:00Z)"), ("completedAt", "le(Wed May  1 06:00:00 2024)"),
    ]


async def test_state_and_result_code_repeat_the_key(respx_mock: respx.MockRouter) -> None:
    mock_tokens(respx_mock)
    tasks = respx_mock.get(TASKS_URL).mock(return_value=page())
    async with respx_client() as client:
        await client.list_tasks(state=["started", "paused"], result_code=["error", "timedout", "abandoned"])
    assert sent(tasks) == [("state", "started"), ("state", "paused"),
                           ("resultCode", "error"), ("resultCode", "timedout"), ("resultCode", "abandoned")]


async def test_list_tasks_sends_every_filter_and_parses_the_page(respx_mock: respx.MockRouter) -> None:
    mock_tokens(respx_mock)
    tasks = respx_mock.get(TASKS_URL).mock(return_value=page(944455285181775872, after="0A8AAAAAAAAAAA=="))
    query = TaskQuery(type="backup", queue="protection", uuid="38045860-8901-426e-b51f-fc6d24d1cbe0",
                      policy_id="pol-1", policy_name="Daily backup", policy_type="backup",
                      resource_id="res-1", resource_name="WIN-SRV-01", resource_type="machine")
    async with respx_client() as client:
        result = await client.list_tasks(query, result_code="error", order="desc(completedAt)", lod="full", limit=25,
                                         extra={"tenantId": "1496265"})
    assert sent(tasks) == [
        ("resultCode", "error"), ("type", "backup"), ("queue", "protection"),
        ("uuid", "38045860-8901-426e-b51f-fc6d24d1cbe0"), ("policyId", "pol-1"), ("policyName", "Daily backup"),
        ("policyType", "backup"), ("resourceId", "res-1"), ("resourceName", "WIN-SRV-01"),
        ("resourceType", "machine"), ("order", "desc(completedAt)"), ("lod", "full"), ("tenantId", "1496265"),
        ("limit", "25"),
    ]
    assert tasks.calls.last.request.method == "GET"
    assert result.after == "0A8AAAAAAAAAAA==" and result.items[0].id == 944455285181775872


async def test_a_mapping_query_is_accepted(respx_mock: respx.MockRouter) -> None:
    mock_tokens(respx_mock)
    tasks = respx_mock.get(TASKS_URL).mock(return_value=page())
    async with respx_client() as client:
        await client.list_tasks({"state": "completed", "completed_at": "ge(1714550400)"})
    assert sent(tasks) == [("state", "completed"), ("completedAt", "ge(1714550400)")]


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"completed_at": "gt(2024-05-01)"}, "not in a supported format"),
        ({"completed_at": "after(1714550400)"}, "unknown comparison operator"),
        ({"started_at": "gt(1714550400000)"}, "looks like milliseconds"),
        ({"state": "failed"}, "is not one of"),
        ({"result_code": "failure"}, "is not one of"),
        ({"uuid": "1234"}, "is not a UUID"),
        ({"result_code_typo": "error"}, "unknown filter"),
        ({"limit": 0}, "positive integer"),
        ({"after": "abc", "state": "completed"}, r"cursor \(after\) carries the query"),
        ({"after": "abc", "before": "def"}, "either after or before"),
    ],
)
async def test_a_bad_filter_raises_before_anything_is_sent(
    respx_mock: respx.MockRouter, kwargs: dict, why: str,
) -> None:
    async with respx_client() as client:
        with pytest.raises(BadInputError, match=why):
            await client.list_tasks(**kwargs)
    assert respx_mock.calls.call_count == 0


async def test_a_cursor_is_sent_only_with_limit_and_url_encoded(respx_mock: respx.MockRouter) -> None:
    mock_tokens(respx_mock)
    tasks = respx_mock.get(TASKS_URL).mock(return_value=page(3))
    async with respx_client() as client:
        await client.list_tasks(limit=50, after="0A8A+/AAAAAAAA==")
        await client.list_tasks(before="AAAA+AAA==")
    assert sent(tasks, 0) == [("limit", "50"), ("after", "0A8A+/AAAAAAAA==")]
    assert tasks.calls[0].request.url.query == b"limit=50&after=0A8A%2B%2FAAAAAAAA%3D%3D"
    assert sent(tasks, 1) == [("before", "AAAA+AAA==")]


async def test_the_service_error_envelope_becomes_a_bad_request_error(respx_mock: respx.MockRouter) -> None:
    mock_tokens(respx_mock)
    respx_mock.get(TASKS_URL).mock(return_value=envelope(400, "Invalid time value 'x'", code=4001))
    async with respx_client() as client:
        with pytest.raises(BadRequestError, match="Invalid time value 'x'") as caught:
            await client.list_tasks(extra={"completedAt": "gt(x)"})  # extra bypasses client-side checks
    assert caught.value.status == 400


async def test_5xx_on_a_read_is_retried(respx_mock: respx.MockRouter) -> None:
    mock_tokens(respx_mock)
    tasks = respx_mock.get(TASKS_URL).mock(side_effect=[envelope(503, "busy"), page(9)])
    async with respx_client() as client:
        result = await client.list_tasks()
    assert tasks.call_count == 2 and result.items[0].id == 9


# -- paging -----------------------------------------------------------------------------------


async def test_iter_tasks_sends_the_filters_only_on_the_first_request(respx_mock: respx.MockRouter) -> None:
    mock_tokens(respx_mock)
    tasks = respx_mock.get(TASKS_URL).mock(side_effect=[
        page(1, 2, after="c+1=="), page(3, 4, after="c/2==", before="b1=="), page(5, before="b2=="),
    ])
    window = TimeFilter.between(datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 2, tzinfo=UTC))
    async with respx_client() as client:
        ids = [t.id async for t in client.iter_tasks(type="backup", state="completed", completed_at=window,
                                                        order="asc(completedAt)", page_size=2)]
    assert ids == [1, 2, 3, 4, 5]
    assert tasks.call_count == 3
    assert sent(tasks, 0) == [
        ("state", "completed"), ("type", "backup"),
        ("completedAt", "ge(2024-05-01T00:00:00Z)"), ("completedAt", "lt(2024-05-02T00:00:00Z)"),
        ("order", "asc(completedAt)"), ("limit", "2"),
    ]
    assert sent(tasks, 1) == [("limit", "2"), ("after", "c+1==")]
    assert sent(tasks, 2) == [("limit", "2"), ("after", "c/2==")]


async def test_iter_task_pages_without_page_size_sends_only_after(respx_mock: respx.MockRouter) -> None:
    mock_tokens(respx_mock)
    tasks = respx_mock.get(TASKS_URL).mock(side_effect=[
        page(1, after="A=="),
        httpx.Response(200, json={"items": [{"id": 2}], "cursors": {"after": "B=="}}),  # top-level cursors
        page(3, after=""),  # empty after: last page
    ])
    async with respx_client() as client:
        pages = [p async for p in client.iter_task_pages(state="completed")]
    assert [[t.id for t in p.items] for p in pages] == [[1], [2], [3]]
    assert [sent(tasks, i) for i in range(3)] == [[("state", "completed")], [("after", "A==")], [("after", "B==")]]


async def test_a_repeated_cursor_stops_paging_with_a_clear_error(respx_mock: respx.MockRouter) -> None:
    mock_tokens(respx_mock)
    tasks = respx_mock.get(TASKS_URL).mock(
        side_effect=[page(1, after="A=="), page(2, after="B=="), page(3, after="A==")]
    )
    seen: list[int] = []
    async with respx_client() as client:
        with pytest.raises(InvalidResponseError, match="same 'after' cursor twice"):
            async for task in client.iter_tasks(page_size=1):
                seen.append(task.id)
    assert seen == [1, 2, 3]
    assert tasks.call_count == 3  # no fourth request


async def test_max_items_and_max_pages_stop_without_extra_requests(respx_mock: respx.MockRouter) -> None:
    mock_tokens(respx_mock)
    tasks = respx_mock.get(TASKS_URL).mock(side_effect=[
        page(1, 2, 3, 4, 5, after="A=="),
        page(1, after="A=="), page(2, after="B=="),
    ])
    async with respx_client() as client:
        first = [t.id async for t in client.iter_tasks(max_items=3)]
        capped = [t.id async for t in client.iter_tasks(max_pages=2)]
    assert first == [1, 2, 3]
    assert capped == [1, 2]
    assert tasks.call_count == 3


# -- get_task and activities --------------------------------------------------------------------


async def test_get_task_keeps_ids_above_2_pow_53_exact(respx_mock: respx.MockRouter) -> None:
    big = 2**53 + 1
    mock_tokens(respx_mock)
    route = respx_mock.get(f"{TASKS_URL}/{big}").mock(return_value=httpx.Response(
        200, content=f'{{"id": {big}, "idString": "{big}", "state": "completed"}}'.encode(),
        headers={"Content-Type": "application/json"}))
    async with respx_client() as client:
        by_int = await client.get_task(big)
        by_string = await client.get_task(str(big))
    assert by_int.id == by_string.id == big
    assert float(big) != big  # the value a float would have corrupted
    assert [str(c.request.url) for c in route.calls] == [f"{TASKS_URL}/9007199254740993"] * 2


async def test_get_task_errors(respx_mock: respx.MockRouter) -> None:
    mock_tokens(respx_mock)
    respx_mock.get(f"{TASKS_URL}/42").mock(return_value=envelope(404, "Task 42 not found"))
    async with respx_client() as client:
        with pytest.raises(NotFoundError, match="Task 42 not found"):
            await client.get_task(42)
        for bad in (0, -1, "abc", True, 2**63, "١٢"):
            with pytest.raises(BadInputError):
                await client.get_task(bad)  # type: ignore[arg-type]


async def test_list_activities_sends_its_filters(respx_mock: respx.MockRouter) -> None:
    mock_tokens(respx_mock)
    route = respx_mock.get(ACTIVITIES_URL).mock(return_value=httpx.Response(200, json={
        "items": [{"id": 11, "idString": "11", "taskId": 10, "taskIdString": "10", "state": "completed",
                   "result": {"code": "abandoned"}}], "paging": {"cursors": {}}}))
    async with respx_client() as client:
        result = await client.list_activities(
            ActivityQuery(task_id=10, sustainable=True), created_at=TimeFilter.after("1714550400"),
            policy_type="backup", limit=5,
        )
    assert sent(route) == [("taskId", "10"), ("policyType", "backup"), ("sustainable", "true"),
                           ("createdAt", "gt(1714550400)"), ("limit", "5")]
    assert result.items[0].task_id == 10 and result.items[0].result_code == "abandoned"


async def test_iter_activities_pages_with_after_only(respx_mock: respx.MockRouter) -> None:
    mock_tokens(respx_mock)
    route = respx_mock.get(ACTIVITIES_URL).mock(side_effect=[page(1, after="X=="), page(2)])
    async with respx_client() as client:
        ids = [a.id async for a in client.iter_activities(task_id="10", page_size=1)]
    assert ids == [1, 2]
    assert sent(route, 0) == [("taskId", "10"), ("limit", "1")]
    assert sent(route, 1) == [("limit", "1"), ("after", "X==")]


# -- construction ---------------------------------------------------------------------------------


async def test_base_url_may_include_the_api_path_and_secrets_stay_out_of_repr(respx_mock: respx.MockRouter) -> None:
    mock_tokens(respx_mock)
    tasks = respx_mock.get(TASKS_URL).mock(return_value=page())
    client = AcronisClient(f"{DC}/api/task_manager/v2/", CLIENT_ID, CLIENT_SECRET)
    async with client:
        await client.list_tasks()
    assert tasks.called
    assert repr(client) == f"AcronisClient(base_url='{DC}')"
    assert CLIENT_SECRET not in repr(client.__dict__)


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (("eu2-cloud.acronis.com", "id", "x-value-1"), "not an http"),
        (("", "id", "x-value-2"), "base_url is empty"),
        ((DC, " ", "x-value-3"), "client_id is empty"),
        ((DC, "id", ""), "client_secret is empty"),
    ],
)
def test_construction_is_validated(args: tuple[str, str, str], why: str) -> None:
    with pytest.raises(BadInputError, match=why):
        AcronisClient(*args)
