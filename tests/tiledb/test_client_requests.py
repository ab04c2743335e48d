"""TileDBClient unit tests: the exact request of every method (respx), and how answers are read."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from prefect_soar.clients.tiledb import TileDBClient, TileDBTaskFailedError
from prefect_soar.errors import (
    AuthenticationError,
    BadInputError,
    BadRequestError,
    NotFoundError,
    ServerError,
    WaitTimeoutError,
)
from prefect_soar.models.tiledb import SQLParameters

from .conftest import FAST

BASE = "https://api.tiledb.com/v1"
KEY = "tdb-unit-test-key-7f3a9c"
TASK = "5c5d8f2e-3b7a-4a55-9d0e-8b1f2a6c7d90"
TASK_HEADER = {"X-TILEDB-CLOUD-TASK-ID": TASK}


@pytest.fixture
async def client():
    async with TileDBClient(api_key=KEY, retry=FAST) as tiledb:
        yield tiledb


def sent(route) -> httpx.Request:
    assert route.call_count == 1
    return route.calls.last.request


# -- run_sql --------------------------------------------------------------------------------


async def test_run_sql_sends_sql_parameters_and_returns_rows_and_task_id(client, respx_mock):
    route = respx_mock.post(f"{BASE}/sql/organization1").mock(
        return_value=httpx.Response(200, json=[{"x": 1}, {"x": 2}], headers=TASK_HEADER)
    )
    sql = SQLParameters(
        name="q1", query="select ? as x", result_format="json", store_results=True, dont_download_results=False,
        resource_class="standard", init_commands=["SET sql_mode=''"], parameters=[1], output_uri=None,
        task_graph_uuid="tg-1", client_node_uuid="node-1",
    )
    result = await client.run_sql("organization1", sql, accept_encoding="deflate")

    request = sent(route)
    assert str(request.url) == f"{BASE}/sql/organization1"
    assert request.headers["X-TILEDB-REST-API-KEY"] == KEY
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Accept-Encoding"] == "deflate"
    assert request.headers["Content-Type"] == "application/json"
    assert "authorization" not in request.headers
    assert json.loads(request.content) == {
        "name": "q1", "query": "select ? as x", "result_format": "json", "store_results": True,
        "dont_download_results": False, "resource_class": "standard", "init_commands": ["SET sql_mode=''"],
        "parameters": [1], "task_graph_uuid": "tg-1", "client_node_uuid": "node-1",
    }
    assert result.task_id == TASK
    assert result.status_code == 200
    assert result.rows == [{"x": 1}, {"x": 2}]
    assert result.content_type == "application/json"


async def test_run_sql_accepts_plain_text_and_a_dict(client, respx_mock):
    route = respx_mock.post(f"{BASE}/sql/my%20org").mock(return_value=httpx.Response(204, headers=TASK_HEADER))
    result = await client.run_sql("my org", "create table t (a int)")
    assert json.loads(sent(route).content) == {"query": "create table t (a int)"}
    assert "Accept-Encoding" not in sent(route).headers or sent(route).headers["Accept-Encoding"] != "deflate"
    assert (result.task_id, result.status_code, result.rows, result.data) == (TASK, 204, None, None)

    route.reset()
    await client.run_sql("my org", {"query": "select 1", "result_format": "json"})
    assert json.loads(sent(route).content) == {"query": "select 1", "result_format": "json"}


async def test_run_sql_keeps_non_json_results_as_bytes(client, respx_mock):
    arrow = b"\xff\xff\xff\xff\x78\x00\x00\x00ARROW"
    respx_mock.post(f"{BASE}/sql/ns").mock(
        return_value=httpx.Response(
            200, content=arrow, headers={**TASK_HEADER, "Content-Type": "application/vnd.apache.arrow.stream"}
        )
    )
    result = await client.run_sql("ns", SQLParameters(query="select 1", result_format="arrow"))
    assert result.rows is None
    assert result.data == arrow
    assert result.content_type == "application/vnd.apache.arrow.stream"
    assert SQLParameters.model_validate({"query": "x"}).to_wire() == {"query": "x"}


async def test_run_sql_error_keeps_task_id_and_is_not_retried(client, respx_mock):
    route = respx_mock.post(f"{BASE}/sql/ns").mock(
        return_value=httpx.Response(
            400, json={"code": 400, "message": "Error running sql: boom", "request_id": "r-1"}, headers=TASK_HEADER
        )
    )
    with pytest.raises(BadRequestError) as caught:
        await client.run_sql("ns", "select raise_error('boom')")
    assert caught.value.task_id == TASK  # type: ignore[attr-defined]
    assert TASK in str(caught.value) and "Error running sql: boom" in str(caught.value)
    assert "request_id r-1" in str(caught.value)
    assert route.call_count == 1

    busy = respx_mock.post(f"{BASE}/sql/busy").mock(return_value=httpx.Response(503))
    with pytest.raises(ServerError):
        await client.run_sql("busy", "select 1")
    assert busy.call_count == 1, "POST /sql must not be retried: the query could run twice"


@pytest.mark.parametrize(
    ("namespace", "sql"),
    [
        ("", "select 1"),
        ("ns", ""),
        ("ns", "   "),
        ("ns", SQLParameters(query="select 1", result_format="parquet")),
        ("ns", {"query": "select 1", "parameters": "not-a-list"}),
        ("ns", 42),
    ],
)
async def test_run_sql_rejects_bad_input_before_sending(client, respx_mock, namespace, sql):
    with pytest.raises(BadInputError):
        await client.run_sql(namespace, sql)


async def test_basic_auth_when_no_api_key(respx_mock):
    route = respx_mock.get(f"{BASE}/task/{TASK}").mock(return_value=httpx.Response(200, json={"id": TASK}))
    async with TileDBClient(username="analyst", password="s3cret-pass", retry=FAST) as tiledb:
        await tiledb.task_id_get(TASK)
    request = sent(route)
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"analyst:s3cret-pass").decode()
    assert "X-TILEDB-REST-API-KEY" not in request.headers


async def test_api_key_wins_over_basic_and_secrets_stay_out_of_repr(respx_mock):
    route = respx_mock.get(f"{BASE}/task/{TASK}").mock(
        return_value=httpx.Response(401, json={"code": 401, "message": "Unauthorized", "request_id": "r"})
    )
    tiledb = TileDBClient(api_key=KEY, username="analyst", password="s3cret-pass", retry=FAST)
    assert KEY not in repr(tiledb) and KEY not in repr(tiledb._http.config)
    with pytest.raises(AuthenticationError) as caught:
        await tiledb.task_id_get(TASK)
    await tiledb.aclose()
    assert sent(route).headers["X-TILEDB-REST-API-KEY"] == KEY
    assert "authorization" not in sent(route).headers
    assert KEY not in str(caught.value) and "Unauthorized" in str(caught.value)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"username": "only-user"}, {"password": "only-pass"}, {"api_key": "k" * 8, "base_url": "api.tiledb.com/v1"}],
)
def test_constructor_needs_credentials_and_an_http_url(kwargs):
    with pytest.raises(BadInputError):
        TileDBClient(**kwargs)


# -- task_id_get / task_id_result_get --------------------------------------------------------


async def test_task_id_get_reads_an_array_task(client, respx_mock):
    route = respx_mock.get(f"{BASE}/task/{TASK}").mock(
        return_value=httpx.Response(
            200,
            json={
                "id": TASK, "status": "RESOURCES_UNAVAILABLE", "type": "SQL", "memory": 1073741824.0, "cpu": 4000.0,
                "duration": 7000000000, "start_time": "2019-08-24T14:15:22Z", "finish_time": None,
                "status_message": None, "sql_init_commands": None, "sql_parameters": None, "activity": None,
                "future_field": {"kept": True},
            },
        )
    )
    task = await client.task_id_get(TASK)
    request = sent(route)
    assert (request.method, str(request.url)) == ("GET", f"{BASE}/task/{TASK}")
    assert request.content == b""
    assert task.status == "RESOURCES_UNAVAILABLE" and task.is_terminal and not task.succeeded
    assert (task.memory, task.cpu, task.duration_seconds) == (1073741824, 4000, 7.0)
    assert task.sql_init_commands == [] and task.sql_parameters == [] and task.activity == []
    assert task.model_extra == {"future_field": {"kept": True}}


async def test_task_id_get_unknown_is_not_found_and_reads_are_retried(client, respx_mock):
    route = respx_mock.get(f"{BASE}/task/nope").mock(
        side_effect=[httpx.Response(503), httpx.Response(404, json={"code": 404, "message": "task not found"})]
    )
    with pytest.raises(NotFoundError) as caught:
        await client.task_id_get("nope")
    assert route.call_count == 2
    assert "task not found" in str(caught.value)


async def test_task_result_ready_json(client, respx_mock):
    route = respx_mock.get(f"{BASE}/task/{TASK}/result").mock(
        return_value=httpx.Response(200, json=[{"a": 1}], headers={"Content-Type": "application/json; charset=utf-8"})
    )
    result = await client.task_id_result_get(TASK, accept_encoding="gzip")
    request = sent(route)
    assert str(request.url) == f"{BASE}/task/{TASK}/result"
    assert request.headers["Accept-Encoding"] == "gzip"
    assert (result.status, result.ready, result.value, result.rows) == ("ready", True, [{"a": 1}], [{"a": 1}])
    assert result.content_type == "application/json"


async def test_task_result_ready_other_formats_stay_bytes(client, respx_mock):
    respx_mock.get(f"{BASE}/task/{TASK}/result").mock(
        return_value=httpx.Response(
            200, content=b"\x80\x04pickle", headers={"Content-Type": "application/vnd.tiledb.python-pickle"}
        )
    )
    result = await client.task_id_result_get(TASK)
    assert (result.status, result.data, result.value, result.rows) == ("ready", b"\x80\x04pickle", None, None)
    assert result.content_type == "application/vnd.tiledb.python-pickle"
    assert json.loads(result.model_dump_json())["data"] == base64.b64encode(b"\x80\x04pickle").decode()


async def test_task_result_202_is_running_and_404_is_missing(client, respx_mock):
    route = respx_mock.get(f"{BASE}/task/{TASK}/result").mock(
        side_effect=[
            httpx.Response(202),
            httpx.Response(404, json={"code": 404, "message": "results have expired", "request_id": "r-9"}),
        ]
    )
    running = await client.task_id_result_get(TASK)
    missing = await client.task_id_result_get(TASK)
    assert route.call_count == 2
    assert (running.status, running.ready, running.value) == ("running", False, None)
    assert missing.status == "missing"
    assert missing.message == "results have expired (code 404, request_id r-9)"


# -- tasks_get ------------------------------------------------------------------------------


async def test_tasks_get_serialises_every_parameter_as_the_spec_says(client, respx_mock):
    route = respx_mock.get(f"{BASE}/tasks").mock(
        return_value=httpx.Response(200, json={"pagination_metadata": {"page": 2, "per_page": 50}})
    )
    await client.tasks_get(
        namespace="soc-lab", created_by="alice", array="tiledb://soc-lab/events", start=1700000000, end=1700086400,
        page=2, per_page=50, type="SQL", exclude_type=["UDF", "QUERY"], file_type=["notebook", "ml_model"],
        exclude_file_type=["file", "registered_task_graph"], status="FAILED", search="ioc", orderby="start_time",
    )
    request = sent(route)
    assert str(request.url) == (
        f"{BASE}/tasks?namespace=soc-lab&created_by=alice&array=tiledb%3A%2F%2Fsoc-lab%2Fevents"
        "&start=1700000000&end=1700086400&page=2&per_page=50&type=SQL&exclude_type=UDF%2CQUERY"
        "&file_type=notebook&file_type=ml_model&exclude_file_type=file&exclude_file_type=registered_task_graph"
        "&status=FAILED&search=ioc&orderby=start_time"
    )
    assert request.url.params.multi_items() == [
        ("namespace", "soc-lab"), ("created_by", "alice"), ("array", "tiledb://soc-lab/events"),
        ("start", "1700000000"), ("end", "1700086400"), ("page", "2"), ("per_page", "50"), ("type", "SQL"),
        ("exclude_type", "UDF,QUERY"), ("file_type", "notebook"), ("file_type", "ml_model"),
        ("exclude_file_type", "file"), ("exclude_file_type", "registered_task_graph"), ("status", "FAILED"),
        ("search", "ioc"), ("orderby", "start_time"),
    ]
    assert request.headers["X-TILEDB-REST-API-KEY"] == KEY


async def test_tasks_get_without_filters_sends_no_query(client, respx_mock):
    route = respx_mock.get(f"{BASE}/tasks").mock(return_value=httpx.Response(200, json={}))
    data = await client.tasks_get()
    assert str(sent(route).url) == f"{BASE}/tasks"
    assert data.array_tasks == [] and data.pagination_metadata is None


async def test_tasks_get_single_strings_for_list_filters(client, respx_mock):
    route = respx_mock.get(f"{BASE}/tasks").mock(return_value=httpx.Response(200, json={}))
    await client.tasks_get(exclude_type="UDF", file_type="notebook", exclude_file_type="file")
    assert sent(route).url.params.multi_items() == [
        ("exclude_type", "UDF"), ("file_type", "notebook"), ("exclude_file_type", "file"),
    ]


async def test_tasks_get_converts_aware_datetimes_to_unix_seconds(client, respx_mock):
    route = respx_mock.get(f"{BASE}/tasks").mock(return_value=httpx.Response(200, json={}))
    plus3 = timezone(timedelta(hours=3))
    await client.tasks_get(
        start=datetime(2024, 1, 1, 3, 0, 0, tzinfo=plus3), end=datetime(2024, 1, 2, 0, 0, 0, 999999, tzinfo=UTC)
    )
    assert sent(route).url.params.multi_items() == [("start", "1704067200"), ("end", "1704153600")]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"start": datetime(2024, 1, 1)},  # naive: ambiguous
        {"end": -1},
        {"start": True},
        {"start": "2024-01-01"},
        {"start": float("nan")},
        {"start": 200, "end": 100},
        {"page": 0},
        {"per_page": -5},
        {"page": 1.5},
        {"namespace": ""},
        {"status": "  "},
        {"exclude_type": ["UDF,SQL"]},
        {"file_type": [""]},
    ],
)
async def test_tasks_get_rejects_bad_filters_before_sending(client, respx_mock, kwargs):
    with pytest.raises(BadInputError):
        await client.tasks_get(**kwargs)


async def test_check_connection_is_one_small_listing(client, respx_mock):
    route = respx_mock.get(f"{BASE}/tasks", params__eq={"page": "1", "per_page": "1"}).mock(
        return_value=httpx.Response(200, json={"array_tasks": [], "pagination_metadata": {"page": 1}})
    )
    await client.check_connection()
    assert route.call_count == 1


# -- iter_tasks ------------------------------------------------------------------------------


def page(ids: list[str], number: int, total_pages: float, per_page: float = 2) -> httpx.Response:
    body: dict = {"pagination_metadata": {"page": float(number), "per_page": per_page, "total_pages": total_pages,
                                          "total_items": float(len(ids))}}
    if ids:
        body["array_tasks"] = [{"id": i, "status": "COMPLETED"} for i in ids]
    return httpx.Response(200, json=body)


async def test_iter_tasks_walks_pages_with_a_pinned_end_and_skips_duplicates(client, respx_mock):
    route = respx_mock.get(f"{BASE}/tasks").mock(
        side_effect=[page(["a", "b"], 1, 3.0), page(["b", "c"], 2, 3.0), page(["d"], 3, 3.0)]
    )
    before = int(datetime.now(UTC).timestamp())
    seen = [t.id async for t in client.iter_tasks(namespace="soc-lab", status="FAILED", per_page=2)]
    assert seen == ["a", "b", "c", "d"]
    assert route.call_count == 3
    queries = [call.request.url.params for call in route.calls]
    assert [q["page"] for q in queries] == ["1", "2", "3"]
    assert {q["end"] for q in queries} == {queries[0]["end"]}, "end is pinned across pages"
    assert before <= int(queries[0]["end"]) <= before + 5
    assert all(q["namespace"] == "soc-lab" and q["status"] == "FAILED" and q["per_page"] == "2" for q in queries)


async def test_iter_tasks_stops_on_empty_page_caps_and_short_pages(client, respx_mock):
    route = respx_mock.get(f"{BASE}/tasks").mock(side_effect=[page(["a", "b"], 1, 9), page([], 2, 9)])
    assert [t.id async for t in client.iter_tasks(per_page=2, end=1700000000)] == ["a", "b"]
    assert route.call_count == 2
    assert route.calls.last.request.url.params["end"] == "1700000000"

    route.side_effect = [page(["a", "b"], 1, 9), page(["c", "d"], 2, 9)]
    route.reset()
    assert [t.id async for t in client.iter_tasks(per_page=2, max_items=3)] == ["a", "b", "c"]
    assert route.call_count == 2

    route.side_effect = [page(["a", "b"], 1, 9)]
    route.reset()
    assert len(await client.list_all_tasks(per_page=2, max_pages=1)) == 2
    assert route.call_count == 1

    route.side_effect = [httpx.Response(200, json={"array_tasks": [{"id": "x"}]})]  # no metadata, short page
    route.reset()
    assert [t.id async for t in client.iter_tasks(per_page=2)] == ["x"]
    assert route.call_count == 1

    route.side_effect = [page(["a", "b"], 1, 99), page(["a", "b"], 1, 99)]  # a server ignoring ``page``
    route.reset()
    assert [t.id async for t in client.iter_tasks(per_page=2)] == ["a", "b"]
    assert route.call_count == 2


async def test_iter_tasks_validates_before_the_first_request(client, respx_mock):
    with pytest.raises(BadInputError):
        [t async for t in client.iter_tasks(start=datetime(2024, 1, 1))]
    with pytest.raises(BadInputError):
        [t async for t in client.iter_tasks(max_items=0)]


# -- waiting --------------------------------------------------------------------------------


async def test_wait_for_result_polls_202_until_200(client, respx_mock):
    route = respx_mock.get(f"{BASE}/task/{TASK}/result").mock(
        side_effect=[httpx.Response(202), httpx.Response(202), httpx.Response(200, json=[{"n": 3}])]
    )
    result = await client.wait_for_result(TASK, timeout=5, poll=0.01)
    assert result.ready and result.rows == [{"n": 3}]
    assert route.call_count == 3


async def test_wait_for_result_times_out_while_running(client, respx_mock):
    route = respx_mock.get(f"{BASE}/task/{TASK}/result").mock(return_value=httpx.Response(202))
    with pytest.raises(WaitTimeoutError) as caught:
        await client.wait_for_result(TASK, timeout=0.1, poll=0.02)
    assert route.call_count >= 2
    assert TASK in str(caught.value)


async def test_wait_for_result_reports_a_failed_task(client, respx_mock):
    respx_mock.get(f"{BASE}/task/{TASK}/result").mock(
        return_value=httpx.Response(404, json={"code": 404, "message": "no results were saved"})
    )
    respx_mock.get(f"{BASE}/task/{TASK}").mock(
        return_value=httpx.Response(200, json={"id": TASK, "status": "FAILED", "status_message": "Table 'x' missing"})
    )
    with pytest.raises(TileDBTaskFailedError) as caught:
        await client.wait_for_result(TASK, timeout=1, poll=0.01)
    assert (caught.value.task_id, caught.value.task_status) == (TASK, "FAILED")
    assert "Table 'x' missing" in str(caught.value)


async def test_wait_for_result_expired_result_is_not_found(client, respx_mock):
    respx_mock.get(f"{BASE}/task/{TASK}/result").mock(
        return_value=httpx.Response(404, json={"code": 404, "message": "results have expired"})
    )
    respx_mock.get(f"{BASE}/task/{TASK}").mock(
        return_value=httpx.Response(200, json={"id": TASK, "status": "COMPLETED"})
    )
    with pytest.raises(NotFoundError) as caught:
        await client.wait_for_result(TASK, timeout=1, poll=0.01)
    assert "results have expired" in str(caught.value) and "store_results" in str(caught.value)


async def test_wait_for_task_polls_until_terminal(client, respx_mock):
    route = respx_mock.get(f"{BASE}/task/{TASK}").mock(
        side_effect=[
            httpx.Response(200, json={"id": TASK, "status": "QUEUED"}),
            httpx.Response(200, json={"id": TASK, "status": "RUNNING"}),
            httpx.Response(200, json={"id": TASK, "status": "CANCELLED"}),
        ]
    )
    task = await client.wait_for_task(TASK, timeout=5, poll=0.01)
    assert task.status == "CANCELLED" and task.is_terminal
    assert route.call_count == 3
    with pytest.raises(BadInputError):
        await client.wait_for_task(TASK, timeout=0)
