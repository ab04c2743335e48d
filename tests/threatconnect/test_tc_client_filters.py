"""Filter sets: the 14 API filters and their v2 paths, AND/OR, server filters, post filters, owners, paging."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
import respx
from tc_helpers import BASE_URL, HOST, SECRET, Recorder, page, task_json

from prefect_soar.clients.threatconnect import ThreatConnectClient
from prefect_soar.clients.threatconnect_filters import PostFilter, TaskFilter, guess_indicator_type
from prefect_soar.errors import BadInputError
from prefect_soar.models.threatconnect import Task

PAGING = "resultStart=0&resultLimit=100&createActivityLog=false"

API_FILTERS = [
    ({"adversary_id": 11}, "/api/v2/groups/adversaries/11/tasks"),
    ({"campaign_id": 12}, "/api/v2/groups/campaigns/12/tasks"),
    ({"document_id": 13}, "/api/v2/groups/documents/13/tasks"),
    ({"email_id": 14}, "/api/v2/groups/emails/14/tasks"),
    ({"incident_id": 15}, "/api/v2/groups/incidents/15/tasks"),
    ({"indicator": "http://bad.example/x?y=1"}, "/api/v2/indicators/urls/http%3A%2F%2Fbad.example%2Fx%3Fy%3D1/tasks"),
    ({"indicator": "10.0.0.1"}, "/api/v2/indicators/addresses/10.0.0.1/tasks"),
    ({"indicator": "Key", "indicator_type": "Registry Key"}, "/api/v2/indicators/registryKeys/Key/tasks"),
    ({"security_label": "TLP:AMBER"}, "/api/v2/securityLabels/TLP%3AAMBER/tasks"),
    ({"signature_id": 16}, "/api/v2/groups/signatures/16/tasks"),
    ({"tag": "Nation State"}, "/api/v2/tags/Nation%20State/tasks"),
    ({"task_id": 17}, "/api/v2/tasks/17/tasks"),
    ({"threat_id": 18}, "/api/v2/groups/threats/18/tasks"),
    ({"victim_id": 19}, "/api/v2/victims/19/tasks"),
    ({"owner": "Example Org"}, "/api/v2/tasks"),
]


@pytest.mark.parametrize(("criteria", "path"), API_FILTERS)
async def test_each_api_filter_uses_its_v2_path(
    tc_api: Recorder, tc_client: ThreatConnectClient, criteria: dict[str, Any], path: str
) -> None:
    tc_api.reply(json=page([task_json(1)], 1))
    tasks = await tc_client.list_tasks(**criteria)
    owner = "owner=Example+Org&" if "owner" in criteria else ""
    assert tc_api.lines() == [f"GET {path}?{owner}{PAGING}"]
    assert [t.id for t in tasks] == [1]


async def test_id_filter_gets_one_task_and_404_means_none(tc_api: Recorder, tc_client: ThreatConnectClient) -> None:
    tc_api.reply(json={"status": "Success", "data": {"task": task_json(5, status="Completed")}})
    tc_api.reply(404, {"status": "Failure", "message": "The requested resource was not found"})
    tc_api.reply(json={"status": "Success", "data": {"task": task_json(5, status="Completed")}})
    assert [t.id for t in await tc_client.list_tasks(id=5)] == [5]
    assert await tc_client.list_tasks(id=6) == []
    assert await tc_client.list_tasks(id=5, status="In Progress") == []  # server filters checked locally
    assert tc_api.lines() == ["GET /api/v2/tasks/5", "GET /api/v2/tasks/6", "GET /api/v2/tasks/5"]


async def test_unknown_tag_404_is_an_empty_result(tc_api: Recorder, tc_client: ThreatConnectClient) -> None:
    tc_api.reply(404, {"status": "Failure", "message": "The requested resource was not found"})
    assert await tc_client.list_tasks(tag="never used") == []


def test_indicator_type_is_inferred() -> None:
    cases = {
        "1.2.3.4": "addresses", "2001:db8::1": "addresses", "10.0.0.0/8": "cidrBlocks", "a@b.example": "emailAddresses",
        "https://x.example/p": "urls", "d41d8cd98f00b204e9800998ecf8427e": "files", "ASN64500": "asns",
        "bad.example.net": "hosts",
    }
    assert {value: guess_indicator_type(value) for value in cases} == cases


async def test_api_filters_in_one_set_are_anded(tc_api: Recorder, tc_client: ThreatConnectClient) -> None:
    tc_api.on("GET", f"/api/v2/tags/A/tasks?{PAGING}", json=page([task_json(1), task_json(2), task_json(3)], 3))
    tc_api.on("GET", f"/api/v2/securityLabels/TLP%3ARED/tasks?{PAGING}", json=page([task_json(3), task_json(2)], 2))
    tasks = await tc_client.list_tasks(TaskFilter(tag="A", security_label="TLP:RED"))
    assert [t.id for t in tasks] == [2, 3]
    assert len(tc_api.requests) == 2


async def test_filter_sets_combine_with_and_or_left_to_right(tc_api: Recorder, tc_client: ThreatConnectClient) -> None:
    tc_api.on("GET", f"/api/v2/tags/A/tasks?{PAGING}", json=page([task_json(1), task_json(2), task_json(3)], 3))
    tc_api.on("GET", f"/api/v2/tags/B/tasks?{PAGING}", json=page([task_json(2), task_json(4)], 2))
    tc_api.on("GET", f"/api/v2/tags/C/tasks?{PAGING}", json=page([task_json(5)], 1))
    a, b, c = TaskFilter(tag="A"), TaskFilter(tag="B"), TaskFilter(tag="C", operator="or")
    assert [t.id for t in await tc_client.list_tasks(a, b)] == [2]  # AND is the default operator
    assert [t.id for t in await tc_client.list_tasks(a, TaskFilter(tag="B", operator="OR"))] == [1, 2, 3, 4]
    assert [t.id for t in await tc_client.list_tasks(a, b, c)] == [2, 5]  # (A and B) or C
    assert [t.id for t in await tc_client.list_tasks(a, b, c, max_items=1)] == [2]


async def test_server_filters_are_encoded(tc_api: Recorder, tc_client: ThreatConnectClient) -> None:
    tc_api.reply(json=page([], 0)).reply(json=page([], 0))
    await tc_client.list_tasks(
        status="In Progress", assignee="a@x.com", escalatee="e@x.com", overdue=True, escalated=False, reminded=True,
        due_before=datetime(2024, 6, 1, 12, 0, tzinfo=UTC), due_after="2024-01-01T00:00:00+02:00",
    )
    await tc_client.list_tasks(TaskFilter(tag="T", status_not="completed", or_params=True))
    assert tc_api.lines() == [
        f"GET /api/v2/tasks?{PAGING}&filters=status%3DIn+Progress%2Cassignee%3Da%40x.com%2Cescalatee%3De%40x.com"
        "%2Coverdue%3Dtrue%2Cescalated%3Dfalse%2Creminded%3Dtrue%2CdueDate%3C2024-06-01T12%3A00%3A00Z"
        "%2CdueDate%3E2023-12-31T22%3A00%3A00Z",
        f"GET /api/v2/tags/T/tasks?{PAGING}&filters=status%21Completed&orParams=true",
    ]
    assert httpx.URL(tc_api.requests[1].url).params["filters"] == "status!Completed"


def test_server_filter_values_may_not_contain_commas() -> None:
    with pytest.raises(BadInputError, match="comma"):
        TaskFilter(assignee="a,b").server_params()


# -- post filters ------------------------------------------------------------------------------------

TASKS = [Task(id=i, name=name, dateAdded=added) for i, (name, added) in enumerate(
    [("alpha", "2024-01-01T10:00:00Z"), ("beta", "2024-01-02T00:00:00Z"), ("gamma", "2024-01-02T23:59:59Z"),
     ("delta", "2024-01-03T00:00:00+05:00")], start=1)]

NAME_CASES = {"EQ": [2], "NE": [1, 3, 4], "GT": [3, 4], "GE": [2, 3, 4], "LT": [1], "LE": [1, 2]}
DAY_CASES = {"EQ": [2, 3, 4], "NE": [1], "GT": [], "GE": [2, 3, 4], "LT": [1], "LE": [1, 2, 3, 4]}
INSTANT_CASES = {"EQ": [2], "NE": [1, 3, 4], "GT": [3, 4], "GE": [2, 3, 4], "LT": [1], "LE": [1, 2]}


@pytest.mark.parametrize("op", list(NAME_CASES))
def test_name_post_filter_operators(op: str) -> None:
    post = PostFilter(field="name", operator=op, value="beta")  # type: ignore[arg-type]
    assert [t.id for t in TASKS if post.matches(t)] == NAME_CASES[op]


@pytest.mark.parametrize("op", list(DAY_CASES))
def test_date_added_post_filter_operators_on_a_day(op: str) -> None:
    # "delta" was added 2024-01-03T00:00+05:00 = 2024-01-02T19:00Z: the UTC day counts
    post = PostFilter(field="date_added", operator=op, value=date(2024, 1, 2))  # type: ignore[arg-type]
    assert [t.id for t in TASKS if post.matches(t)] == DAY_CASES[op]


@pytest.mark.parametrize("op", list(INSTANT_CASES))
def test_date_added_post_filter_operators_on_an_instant(op: str) -> None:
    post = PostFilter(field="date_added", operator=op, value="2024-01-02T00:00:00")  # naive means UTC
    assert [t.id for t in TASKS if post.matches(t)] == INSTANT_CASES[op]


def test_post_filter_symbols_and_missing_dates() -> None:
    assert PostFilter(field="name", operator=">=", value="b").operator == "GE"
    assert not PostFilter(field="date_added", operator="LE", value="2030-01-01").matches(Task(id=1, name="x"))


async def test_post_filters_apply_to_listed_tasks(tc_api: Recorder, tc_client: ThreatConnectClient) -> None:
    listed = [task_json(t.id, t.name, dateAdded=t.date_added.isoformat()) for t in TASKS if t.date_added]
    tc_api.reply(json=page(listed, 4))
    task_filter = TaskFilter().add_pf_name("b", "GE").add_pf_date_added("2024-01-02", "LE")
    assert [t.id for t in await tc_client.list_tasks(task_filter)] == [2, 3, 4]


# -- owners and paging --------------------------------------------------------------------------------


async def test_several_owners_fan_out_one_per_request_bounded() -> None:
    in_flight = peak = 0

    async def answer(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        owner = request.url.params["owner"]
        ids = {"O1": [1, 2], "O2": [3], "O3": [2, 4]}[owner]  # ids are unique per owner in TC; 2 twice is deduped
        return httpx.Response(200, json=page([task_json(i) for i in ids], len(ids)))

    with respx.mock(assert_all_called=True) as router:
        route = router.route(host=HOST).mock(side_effect=answer)
        async with ThreatConnectClient(base_url=BASE_URL, access_id="id", secret_key=SECRET, max_concurrency=2) as tc:
            tasks = await tc.list_tasks(owner=["O1", "O2", "O3", "O1"], tag="T")
    owners = sorted(call.request.url.params.get_list("owner")[0] for call in route.calls)
    assert owners == ["O1", "O2", "O3"]
    assert all(len(call.request.url.params.get_list("owner")) == 1 for call in route.calls)
    assert all(call.request.url.path == "/api/v2/tags/T/tasks" for call in route.calls)
    assert peak == 2
    assert [t.id for t in tasks] == [1, 2, 3, 4]


async def test_paging_keeps_result_count_and_stops_on_a_short_page(
    tc_api: Recorder, tc_client: ThreatConnectClient
) -> None:
    tc_api.reply(json=page([task_json(1), task_json(2)], 5))
    tc_api.reply(json=page([task_json(3), task_json(4)]))
    tc_api.reply(json=page([task_json(5)]))
    tasks = await tc_client.list_tasks(page_size=2)
    assert [t.id for t in tasks] == [1, 2, 3, 4, 5]
    assert tc_api.lines() == [
        "GET /api/v2/tasks?resultStart=0&resultLimit=2&createActivityLog=false",
        "GET /api/v2/tasks?resultStart=2&resultLimit=2&createActivityLog=false",
        "GET /api/v2/tasks?resultStart=4&resultLimit=2&createActivityLog=false",
    ]


async def test_paging_stops_at_result_count_on_a_full_last_page(
    tc_api: Recorder, tc_client: ThreatConnectClient
) -> None:
    tc_api.reply(json=page([task_json(1), task_json(2)], 4)).reply(json=page([task_json(3), task_json(4)]))
    assert len(await tc_client.list_tasks(page_size=2)) == 4
    assert len(tc_api.requests) == 2


async def test_iter_tasks_stops_fetching_at_the_cap(tc_api: Recorder, tc_client: ThreatConnectClient) -> None:
    tc_api.reply(json=page([task_json(1), task_json(2)], 10)).reply(json=page([task_json(3), task_json(4)]))
    seen = [t.id async for t in tc_client.iter_tasks(page_size=2, max_items=3)]
    assert seen == [1, 2, 3]
    assert len(tc_api.requests) == 2
    assert [t.id async for t in tc_client.iter_tasks(max_items=0)] == []


async def test_list_tasks_page_is_one_raw_page(tc_api: Recorder, owner_client: ThreatConnectClient) -> None:
    tc_api.reply(json=page([task_json(9)]))
    tasks, count = await owner_client.list_tasks_page(TaskFilter(status="Deferred"), result_start=200, result_limit=10)
    assert tc_api.lines() == [
        "GET /api/v2/tasks?owner=Example+Org&resultStart=200&resultLimit=10&createActivityLog=false"
        "&filters=status%3DDeferred"]
    assert [t.id for t in tasks] == [9] and count is None


async def test_page_size_up_to_ten_thousand(tc_api: Recorder, tc_client: ThreatConnectClient) -> None:
    tc_api.reply(json=page([], 0))
    await tc_client.list_tasks(page_size=10_000)
    assert tc_api.lines() == ["GET /api/v2/tasks?resultStart=0&resultLimit=10000&createActivityLog=false"]
