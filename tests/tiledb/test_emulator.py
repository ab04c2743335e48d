"""The TileDB lab over loopback HTTP: auth, SQL task lifecycle, stored results, every listing filter.

Every response is also checked against TileDB's official spec (when ``../shared`` is present).
"""

from __future__ import annotations

import asyncio
import base64
import math
import time
import uuid

import httpx
import pytest

from prefect_soar.simulators._lab import FaultConfig
from prefect_soar.simulators.tiledb import LAB_CREDENTIALS
from prefect_soar.simulators.tiledb_sql import UNINTERPRETED_ROWS

from .openapi_contract import optional_spec

KEY = {"X-TILEDB-REST-API-KEY": LAB_CREDENTIALS["api_key"]}
TASK_HEADER = "X-TILEDB-CLOUD-TASK-ID"
SECURITY_EVENTS_QUERY = "SELECT event_id, severity FROM security_events WHERE severity = 'critical' LIMIT 3"


class Checked:
    """An httpx client to the lab whose every response is checked against the spec."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=10)
        self.spec = optional_spec()
        self.problems: list[str] = []

    async def call(self, method: str, path: str, **kwargs) -> httpx.Response:
        response = await self.http.request(method, path, **kwargs)
        if self.spec is not None:
            self.problems += self.spec.check_response(method, self.spec.api_path(response.request.url), response)
        return response


@pytest.fixture
async def lab(tiledb_lab):
    checked = Checked(f"{tiledb_lab.base_url}/v1")
    yield checked
    await checked.http.aclose()
    assert checked.problems == [], "lab responses must validate against the official spec"


def ids(response: httpx.Response) -> list[str]:
    return [t["id"] for t in response.json().get("array_tasks", [])]


async def list_all(lab: Checked, **params) -> list[dict]:
    response = await lab.call("GET", "/tasks", params={"per_page": 100, **params}, headers=KEY)
    assert response.status_code == 200
    return response.json().get("array_tasks", [])


# -- auth ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/tasks"), ("GET", "/task/x"), ("GET", "/task/x/result"), ("POST", "/sql/soc-lab")],
)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-TILEDB-REST-API-KEY": "wrong-key"},
        {"Authorization": "Basic " + base64.b64encode(b"lab-analyst:wrong").decode()},
        {"Authorization": "Basic !!not-base64"},
    ],
)
async def test_every_route_needs_credentials(lab, method, path, headers):
    response = await lab.call(method, path, headers=headers, json={"query": "select 1"})
    assert response.status_code == 401
    body = response.json()
    assert (body["code"], body["message"]) == (401, "Unauthorized")
    uuid.UUID(body["request_id"])


async def test_basic_auth_is_accepted(lab):
    basic = base64.b64encode(f"{LAB_CREDENTIALS['username']}:{LAB_CREDENTIALS['password']}".encode()).decode()
    response = await lab.call("GET", "/tasks", headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 200


# -- SQL ---------------------------------------------------------------------------------------


async def test_sql_is_synchronous_and_the_task_is_running_meanwhile(lab, backend):
    backend.settings.completion_delay_seconds = 0.6
    body = {"name": "hunt", "query": SECURITY_EVENTS_QUERY, "result_format": "json", "store_results": True}
    started = time.monotonic()
    post = asyncio.create_task(lab.call("POST", "/sql/soc-lab", json=body, headers=KEY))
    await asyncio.sleep(0.2)
    running = await list_all(lab, status="RUNNING", type="SQL")
    assert [t["name"] for t in running] == ["hunt"]
    task_id = running[0]["id"]
    pending = await lab.call("GET", f"/task/{task_id}/result", headers=KEY)
    assert (pending.status_code, pending.content) == (202, b"")
    task = (await lab.call("GET", f"/task/{task_id}", headers=KEY)).json()
    assert task["status"] == "RUNNING" and task["finish_time"] is None

    answer = await post
    assert time.monotonic() - started >= 0.55
    assert answer.status_code == 200 and answer.headers[TASK_HEADER] == task_id
    rows = answer.json()
    assert len(rows) == 3 and all(r["severity"] == "critical" for r in rows)
    assert list(rows[0]) == ["event_id", "severity"]

    done = (await lab.call("GET", f"/task/{task_id}", headers=KEY)).json()
    assert done["status"] == "COMPLETED" and done["finish_time"] is not None
    assert done["sql_query"] == SECURITY_EVENTS_QUERY and done["username"] == LAB_CREDENTIALS["username"]
    assert done["namespace"] == "soc-lab" and done["result_format"] == "json" and done["duration"] >= 0.5e9
    stored = await lab.call("GET", f"/task/{task_id}/result", headers=KEY)
    assert stored.status_code == 200 and stored.headers["content-type"] == "application/json"
    assert stored.json() == rows


async def test_sql_without_rows_answers_204_with_the_task_id(lab):
    answer = await lab.call("POST", "/sql/soc-lab", json={"query": "CREATE TABLE t (a INT)"}, headers=KEY)
    assert answer.status_code == 204 and answer.content == b""
    task = (await lab.call("GET", f"/task/{answer.headers[TASK_HEADER]}", headers=KEY)).json()
    assert task["status"] == "COMPLETED"


async def test_dont_download_results_stores_but_does_not_send(lab):
    body = {"query": "select 1 as x", "store_results": True, "dont_download_results": True}
    answer = await lab.call("POST", "/sql/soc-lab", json=body, headers=KEY)
    assert answer.status_code == 204
    stored = await lab.call("GET", f"/task/{answer.headers[TASK_HEADER]}/result", headers=KEY)
    assert stored.json() == [{"x": 1}]


async def test_parameters_bind_and_json_is_the_default_format(lab):
    body = {
        "query": "SELECT hostname FROM hosts WHERE criticality = ? ORDER BY hostname DESC", "parameters": ["critical"]
    }
    answer = await lab.call("POST", "/sql/threat-intel", json=body, headers=KEY)
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == [{"hostname": "srv-dc-01"}, {"hostname": "srv-db-01"}]
    mine = await lab.call("POST", "/sql/lab-analyst", json={"query": "select 'a' as s, 2.5 as f"}, headers=KEY)
    assert mine.json() == [{"s": "a", "f": 2.5}]


async def test_unknown_statements_get_the_documented_fixed_rows(lab):
    answer = await lab.call("POST", "/sql/soc-lab", json={"query": "SHOW PROCESSLIST"}, headers=KEY)
    assert answer.json() == UNINTERPRETED_ROWS


async def test_failing_query_marks_the_task_failed(lab):
    answer = await lab.call("POST", "/sql/soc-lab", json={"query": "SELECT * FROM edr_alerts", "store_results": True},
                            headers=KEY)
    assert answer.status_code == 400
    task_id = answer.headers[TASK_HEADER]
    assert answer.json()["message"] == "Error running sql: Table 'soc-lab.edr_alerts' doesn't exist"
    task = (await lab.call("GET", f"/task/{task_id}", headers=KEY)).json()
    assert task["status"] == "FAILED" and task["status_message"] == "Table 'soc-lab.edr_alerts' doesn't exist"
    result = await lab.call("GET", f"/task/{task_id}/result", headers=KEY)
    assert result.status_code == 404 and "FAILED" in result.json()["message"]

    boom = await lab.call("POST", "/sql/soc-lab", json={"query": "select raise_error('custom failure')"}, headers=KEY)
    assert boom.status_code == 400 and "custom failure" in boom.json()["message"]


@pytest.mark.parametrize(
    ("namespace", "body", "status", "message"),
    [
        ("soc-lab", {"name": "no query"}, 400, "query is required"),
        ("soc-lab", {"query": "select 1", "result_format": "parquet"}, 400, "is not a ResultFormat"),
        ("soc-lab", {"query": "select 1", "result_format": "arrow"}, 400, "not served by the lab"),
        ("soc-lab", {"query": "select 1", "result_format": "tiledb_json"}, 400, "not served by the lab"),
        ("soc-lab", {"query": "select 1", "store_results": "yes"}, 400, "wrong type"),
        ("soc-lab", ["select 1"], 400, "JSON object"),
        ("someone-else", {"query": "select 1"}, 403, "not a member"),
    ],
)
async def test_sql_rejects_bad_requests_with_the_error_envelope(lab, backend, namespace, body, status, message):
    before = len(backend.tasks)
    answer = await lab.call("POST", f"/sql/{namespace}", json=body, headers=KEY)
    assert answer.status_code == status
    assert answer.json()["code"] == status and message in answer.json()["message"]
    assert TASK_HEADER not in answer.headers
    assert len(backend.tasks) == before


async def test_non_json_body_is_rejected(lab):
    answer = await lab.call("POST", "/sql/soc-lab", content=b"select 1", headers=KEY)
    assert answer.status_code == 400


# -- stored results ---------------------------------------------------------------------------


async def test_results_expire_after_the_ttl(lab, backend):
    answer = await lab.call("POST", "/sql/soc-lab", json={"query": "select 1 as x", "store_results": True},
                            headers=KEY)
    task_id = answer.headers[TASK_HEADER]
    assert (await lab.call("GET", f"/task/{task_id}/result", headers=KEY)).status_code == 200
    backend.advance(backend.settings.result_ttl_seconds + 1)
    expired = await lab.call("GET", f"/task/{task_id}/result", headers=KEY)
    assert expired.status_code == 404 and "expired" in expired.json()["message"]


async def test_seeded_results_ready_expired_running_and_not_stored(lab, backend):
    records = sorted(backend.tasks.values(), key=lambda r: r.start, reverse=True)
    named = {}
    for record in records:
        named.setdefault(record.name, record)
    fresh = named["daily-critical-events"]
    stale = [r for r in records if r.name == "daily-critical-events"][1]
    running = named["nightly-ioc-sweep"]
    unstored = named["ioc-confidence-report"]
    assert (await lab.call("GET", f"/task/{fresh.id}/result", headers=KEY)).status_code == 200
    assert (await lab.call("GET", f"/task/{stale.id}/result", headers=KEY)).json()["message"].endswith("expired")
    assert (await lab.call("GET", f"/task/{running.id}/result", headers=KEY)).status_code == 202
    not_saved = await lab.call("GET", f"/task/{unstored.id}/result", headers=KEY)
    assert not_saved.status_code == 404 and "store_results" in not_saved.json()["message"]
    unknown = await lab.call("GET", "/task/00000000-0000-0000-0000-000000000000/result", headers=KEY)
    assert unknown.status_code == 404
    assert (await lab.call("GET", "/task/nope", headers=KEY)).status_code == 404


# -- listing ----------------------------------------------------------------------------------


async def test_default_window_is_seven_days_newest_first(lab, backend):
    now = time.time()
    tasks = await list_all(lab)
    expected = [r for r in backend.tasks.values() if now - 7 * 86400 - 5 <= r.start <= now]
    assert len(tasks) == len(expected) and len(tasks) > 30
    starts = [t["start_time"] for t in tasks if t["start_time"]]
    assert starts == sorted(starts, reverse=True)
    older = await list_all(lab, start=int(now - 14 * 86400))
    assert len(older) == len(backend.tasks) > len(tasks)


async def test_pages_have_metadata_and_an_empty_page_omits_the_list(lab):
    total = len(await list_all(lab))
    first = await lab.call("GET", "/tasks", params={"page": 1, "per_page": 7}, headers=KEY)
    assert first.json()["pagination_metadata"] == {
        "page": 1, "per_page": 7, "total_pages": math.ceil(total / 7), "total_items": total,
    }
    pages = [ids(first)]
    for number in range(2, math.ceil(total / 7) + 1):
        pages.append(ids(await lab.call("GET", "/tasks", params={"page": number, "per_page": 7}, headers=KEY)))
    flat = [i for p in pages for i in p]
    assert len(flat) == total == len(set(flat))
    beyond = await lab.call("GET", "/tasks", params={"page": 99, "per_page": 7}, headers=KEY)
    assert "array_tasks" not in beyond.json() and beyond.json()["pagination_metadata"]["page"] == 99
    clamped = await lab.call("GET", "/tasks", params={"per_page": 5000}, headers=KEY)
    assert clamped.json()["pagination_metadata"]["per_page"] == 100


async def test_every_filter(lab, backend):
    everything = await list_all(lab, start=0)
    assert {t["type"] for t in everything} >= {"SQL", "UDF", "QUERY", "GENERIC_UDF", "BATCH_UDF"}
    by_ns = await list_all(lab, start=0, namespace="threat-intel")
    assert by_ns and all(t["namespace"] == "threat-intel" for t in by_ns)
    by_user = await list_all(lab, start=0, created_by="jdoe")
    assert by_user and all(t["username"] == "jdoe" for t in by_user)
    by_array = await list_all(lab, start=0, array="netflow_2025")
    assert len(by_array) == 3 and all(t["array_metadata"]["name"] == "netflow_2025" for t in by_array)
    assert len(await list_all(lab, start=0, array="tiledb://soc-lab/netflow_2025")) == 3
    sql = await list_all(lab, start=0, type="SQL")
    assert sql and all(t["type"] == "SQL" for t in sql)
    no_sql_udf = await list_all(lab, start=0, exclude_type="SQL,UDF")
    assert no_sql_udf and all(t["type"] not in ("SQL", "UDF") for t in no_sql_udf)
    assert len(no_sql_udf) == len(everything) - len(sql) - len(await list_all(lab, start=0, type="UDF"))
    files = await list_all(lab, start=0, file_type=["notebook", "ml_model"])
    assert sorted(t["array_metadata"]["file_type"] for t in files) == ["ml_model", "notebook"]
    not_files = await list_all(lab, start=0, exclude_file_type=["user_defined_function", "file"])
    assert len(not_files) == len(everything) - 3
    failed = await list_all(lab, start=0, status="FAILED")
    assert len(failed) == 5 and all(t["status"] == "FAILED" and t["status_message"] for t in failed)
    assert {t["status"] for t in everything} >= {
        "COMPLETED", "FAILED", "RUNNING", "QUEUED", "CANCELLED", "RESOURCES_UNAVAILABLE", "DENIED",
    }
    found = await list_all(lab, start=0, search="IOC")
    assert found and all("ioc" in (t["name"] + t["namespace"] + t["description"]).lower() for t in found)
    by_name = await list_all(lab, start=0, orderby="name")
    assert [t["name"] for t in by_name] == sorted((t["name"] for t in by_name), key=str.lower)
    oldest_first = await list_all(lab, start=0, end=int(time.time()), orderby="start_time asc")
    starts = [t["start_time"] for t in oldest_first if t["start_time"]]
    assert starts == sorted(starts)
    window = await list_all(lab, start=int(time.time() - 86400), end=int(time.time() - 3 * 3600))
    assert window and all(t["start_time"] for t in window)


async def test_csv_and_multi_parameters_bind_like_the_real_server(lab):
    # exclude_type is csv: repeated keys are not a list, the last one wins (go-swagger's binding)
    repeated = await list_all(lab, start=0, exclude_type=["SQL", "UDF"])
    assert any(t["type"] == "SQL" for t in repeated) and not any(t["type"] == "UDF" for t in repeated)
    # file_type is multi: a comma-separated value is one (unknown) file type
    assert await list_all(lab, start=0, file_type="notebook,ml_model") == []


@pytest.mark.parametrize(
    "params", [{"start": "abc"}, {"end": "-5"}, {"page": "0"}, {"per_page": "x"}, {"orderby": "cost"}]
)
async def test_bad_filters_are_400_with_the_envelope(lab, params):
    answer = await lab.call("GET", "/tasks", params=params, headers=KEY)
    assert answer.status_code == 400 and answer.json()["code"] == 400


# -- lab plumbing ---------------------------------------------------------------------------


async def test_served_at_the_root_too_like_prism(tiledb_lab):
    async with httpx.AsyncClient(base_url=tiledb_lab.base_url) as http:
        assert (await http.get("/tasks", headers=KEY)).status_code == 200
        missing = await http.get("/v2/nothing", headers=KEY)
        assert missing.status_code == 404 and missing.json()["code"] == 404


async def test_reset_restores_the_seed_and_faults_use_the_envelope(lab, tiledb_lab, backend):
    seeded = set(backend.tasks)
    await lab.call("POST", "/sql/soc-lab", json={"query": "select 1"}, headers=KEY)
    assert len(backend.tasks) == len(seeded) + 1
    tiledb_lab.control.reset()
    assert set(backend.tasks) == seeded
    tiledb_lab.control.set_faults(FaultConfig(errors={503: 1.0}))
    faulted = await lab.call("GET", "/tasks", headers=KEY)
    assert faulted.status_code == 503 and faulted.json()["message"] == "lab fault: injected HTTP 503"
    assert faulted.json()["code"] == 503 and faulted.headers["retry-after"] == "1"


async def test_large_answers_are_gzipped_on_request(lab):
    answer = await lab.call("GET", "/tasks", params={"start": 0}, headers={**KEY, "Accept-Encoding": "gzip"})
    assert answer.headers["content-encoding"] == "gzip" and answer.json()["array_tasks"]
