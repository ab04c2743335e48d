"""The Acronis emulator on the wire (raw HTTP over loopback): auth, filters, paging, envelopes, lifecycle."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from prefect_soar.simulators._lab import FaultConfig, LabServer
from prefect_soar.simulators.acronis import LAB_CREDENTIALS
from prefect_soar.simulators.acronis_backend import TASKS, format_ns, matches, parse_query

from .conftest import LAB_NOW

BASIC = "Basic " + base64.b64encode(
    f"{LAB_CREDENTIALS['client_id']}:{LAB_CREDENTIALS['client_secret']}".encode()
).decode()
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
NOW_S = int(LAB_NOW.timestamp())
DAY_AGO_S = NOW_S - 86400

# 24 h before the lab's frozen "now", in each of the six layouts
DAY_AGO = {
    "RFC3339": "2024-04-30T12:00:00Z",
    "RFC3339 offset": "2024-04-30T14:00:00.000000000+02:00",
    "RFC1123": "Tue, 30 Apr 2024 12:00:00 GMT",
    "RFC850": "Tuesday, 30-Apr-24 12:00:00 UTC",
    "ANSIC": "Tue Apr 30 12:00:00 2024",
    "Unix": str(DAY_AGO_S),
    "Unix ns": f"{DAY_AGO_S}000000000ns",
}


@pytest.fixture
async def http(acronis_lab: LabServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=acronis_lab.base_url, timeout=10) as client:
        yield client


async def bearer(http: httpx.AsyncClient) -> dict[str, str]:
    response = await http.post("/api/2/idp/token", content=b"grant_type=client_credentials",
                               headers={**FORM, "Authorization": BASIC})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def ground_truth(server: LabServer, pairs: list[tuple[str, str]]) -> list[int]:
    """Ids the backend says match ``pairs``, in ascending id order (independent of HTTP and paging)."""
    backend = server.app.state.backend
    now = backend.now_ns()
    query = parse_query(TASKS, pairs)
    return sorted(t.id for t in backend.tasks if t.visible(now) and matches(TASKS, query, t.snapshot(now)))


async def all_ids(http: httpx.AsyncClient, headers: dict[str, str], params: list[tuple[str, str]],
                  path: str = "/api/task_manager/v2/tasks") -> list[int]:
    response = await http.get(path, params=[*params, ("limit", "1000")], headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "after" not in body["paging"]["cursors"]
    return [item["id"] for item in body["items"]]


def assert_envelope(response: httpx.Response, status: int, *fragments: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == status and error["domain"]
    for fragment in fragments:
        assert fragment in error["message"]
    return error


# -- token endpoint -----------------------------------------------------------------------------


async def test_token_endpoint_issues_expiring_bearer_tokens(http: httpx.AsyncClient, acronis_lab: LabServer) -> None:
    import time

    response = await http.post("/api/2/idp/token", data={"grant_type": "client_credentials", "scope": "openid"},
                               headers={"Authorization": BASIC})
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"access_token", "expires_on", "id_token", "token_type"}
    assert body["token_type"] == "bearer" and body["access_token"].count(".") == 2
    assert isinstance(body["expires_on"], int) and abs(body["expires_on"] - (time.time() + 7200)) < 5
    acronis_lab.control.set_faults(FaultConfig(token_ttl_seconds=5))
    short = (await http.post("/api/2/idp/token", data={"grant_type": "client_credentials"},
                             headers={"Authorization": BASIC})).json()
    assert abs(short["expires_on"] - (time.time() + 5)) < 2


@pytest.mark.parametrize(
    ("headers", "body", "status", "fragment"),
    [
        ({"Authorization": "Basic " + base64.b64encode(b"lab-acronis-client:wrong").decode(), **FORM},
         b"grant_type=client_credentials", 401, "Invalid client credentials"),
        ({"Authorization": "Basic " + base64.b64encode(b"someone-else:lab-acronis-secret").decode(), **FORM},
         b"grant_type=client_credentials", 401, "Invalid client credentials"),
        (FORM, b"grant_type=client_credentials", 401, "Client authentication is required"),
        ({"Authorization": "Basic !!notbase64", **FORM}, b"grant_type=client_credentials", 401, "required"),
        ({"Authorization": BASIC, "Content-Type": "application/json"}, b'{"grant_type":"client_credentials"}',
         415, "application/x-www-form-urlencoded"),
        ({"Authorization": BASIC, **FORM}, b"grant_type=password", 400, "Unsupported grant_type"),
        ({"Authorization": BASIC, **FORM}, b"", 400, "(missing)"),
    ],
)
async def test_token_endpoint_rejects_bad_requests_in_the_envelope(
    http: httpx.AsyncClient, headers: dict[str, str], body: bytes, status: int, fragment: str,
) -> None:
    response = await http.post("/api/2/idp/token", content=body, headers=headers)
    error = assert_envelope(response, status, fragment)
    assert error["domain"] == "PlatformAccountServer"


async def test_api_needs_a_valid_unexpired_bearer_token(http: httpx.AsyncClient, acronis_lab: LabServer) -> None:
    missing = await http.get("/api/task_manager/v2/tasks")
    assert_envelope(missing, 401, "missing")
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert_envelope(await http.get("/api/task_manager/v2/tasks", headers={"Authorization": "Bearer nope"}),
                    401, "invalid")
    acronis_lab.control.set_faults(FaultConfig(token_ttl_seconds=0.05))
    headers = await bearer(http)
    await asyncio.sleep(0.1)
    assert_envelope(await http.get("/api/task_manager/v2/tasks", headers=headers), 401, "expired")
    acronis_lab.control.set_faults(FaultConfig())
    fresh = await bearer(http)
    assert (await http.get("/api/task_manager/v2/activities", headers=fresh)).status_code == 200
    acronis_lab.app.state.backend.revoke_tokens()
    assert_envelope(await http.get("/api/task_manager/v2/tasks/1", headers=fresh), 401, "invalid")


# -- date conditions ---------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["gt", "ge", "lt", "le", "eq"])
async def test_all_six_layouts_name_the_same_instant_for_every_operator(
    http: httpx.AsyncClient, acronis_lab: LabServer, op: str,
) -> None:
    headers = await bearer(http)
    expected = ground_truth(acronis_lab, [("completedAt", f"{op}({DAY_AGO_S})")])
    if op != "eq":
        assert 0 < len(expected) < 300
    for text in DAY_AGO.values():
        assert await all_ids(http, headers, [("completedAt", f"{op}({text})")]) == expected, text


async def test_eq_matches_a_nanosecond_timestamp_exactly(http: httpx.AsyncClient) -> None:
    headers = await bearer(http)
    some = (await http.get("/api/task_manager/v2/tasks", params={"state": "completed", "limit": "1"},
                           headers=headers)).json()["items"][0]
    completed = some["completedAt"]
    assert len(completed.split(".")[1]) == len("123456789Z")  # nine fraction digits on the wire
    assert await all_ids(http, headers, [("completedAt", f"eq({completed})")]) == [some["id"]]
    seconds = completed.split(".")[0] + "Z"
    assert some["id"] not in await all_ids(http, headers, [("completedAt", f"eq({seconds})")])


async def test_a_window_is_two_repeated_keys(http: httpx.AsyncClient, acronis_lab: LabServer) -> None:
    headers = await bearer(http)
    window = [("completedAt", f"ge({DAY_AGO['RFC1123']})"), ("completedAt", f"lt({NOW_S - 3600})")]
    ids = await all_ids(http, headers, window)
    assert ids == ground_truth(acronis_lab, window) and ids
    assert set(ids) < set(await all_ids(http, headers, window[:1]))


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ([("completedAt", "gt(2024-13-01T00:00:00Z)")], "Invalid time value '2024-13-01T00:00:00Z'"),
        ([("completedAt", "gt(yesterday)")], "Invalid time value 'yesterday'"),
        ([("startedAt", "gt(Tue, 30 Apr 2024 12:00:00)")], "Invalid time value"),
        ([("startedAt", "gt(1714550400000)")], "Invalid time value"),
        ([("enqueuedAt", "after(1714550400)")], "Unsupported comparison operator 'after'"),
        ([("assignedAt", "1714550400")], "expected assignedAt=op(value)"),
        ([("updatedAt", "gt(1714550400)"), ("updatedAt", "lt(1714636800)")], "single entry"),
        ([("state", "failed")], "Invalid value 'failed' for 'state'"),
        ([("resultCode", "failure")], "Invalid value 'failure' for 'resultCode'"),
        ([("uuid", "1234")], "expected a UUID"),
        ([("id", "12a")], "expected an integer id"),
        ([("order", "desc(colour)")], "Invalid order"),
        ([("lod", "everything")], "Invalid lod"),
        ([("limit", "0")], "Invalid limit"),
        ([("limit", "1001")], "the maximum is 1000"),
        ([("result_code", "error")], "Unknown query parameter 'result_code'"),
        ([("allow_deleted", "yes")], "Invalid boolean"),
    ],
)
async def test_bad_filters_are_400_in_the_error_envelope(
    http: httpx.AsyncClient, params: list[tuple[str, str]], fragment: str,
) -> None:
    headers = await bearer(http)
    response = await http.get("/api/task_manager/v2/tasks", params=params, headers=headers)
    error = assert_envelope(response, 400, fragment)
    assert error["domain"] == "TaskManager" and "parameter" in error["details"]


# -- paging --------------------------------------------------------------------------------------


async def test_cursors_encode_the_query_and_pages_tile_the_result(http: httpx.AsyncClient) -> None:
    headers = await bearer(http)
    first = [("type", "backup"), ("order", "desc(completedAt)"), ("lod", "short")]
    expected = await all_ids(http, headers, first)
    response = await http.get("/api/task_manager/v2/tasks", params=[*first, ("limit", "7")], headers=headers)
    got, pages, cursor = [], 0, None
    while True:
        body = response.json()
        pages += 1
        assert body["size"] == len(body["items"]) <= 7
        assert all(set(item) <= {"id", "idString", "uuid", "type", "state", "queue", "priority", "enqueuedAt",
                                 "startedAt", "completedAt", "updatedAt", "tenant", "resource", "policy",
                                 "cancellable", "result"} for item in body["items"])
        got += [item["id"] for item in body["items"]]
        cursor = body["paging"]["cursors"].get("after")
        if cursor is None:
            break
        base64.b64decode(cursor, validate=True)  # opaque, standard base64 (clients must URL-encode it)
        response = await http.get("/api/task_manager/v2/tasks", params={"after": cursor}, headers=headers)
        assert response.status_code == 200, response.text
    assert len(expected) > 20
    assert got == expected and len(set(got)) == len(got)
    assert pages == -(-len(expected) // 7)


async def test_before_cursor_returns_the_previous_page(http: httpx.AsyncClient) -> None:
    headers = await bearer(http)
    page1 = (await http.get("/api/task_manager/v2/tasks", params={"limit": "5"}, headers=headers)).json()
    assert "before" not in page1["paging"]["cursors"]
    page2 = (await http.get("/api/task_manager/v2/tasks", params={"after": page1["paging"]["cursors"]["after"]},
                            headers=headers)).json()
    back = (await http.get("/api/task_manager/v2/tasks", params={"before": page2["paging"]["cursors"]["before"]},
                           headers=headers)).json()
    assert [i["id"] for i in back["items"]] == [i["id"] for i in page1["items"]]
    assert [i["id"] for i in page2["items"]] > [i["id"] for i in page1["items"]]  # ascending ids by default


async def test_cursor_misuse_is_400(http: httpx.AsyncClient) -> None:
    headers = await bearer(http)
    body = (await http.get("/api/task_manager/v2/tasks", params={"limit": "2", "state": "completed"},
                           headers=headers)).json()
    cursor = body["paging"]["cursors"]["after"]
    with_filter = await http.get("/api/task_manager/v2/tasks", params={"after": cursor, "state": "completed"},
                                 headers=headers)
    assert_envelope(with_filter, 400, "the cursor already encodes the query")
    # lod and limit may come with a cursor (the official loop resends lod)
    ok = await http.get("/api/task_manager/v2/tasks", params={"after": cursor, "limit": "3", "lod": "tiny"},
                        headers=headers)
    assert ok.status_code == 200 and len(ok.json()["items"]) == 3
    assert set(ok.json()["items"][0]) == {"id", "idString", "uuid", "type", "state"}
    raw = base64.b64decode(cursor)
    tampered = base64.b64encode(raw[:-2] + b"9}").decode()
    assert_envelope(await http.get("/api/task_manager/v2/tasks", params={"after": tampered}, headers=headers),
                    400, "Invalid cursor")
    assert_envelope(await http.get("/api/task_manager/v2/tasks", params={"after": "***"}, headers=headers),
                    400, "Invalid cursor")
    assert_envelope(await http.get("/api/task_manager/v2/activities", params={"after": cursor}, headers=headers),
                    400, "another listing")
    both = await http.get("/api/task_manager/v2/tasks", params={"after": cursor, "before": cursor}, headers=headers)
    assert_envelope(both, 400, "either 'after' or 'before'")


# -- shapes, ids, lifecycle -----------------------------------------------------------------------


async def test_ids_above_2_pow_53_are_exact_json_numbers(http: httpx.AsyncClient) -> None:
    headers = await bearer(http)
    response = await http.get("/api/task_manager/v2/tasks", params={"limit": "50"}, headers=headers)
    items = json.loads(response.content)["items"]
    assert all(item["id"] > 2**53 and str(item["id"]) == item["idString"] for item in items)
    assert f'"id":{items[0]["id"]},' in response.text  # a number, not a string
    as_floats = json.loads(response.content, parse_int=float)["items"]
    assert any(int(f["id"]) != i["id"] for f, i in zip(as_floats, items, strict=True))  # floats would corrupt them
    single = await http.get(f"/api/task_manager/v2/tasks/{items[0]['id']}", headers=headers)
    assert single.json()["id"] == items[0]["id"] and "items" not in single.json()


async def test_get_task_errors_use_the_envelope(http: httpx.AsyncClient) -> None:
    headers = await bearer(http)
    assert_envelope(await http.get("/api/task_manager/v2/tasks/42", headers=headers), 404, "Task 42 not found")
    assert_envelope(await http.get("/api/task_manager/v2/tasks/abc", headers=headers), 400, "numeric id")
    assert_envelope(await http.get("/api/task_manager/v2/nothing", headers=headers), 404, "Not Found")


async def test_lod_count_and_full(http: httpx.AsyncClient, acronis_lab: LabServer) -> None:
    headers = await bearer(http)
    counted = (await http.get("/api/task_manager/v2/tasks", params={"lod": "count", "type": "backup"},
                              headers=headers)).json()
    assert counted["items"] == [] and counted["size"] == len(ground_truth(acronis_lab, [("type", "backup")]))
    full = (await http.get("/api/task_manager/v2/tasks", params={"lod": "full", "limit": "1", "state": "completed"},
                           headers=headers)).json()["items"][0]
    assert {"context", "tenant", "result", "issuer", "executor", "startedByUser", "cancelRequested"} <= set(full)
    debug = (await http.get("/api/task_manager/v2/tasks", params={"lod": "debug", "limit": "1"},
                            headers=headers)).json()["items"][0]
    assert "debug" in debug


async def test_failed_backups_carry_resource_policy_and_reason(http: httpx.AsyncClient) -> None:
    headers = await bearer(http)
    body = (await http.get("/api/task_manager/v2/tasks", params=[("type", "backup"), ("resultCode", "error"),
                                                                 ("limit", "1000")], headers=headers)).json()
    assert len(body["items"]) >= 5
    for item in body["items"]:
        assert item["state"] == "completed" and item["result"]["code"] == "error"
        assert item["result"]["error"]["reason"] and item["result"]["error"]["domain"] == "Backup"
        assert item["resource"]["id"] and item["policy"]["type"] == "backup"


async def test_repeatable_state_and_result_code_are_ored(http: httpx.AsyncClient, acronis_lab: LabServer) -> None:
    headers = await bearer(http)
    pairs = [("resultCode", "error"), ("resultCode", "timedout"), ("state", "completed"), ("state", "paused")]
    ids = await all_ids(http, headers, pairs)
    errors = await all_ids(http, headers, [("resultCode", "error")])
    timeouts = await all_ids(http, headers, [("resultCode", "timedout")])
    assert ids == ground_truth(acronis_lab, pairs) == sorted(errors + timeouts)
    assert errors and timeouts


async def test_observed_filters_and_deleted_tasks(http: httpx.AsyncClient, acronis_lab: LabServer) -> None:
    headers = await bearer(http)
    visible = await all_ids(http, headers, [])
    with_deleted = await all_ids(http, headers, [("allow_deleted", "true")])
    assert set(visible) < set(with_deleted)
    sample = (await http.get(f"/api/task_manager/v2/tasks/{visible[10]}", headers=headers)).json()
    for key, value in (("uuid", sample["uuid"].upper()), ("id", sample["idString"])):
        assert await all_ids(http, headers, [(key, value)]) == [sample["id"]]
    for key, value in (("queue", sample["queue"]), ("priority", sample["priority"]), ("tag", sample["tags"][0]),
                       ("startedBy", sample["startedByUser"]), ("executorId", sample["executor"]["id"])):
        ids = await all_ids(http, headers, [(key, value)])
        assert sample["id"] in ids and ids == ground_truth(acronis_lab, [(key, value)])


async def test_the_clock_moves_tasks_and_updated_at_watermarks_see_it(
    http: httpx.AsyncClient, acronis_lab: LabServer,
) -> None:
    headers = await bearer(http)
    running = await all_ids(http, headers, [("state", "started"), ("state", "assigned"), ("state", "enqueued")])
    assert running
    watermark = format_ns(acronis_lab.app.state.backend.now_ns())
    assert await all_ids(http, headers, [("updatedAt", f"gt({watermark})")]) == []
    advanced = await http.post("/_lab/clock", json={"advance_seconds": 3 * 3600})
    assert advanced.json()["now"] > watermark
    changed = await all_ids(http, headers, [("updatedAt", f"gt({watermark})")])
    assert set(running) & set(changed)
    for task_id in set(running) & set(changed):
        task = (await http.get(f"/api/task_manager/v2/tasks/{task_id}", headers=headers)).json()
        assert task["updatedAt"] > watermark
    arrived = set(changed) - set(running)
    assert arrived  # new tasks were enqueued meanwhile
    acronis_lab.control.reset()
    assert await all_ids(http, headers, [("updatedAt", f"gt({watermark})")]) == []


async def test_activities_link_to_their_task(http: httpx.AsyncClient) -> None:
    headers = await bearer(http)
    failed = (await http.get("/api/task_manager/v2/tasks", params={"type": "backup", "resultCode": "error",
                                                                   "limit": "1"}, headers=headers)).json()["items"][0]
    body = (await http.get("/api/task_manager/v2/activities", params={"taskId": failed["idString"]},
                           headers=headers)).json()
    activities = body["items"]
    assert [a["taskId"] for a in activities] == [failed["id"]] * 3
    root = activities[0]
    assert "parentActivityId" not in root and root["result"]["code"] == "error"
    assert all(a["parentActivityId"] == root["id"] for a in activities[1:])
    assert activities[-1]["sustainable"] is True and activities[-1]["result"]["error"]["reason"]
    sustainable = await all_ids(http, headers, [("sustainable", "true"), ("taskId", failed["idString"])],
                                path="/api/task_manager/v2/activities")
    assert sustainable == [activities[-1]["id"]]


async def test_injected_faults_use_the_vendor_envelope(http: httpx.AsyncClient, acronis_lab: LabServer) -> None:
    headers = await bearer(http)
    acronis_lab.control.set_faults(FaultConfig(errors={503: 1.0}, retry_after_seconds=2))
    response = await http.get("/api/task_manager/v2/tasks", headers=headers)
    assert_envelope(response, 503, "lab fault")
    assert response.headers["Retry-After"] == "2"
