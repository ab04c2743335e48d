"""Contract tests against TileDB's official spec (``../shared/reference/tiledb/openapi-v1.yaml``).

1. The checker itself catches violations (so a green run means something).
2. Every client method's requests conform to the spec, and the client reads spec-valid answers
   (including floats for counts, omitted lists, nulls, 202/204/404).
3. A scenario against the lab covers every operation and status the lab answers, all conforming.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from prefect_soar.clients.tiledb import TileDBClient
from prefect_soar.errors import AuthenticationError, BadRequestError, NotFoundError
from prefect_soar.models.tiledb import SQLParameters
from prefect_soar.simulators.tiledb import LAB_CREDENTIALS

from .conftest import FAST
from .openapi_contract import ContractTransport, Spec

BASE = "http://tiledb.contract/v1"
TASK = "5c5d8f2e-3b7a-4a55-9d0e-8b1f2a6c7d90"
FULL_TASK = {
    "id": TASK, "name": "subarray-multiplier", "username": "demo", "namespace": "organization1",
    "description": "demo task", "status": "COMPLETED", "status_message": None,
    "start_time": "2019-08-24T14:15:22Z", "finish_time": None, "memory": 1073741824, "cpu": 4000, "cost": 0.12,
    "egress_cost": 0.0, "access_cost": 0.0, "type": "SQL", "query_type": "READ",
    "sql_query": "select 1", "sql_init_commands": [], "sql_parameters": [1, "a", None], "result_format": "json",
    "duration": 7000000000.0, "logs": "", "cloud_provider": "AWS", "cloud_region": "us-east-1",
    "activity": [{"event_at": "2019-08-24T14:15:23Z", "action": "query_read", "username": "demo", "bytes_sent": 1024,
                  "bytes_received": 0, "array_task_id": TASK, "id": "00000000-0000-0000-0000-000000000000"}],
    "array_metadata": {"name": "events", "namespace": "organization1", "file_type": "notebook", "type": "sparse",
                       "size": None, "description": None, "tags": []},
}


def key_request(method: str, url: str, **kwargs) -> httpx.Request:
    headers = {"X-TILEDB-REST-API-KEY": "k", **kwargs.pop("headers", {})}
    return httpx.Request(method, url, headers=headers, **kwargs)


# -- 1. the checker catches what it should ------------------------------------------------------


def test_checker_accepts_a_conforming_request_and_the_references_examples(spec: Spec):
    good = key_request("GET", f"{BASE}/tasks", params=[("exclude_type", "UDF,SQL"), ("file_type", "a"),
                                                        ("file_type", "b"), ("start", "1"), ("page", "1")])
    assert spec.check_request(good) == []
    assert spec.validate(FULL_TASK, spec.definition("ArrayTask")) == []
    listing = {"array_tasks": [{"id": TASK, "status": "COMPLETED", "type": "SQL"}],
               "pagination_metadata": {"page": 1, "per_page": 10, "total_pages": 14.0, "total_items": 138}}
    assert spec.validate(listing, spec.definition("ArrayTaskData")) == []
    body = {"name": "q1", "query": "select 1 as x", "result_format": "json", "store_results": True}
    assert spec.check_request(key_request("POST", f"{BASE}/sql/organization1", json=body)) == []


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (key_request("GET", f"{BASE}/tasks", params=[("exclude_type", "UDF"), ("exclude_type", "SQL")]),
         "collectionFormat csv"),
        (key_request("GET", f"{BASE}/tasks", params={"start": "abc"}), "not an integer"),
        (key_request("GET", f"{BASE}/tasks", params={"end": "-1"}), "negative for uint64"),
        (key_request("GET", f"{BASE}/tasks", params={"limit": "5"}), "not declared"),
        (key_request("GET", f"{BASE}/tasks", params=[("status", "FAILED"), ("status", "RUNNING")]), "2 times"),
        (httpx.Request("GET", f"{BASE}/tasks"), "neither X-TILEDB-REST-API-KEY nor Basic"),
        (key_request("POST", f"{BASE}/sql/ns", json={"query": "select 1", "result_format": "parquet"}),
         "'parquet' is not one of"),
        (key_request("POST", f"{BASE}/sql/ns", json={"query": 1}), "is not of type 'string'"),
        (key_request("POST", f"{BASE}/sql/ns", content=b"{}", headers={"Content-Type": "text/plain"}), "Content-Type"),
        (key_request("GET", f"{BASE}/v1/tasks"), "no such path"),
        (key_request("DELETE", f"{BASE}/task/x"), "method not in the spec"),
        (key_request("GET", f"{BASE}/task/x", content=b"{}"), "declares none"),
    ],
)
def test_checker_flags_bad_requests(spec: Spec, request_, expected):
    problems = spec.check_request(request_)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    ("method", "path", "response", "expected"),
    [
        ("GET", "/tasks", httpx.Response(200, json={"pagination_metadata": {"page": "1"}}), "is not of type 'number'"),
        ("GET", "/tasks", httpx.Response(200, json={"array_tasks": None}), "is not of type 'array'"),
        ("GET", "/task/x", httpx.Response(200, json={"status": "BOGUS"}), "'BOGUS' is not one of"),
        ("GET", "/task/x", httpx.Response(200, json={"start_time": "yesterday"}), "'yesterday' is not valid"),
        ("GET", "/task/x", httpx.Response(200, json={"memory": -1}), "is not a 'uint64'"),
        ("GET", "/task/x", httpx.Response(200, json={"sql_init_commands": None}), "None is not of type 'array'"),
        ("GET", "/task/x", httpx.Response(200, text="[]", headers={"Content-Type": "text/plain"}), "produced type"),
        ("GET", "/task/x/result", httpx.Response(202, content=b"late"), "body sent where the spec declares none"),
        ("POST", "/sql/ns", httpx.Response(200, json=[{"x": 1}]), "X-TILEDB-CLOUD-TASK-ID"),
        ("POST", "/sql/ns", httpx.Response(200, json={"x": 1}, headers={"X-TILEDB-CLOUD-TASK-ID": "t"}),
         "is not of type 'array'"),
        ("GET", "/task/x", httpx.Response(401, json={"code": "401"}), "is not of type 'integer'"),
    ],
)
def test_checker_flags_bad_responses(spec: Spec, method, path, response, expected):
    problems = spec.check_response(method, path, response)
    assert any(expected in p for p in problems), problems


# -- 2. the client against spec-valid answers -------------------------------------------------


def spec_answers(request: httpx.Request) -> httpx.Response:
    """Answers that validate against the spec, covering its edge cases."""
    path = request.url.path.removeprefix("/v1")
    if path.startswith("/sql/"):
        body = json.loads(request.content)
        headers = {"X-TILEDB-CLOUD-TASK-ID": TASK}
        if body["query"].lower().startswith("create"):
            return httpx.Response(204, headers=headers)
        return httpx.Response(200, json=[{"x": 1}], headers=headers)
    if path == "/tasks":
        page = int(request.url.params.get("page", "1"))
        meta = {"page": float(page), "per_page": 2.0, "total_pages": 2.0, "total_items": 3.0}
        tasks = [FULL_TASK, {**FULL_TASK, "id": "t-2"}] if page == 1 else [{"id": "t-3", "status": "FAILED"}]
        return httpx.Response(200, json={"array_tasks": tasks, "pagination_metadata": meta})
    if path == f"/task/{TASK}/result":
        return httpx.Response(200, json="string")
    if path == "/task/running/result":
        return httpx.Response(202)
    if path.endswith("/result"):
        return httpx.Response(404, json={"code": 404, "message": "results were not saved", "request_id": "r"})
    if path == f"/task/{TASK}":
        return httpx.Response(200, json=FULL_TASK)
    return httpx.Response(404, json={"code": 404, "message": "not found", "request_id": "r"})


async def test_every_client_method_conforms_to_the_spec(spec: Spec):
    contract = ContractTransport(spec, httpx.MockTransport(spec_answers))
    async with TileDBClient(BASE, api_key="contract-key", retry=FAST, transport=contract) as client:
        sql = SQLParameters(name="q", query="select ? as x", output_uri="s3://b/a", store_results=True,
                            dont_download_results=False, resource_class="standard", result_format="json",
                            init_commands=["SET a=1"], parameters=[1], task_graph_uuid="g", client_node_uuid="n")
        rows = await client.run_sql("organization1", sql, accept_encoding="deflate")
        assert rows.rows == [{"x": 1}] and rows.task_id == TASK
        assert (await client.run_sql("organization1", "create table t (a int)")).status_code == 204
        task = await client.task_id_get(TASK)
        assert task.id == TASK and task.activity[0].action == "query_read"
        assert (await client.task_id_result_get(TASK, accept_encoding="gzip")).value == "string"
        assert (await client.task_id_result_get("running")).status == "running"
        assert (await client.task_id_result_get("gone")).status == "missing"
        page = await client.tasks_get(
            namespace="organization1", created_by="demo", array="tiledb://organization1/events",
            start=datetime(2024, 1, 1, tzinfo=UTC), end=1735689600, page=1, per_page=2, type="SQL",
            exclude_type=["UDF", "QUERY"], file_type=["notebook", "ml_model"], exclude_file_type=["file"],
            status="FAILED", search="ioc", orderby="start_time",
        )
        assert page.pagination_metadata is not None and page.pagination_metadata.total_pages == 2
        assert [t.id async for t in client.iter_tasks(per_page=2)] == [TASK, "t-2", "t-3"]
        assert (await client.wait_for_result(TASK, timeout=1, poll=0.01)).ready
        assert (await client.wait_for_task(TASK, timeout=1, poll=0.01)).succeeded
        with pytest.raises(NotFoundError):
            await client.wait_for_result("gone", timeout=1, poll=0.01)
        await client.check_connection()
    assert contract.problems == []
    assert {(m, t) for m, t, _ in contract.covered()} == {
        ("POST", "/sql/{namespace}"), ("GET", "/task/{id}"), ("GET", "/task/{id}/result"), ("GET", "/tasks"),
    }


async def test_basic_auth_requests_conform_too(spec: Spec):
    contract = ContractTransport(spec, httpx.MockTransport(spec_answers))
    async with TileDBClient(BASE, username="demo", password="demo-password", transport=contract) as client:
        await client.task_id_get(TASK)
    assert contract.problems == [] and len(contract.exchanges) == 1


# -- 3. the lab: every operation and status it answers ----------------------------------------


async def test_lab_answers_conform_for_every_operation_and_status(spec: Spec, tiledb_lab, backend):
    contract = ContractTransport(spec, httpx.AsyncHTTPTransport())
    url = f"{tiledb_lab.base_url}/v1"
    async with TileDBClient(url, api_key=LAB_CREDENTIALS["api_key"], retry=FAST, transport=contract) as client:
        ok = await client.run_sql("soc-lab", SQLParameters(query="select * from iocs", store_results=True))
        await client.run_sql("soc-lab", "DROP TABLE nothing")
        with pytest.raises(BadRequestError):
            await client.run_sql("soc-lab", "select * from missing_table")
        with pytest.raises(AuthenticationError):
            await client.run_sql("not-mine", "select 1")
        assert ok.task_id is not None
        await client.task_id_get(ok.task_id)
        with pytest.raises(NotFoundError):
            await client.task_id_get("unknown")
        await client.task_id_result_get(ok.task_id)
        running = next(r for r in backend.tasks.values() if r.complete_at is None and r.store_results)
        await client.task_id_result_get(running.id)
        await client.task_id_result_get("unknown")
        async for _ in client.iter_tasks(start=0, per_page=9, exclude_type=["UDF"], file_type=None):
            pass
        await client.tasks_get(page=50)
    async with TileDBClient(url, api_key="wrong", retry=FAST, transport=contract) as wrong:
        with pytest.raises(AuthenticationError):
            await wrong.tasks_get()
    async with httpx.AsyncClient(base_url=url, transport=contract, headers={"X-TILEDB-REST-API-KEY": "x"}) as raw:
        await raw.get("/tasks", params={"orderby": "sideways"})
    assert contract.problems == []
    assert contract.covered() >= {
        ("POST", "/sql/{namespace}", 200), ("POST", "/sql/{namespace}", 204), ("POST", "/sql/{namespace}", 400),
        ("POST", "/sql/{namespace}", 403), ("GET", "/task/{id}", 200), ("GET", "/task/{id}", 404),
        ("GET", "/task/{id}/result", 200), ("GET", "/task/{id}/result", 202), ("GET", "/task/{id}/result", 404),
        ("GET", "/tasks", 200), ("GET", "/tasks", 401),
    }
