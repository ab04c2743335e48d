"""Bad input catalogue: every kind of bad input or hostile answer, on all four services.

Each case asserts a typed error from :mod:`prefect_soar.errors` (or a documented subclass), a
message that says what failed and how to fix it, and that nothing was written or half-written:
no file or temporary file left, no ThreatConnect or TileDB task created, no request sent when
the client can tell the input is wrong. Crafted bodies come from respx; what the emulators
produce themselves (query-language errors, rejected credentials, expired tokens, dropped
connections, scans and queries that never finish, real encrypted archives) comes from the lab.
Unknown enum values are the exception: they are accepted and kept.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from prefect_soar._http import MAX_BODY_BYTES, RetryPolicy, ServiceClient
from prefect_soar.clients.acronis import AcronisClient, TimeFilter
from prefect_soar.clients.ptsandbox import PTSandboxClient
from prefect_soar.clients.threatconnect import ThreatConnectClient
from prefect_soar.clients.tiledb import TileDBClient
from prefect_soar.errors import (
    AuthenticationError,
    BadInputError,
    BadRequestError,
    InvalidResponseError,
    NotFoundError,
    ServerError,
    SoarError,
    TransportError,
    WaitTimeoutError,
)
from prefect_soar.safe_archive import ArchiveLimitError, ArchivePasswordError, UnsafeMemberError, extract
from prefect_soar.simulators._lab import FaultConfig
from prefect_soar.simulators.lab import Lab
from prefect_soar.simulators.ptsandbox import PTSandboxLabSettings

from .hostile_bodies import (
    MIB,
    EndlessJSON,
    UntouchedBody,
    gzip_bomb_json,
    symlink_zip,
    traversal_zip,
    zip_bomb,
)

FAST = RetryPolicy(max_attempts=3, backoff_base=0.001, backoff_max=0.002)
SCAN_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
TILEDB_TASK = "5c5d8f2e-3b7a-4a55-9d0e-8b1f2a6c7d90"
HTML_LOGIN = "<!DOCTYPE html><html><head><title>Sign in - Corporate proxy</title></head><body>...</body></html>"
HTML_502 = "<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>"


# -- the lab ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    """All four emulators; PT Sandbox scans never finish within a test (the wait-timeout cases)."""
    settings = {"ptsandbox": PTSandboxLabSettings(task_count=20, scan_seconds=3600)}
    with Lab(settings=settings) as running:
        yield running


@pytest.fixture(autouse=True)
def no_faults_left(lab: Lab) -> Iterator[None]:
    yield
    for service in lab.running.values():
        service.server.control.set_faults(FaultConfig())


def requests_seen(lab: Lab) -> int:
    """Requests that reached any emulator (control endpoints excluded)."""
    return sum(service.server.control.stats["requests"] for service in lab.running.values())


def lab_client(lab: Lab, name: str, **overrides: Any) -> ServiceClient:
    """A real client of one emulator, with the lab's credentials unless overridden."""
    service = lab[name]
    creds = service.credentials
    if name == "ptsandbox":
        kwargs = {"api_key": creds["api_key"], "login": creds["login"], "password": creds["password"], **overrides}
        return PTSandboxClient(service.base_url, retry=FAST, **kwargs)
    if name == "threatconnect":
        kwargs = {"access_id": creds["access_id"], "secret_key": creds["secret_key"],
                  "default_owner": creds["default_owner"], **overrides}
        return ThreatConnectClient(base_url=f"{service.base_url}/api", retry=FAST, **kwargs)
    if name == "acronis":
        kwargs = {"client_id": creds["client_id"], "client_secret": creds["client_secret"], **overrides}
        return AcronisClient(service.base_url, retry=FAST, **kwargs)
    kwargs = {"api_key": creds["api_key"], **overrides}
    return TileDBClient(f"{service.base_url}/v1", retry=FAST, **kwargs)


def created_records(lab: Lab) -> tuple[int, int]:
    """(ThreatConnect tasks, TileDB tasks) held by the emulators."""
    return len(lab["threatconnect"].backend.tasks), len(lab["tiledb"].backend.tasks)


class Tap(httpx.AsyncBaseTransport):
    """A real transport to the lab that counts requests by path and can answer chosen paths itself.

    Args:
        crafted: Path regex -> the response to give instead of asking the lab.
    """

    def __init__(self, crafted: dict[str, Callable[[], httpx.Response]] | None = None) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.crafted = {re.compile(pattern): answer for pattern, answer in (crafted or {}).items()}
        self.paths: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths[request.url.path] += 1
        for pattern, answer in self.crafted.items():
            if pattern.fullmatch(request.url.path):
                return answer()
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# -- 1. client-side validation: typed error, nothing sent --------------------------------------------

Call = Callable[[Any], Awaitable[Any]]

VALIDATION_CASES = [
    pytest.param("ptsandbox", lambda c: c.get_task_summary("not-a-uuid"), "scan_id must be a task UUID",
                 id="ptsandbox-invalid-scan-uuid"),
    pytest.param("ptsandbox", lambda c: c.scan_url("javascript:alert(1)"), "url must be an absolute http(s) or ftp URL",
                 id="ptsandbox-scan-url-not-a-url"),
    pytest.param("ptsandbox", lambda c: c.download_task_artifacts(SCAN_ID, "/tmp", file_name="../../etc/cron.d/x"),
                 "file_name must be a plain file name", id="ptsandbox-download-file-name-traversal"),
    pytest.param("ptsandbox", lambda c: c.get_tasks(limit=5000), "limit must be an integer from 0 to 200",
                 id="ptsandbox-page-size-out-of-range"),
    pytest.param("threatconnect", lambda c: c.get_task(0), "task_id must be a positive integer",
                 id="threatconnect-invalid-task-id"),
    pytest.param("threatconnect", lambda c: c.create_task("Investigate 4f1c", due_date="next tuesday"),
                 "due_date 'next tuesday' is not an ISO-8601 date", id="threatconnect-bad-due-date"),
    pytest.param("threatconnect", lambda c: c.create_task("Investigate 4f1c", status="Done"),
                 "unknown task status 'Done'; use one of Not Started", id="threatconnect-unknown-status-sent"),
    pytest.param("threatconnect", lambda c: c.find_or_create_task("ptsandbox:[4f1c]", "Investigate"),
                 "marker must not contain commas or square brackets", id="threatconnect-marker-with-brackets"),
    pytest.param("threatconnect", lambda c: c.create_task("Investigate", attributes=[("Description", "")]),
                 "needs a type and a value", id="threatconnect-attribute-without-value"),
    pytest.param("acronis", lambda c: c.list_tasks(completed_at="gt(yesterday)"),
                 "date value 'yesterday' is not in a supported format: use a timezone-aware datetime, or RFC3339",
                 id="acronis-bad-date-text"),
    pytest.param("acronis", lambda c: c.list_tasks(completed_at="ge(2024-02-30T00:00:00Z)"),
                 "is not a real date and time", id="acronis-impossible-date"),
    pytest.param("acronis", lambda c: c.list_tasks(completed_at=TimeFilter.after(datetime(2024, 5, 1))),
                 "has no timezone; pass an aware value", id="acronis-naive-datetime"),
    pytest.param("acronis", lambda c: c.list_tasks(uuid="38045860-8901-426e-b51f"), "is not a UUID",
                 id="acronis-invalid-uuid"),
    pytest.param("acronis", lambda c: c.get_task("abc"), "task_id must be a positive 64-bit integer id",
                 id="acronis-invalid-task-id"),
    pytest.param("tiledb", lambda c: c.tasks_get(start=datetime(2024, 5, 1)), "start is a naive datetime",
                 id="tiledb-naive-datetime"),
    pytest.param("tiledb", lambda c: c.run_sql("soc-lab", {"query": "SELECT 1", "result_format": "xml"}),
                 "unknown result_format 'xml'", id="tiledb-unknown-result-format"),
    pytest.param("tiledb", lambda c: c.run_sql("soc-lab", "   "), "the SQL query is empty", id="tiledb-empty-query"),
]


@pytest.mark.parametrize(("service", "call", "message"), VALIDATION_CASES)
async def test_invalid_input_is_refused_before_anything_is_sent(lab: Lab, service: str, call: Call, message: str):
    before, records = requests_seen(lab), created_records(lab)
    async with lab_client(lab, service) as client:
        with pytest.raises(BadInputError) as caught:
            await call(client)
    assert message in str(caught.value)
    assert "Fix the argument and call again" in str(caught.value)
    assert caught.value.service == service
    assert requests_seen(lab) == before, "a request was sent for input the client could reject"
    assert created_records(lab) == records


# -- 2. crafted answers: malformed, truncated, HTML, wrong types, missing fields, oversized, enums ---


@dataclass(frozen=True)
class Endpoint:
    """One read call of a service's client and the route it uses, for crafted answers."""

    make: Callable[[], ServiceClient]
    method: str
    url: str
    call: Call
    wrap: Callable[[Any], Any]
    token_url: str | None = None


ENDPOINTS = {
    "ptsandbox": Endpoint(
        lambda: PTSandboxClient("https://sandbox.test", api_key="ak-test-key", retry=FAST),
        "POST", "https://sandbox.test/api/v1/analysis/checkTask", lambda c: c.check_task(SCAN_ID),
        lambda data: {"data": data, "errors": []},
    ),
    "threatconnect": Endpoint(
        lambda: ThreatConnectClient(base_url="https://tc.test/api", api_token="tc-test-token", retry=FAST),
        "GET", "https://tc.test/api/v2/tasks/5", lambda c: c.get_task(5),
        lambda data: {"status": "Success", "data": {"task": data}},
    ),
    "acronis": Endpoint(
        lambda: AcronisClient("https://acronis.test", "client-id", "client-secret-value", retry=FAST),
        "GET", "https://acronis.test/api/task_manager/v2/tasks/42", lambda c: c.get_task(42),
        lambda data: data, token_url="https://acronis.test/api/2/idp/token",
    ),
    "tiledb": Endpoint(
        lambda: TileDBClient("https://tiledb.test/v1", api_key="tiledb-test-key", retry=FAST),
        "GET", f"https://tiledb.test/v1/task/{TILEDB_TASK}", lambda c: c.task_id_get(TILEDB_TASK),
        lambda data: data,
    ),
}

GOOD = {
    "ptsandbox": {"scan_id": SCAN_ID, "result": {"scan_state": "FULL", "verdict": "CLEAN"}, "is_preflight": False},
    "threatconnect": {"id": 5, "name": "Investigate 4f1c", "status": "In Progress"},
    "acronis": {"id": 42, "state": "completed", "result": {"code": "ok"}},
    "tiledb": {"id": TILEDB_TASK, "status": "COMPLETED", "name": "hourly-auth-failures"},
}


def mock_endpoint(router: respx.MockRouter, service: str, response: httpx.Response) -> respx.Route:
    endpoint = ENDPOINTS[service]
    if endpoint.token_url:
        router.post(endpoint.token_url).mock(
            return_value=httpx.Response(200, json={"access_token": "at-test", "token_type": "bearer",
                                                   "expires_in": 7200})
        )
    return router.route(method=endpoint.method, url=endpoint.url).mock(return_value=response)


async def call_endpoint(service: str) -> Any:
    endpoint = ENDPOINTS[service]
    async with endpoint.make() as client:
        return await endpoint.call(client)


def body_of(service: str, data: Any) -> bytes:
    return json.dumps(ENDPOINTS[service].wrap(data)).encode()


SERVICES = list(ENDPOINTS)


@pytest.mark.parametrize("service", SERVICES, ids=[f"{s}-truncated-json" for s in SERVICES])
async def test_truncated_json(respx_mock: respx.MockRouter, service: str):
    whole = body_of(service, GOOD[service])
    route = mock_endpoint(respx_mock, service, httpx.Response(
        200, content=whole[: len(whole) // 2], headers={"Content-Type": "application/json"}))
    with pytest.raises(InvalidResponseError) as caught:
        await call_endpoint(service)
    assert f"ends early after {len(whole) // 2} bytes (truncated)" in str(caught.value)
    assert caught.value.status == 200 and route.call_count == 1


@pytest.mark.parametrize("service", SERVICES, ids=[f"{s}-malformed-json" for s in SERVICES])
async def test_malformed_json(respx_mock: respx.MockRouter, service: str):
    broken = body_of(service, GOOD[service]).replace(b"}", b",}", 1)  # a trailing comma
    route = mock_endpoint(respx_mock, service, httpx.Response(
        200, content=broken, headers={"Content-Type": "application/json"}))
    with pytest.raises(InvalidResponseError) as caught:
        await call_endpoint(service)
    assert "expected JSON, got application/json with a body that does not parse" in str(caught.value)
    assert "Check that the base URL points at the right service" in str(caught.value)
    assert route.call_count == 1


@pytest.mark.parametrize("service", SERVICES, ids=[f"{s}-html-page-with-200" for s in SERVICES])
async def test_html_page_instead_of_json(respx_mock: respx.MockRouter, service: str):
    route = mock_endpoint(respx_mock, service, httpx.Response(200, text=HTML_LOGIN,
                                                             headers={"Content-Type": "text/html"}))
    with pytest.raises(InvalidResponseError) as caught:
        await call_endpoint(service)
    assert "expected JSON, got text/html with an HTML page" in str(caught.value)
    assert "Sign in - Corporate proxy" in caught.value.body_excerpt
    assert route.call_count == 1


@pytest.mark.parametrize("service", SERVICES, ids=[f"{s}-html-error-page-502" for s in SERVICES])
async def test_html_error_page(respx_mock: respx.MockRouter, service: str):
    route = mock_endpoint(respx_mock, service, httpx.Response(502, text=HTML_502,
                                                             headers={"Content-Type": "text/html"}))
    with pytest.raises(ServerError) as caught:
        await call_endpoint(service)
    assert "HTTP 502" in str(caught.value) and "non-JSON (HTML) error page" in str(caught.value)
    assert "try again later" in str(caught.value)
    assert route.call_count == FAST.max_attempts  # a read: retried, then given up


WRONG_TYPES = {
    "ptsandbox": ({**GOOD["ptsandbox"], "result": ["FULL"]}, "does not match TaskStatus: result"),
    "threatconnect": ({**GOOD["threatconnect"], "id": "five"},
                      "does not match Task: id: Input should be a valid integer"),
    "acronis": ({**GOOD["acronis"], "resource": "srv-dc-01"}, "does not match Task: resource"),
    "tiledb": ({**GOOD["tiledb"], "start_time": "around noon"}, "does not match ArrayTask: start_time"),
}


@pytest.mark.parametrize("service", SERVICES, ids=[f"{s}-wrong-field-type" for s in SERVICES])
async def test_wrong_field_type(respx_mock: respx.MockRouter, service: str):
    data, message = WRONG_TYPES[service]
    route = mock_endpoint(respx_mock, service, httpx.Response(200, content=body_of(service, data)))
    with pytest.raises(InvalidResponseError) as caught:
        await call_endpoint(service)
    assert message in str(caught.value)
    assert route.call_count == 1


MISSING = {
    "ptsandbox": ({"result": {"scan_state": "FULL"}}, "does not match TaskStatus: scan_id: Field required"),
    "threatconnect": ({"name": "Investigate 4f1c"}, "does not match Task: id: Field required"),
    "acronis": ({"state": "completed"}, "does not match Task: id: Field required"),
}


@pytest.mark.parametrize("service", list(MISSING), ids=[f"{s}-missing-required-field" for s in MISSING])
async def test_missing_required_field(respx_mock: respx.MockRouter, service: str):
    data, message = MISSING[service]
    route = mock_endpoint(respx_mock, service, httpx.Response(200, content=body_of(service, data)))
    with pytest.raises(InvalidResponseError) as caught:
        await call_endpoint(service)
    assert message in str(caught.value)
    assert route.call_count == 1


async def test_tiledb_missing_optional_fields_are_accepted(respx_mock: respx.MockRouter):
    """TileDB's spec makes every ArrayTask field optional: a sparse answer is kept, not refused."""
    mock_endpoint(respx_mock, "tiledb", httpx.Response(200, json={"status": "QUEUED"}))
    task = await call_endpoint("tiledb")
    assert task.status == "QUEUED" and task.id is None and not task.is_terminal


async def test_threatconnect_envelope_without_status_is_refused(respx_mock: respx.MockRouter):
    mock_endpoint(respx_mock, "threatconnect", httpx.Response(200, json={"data": {"task": GOOD["threatconnect"]}}))
    with pytest.raises(InvalidResponseError, match="the answer has no v2 status field"):
        await call_endpoint("threatconnect")


UNKNOWN_ENUMS = {
    "ptsandbox": ({**GOOD["ptsandbox"], "result": {"scan_state": "QUARANTINED_BY_AI", "verdict": "APOCALYPTIC"}},
                  lambda status: (status.result.scan_state, status.result.verdict),
                  ("QUARANTINED_BY_AI", "APOCALYPTIC")),
    "threatconnect": ({**GOOD["threatconnect"], "status": "Blocked by Legal"}, lambda task: task.status,
                      "Blocked by Legal"),
    "acronis": ({**GOOD["acronis"], "state": "hibernating", "priority": "urgent"},
                lambda task: (task.state, task.priority), ("hibernating", "urgent")),
    "tiledb": ({**GOOD["tiledb"], "status": "HIBERNATING", "type": "QUANTUM_UDF"},
               lambda task: (task.status, task.type, task.is_terminal), ("HIBERNATING", "QUANTUM_UDF", False)),
}


@pytest.mark.parametrize("service", SERVICES, ids=[f"{s}-unknown-enum-value-accepted" for s in SERVICES])
async def test_unknown_enum_values_are_kept(respx_mock: respx.MockRouter, service: str):
    data, pick, expected = UNKNOWN_ENUMS[service]
    mock_endpoint(respx_mock, service, httpx.Response(200, content=body_of(service, data)))
    assert pick(await call_endpoint(service)) == expected


def oversized(kind: str) -> tuple[httpx.Response, Any]:
    if kind == "chunked":
        stream = EndlessJSON()
        return httpx.Response(200, stream=stream, headers={"Content-Type": "application/json"}), stream
    if kind == "declared":
        untouched = UntouchedBody()
        headers = {"Content-Type": "application/json", "Content-Length": str(10 * 1024**3)}
        return httpx.Response(200, stream=untouched, headers=headers), untouched
    bomb = gzip_bomb_json()
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    return httpx.Response(200, content=bomb, headers=headers), bomb


OVERSIZED = [
    pytest.param("ptsandbox", "chunked", id="ptsandbox-oversized-endless-chunked-body"),
    pytest.param("threatconnect", "declared", id="threatconnect-oversized-declared-content-length"),
    pytest.param("acronis", "gzip", id="acronis-oversized-gzip-bomb-body"),
    pytest.param("tiledb", "chunked", id="tiledb-oversized-endless-chunked-body"),
]


@pytest.mark.parametrize(("service", "kind"), OVERSIZED)
async def test_oversized_body_is_refused_without_reading_it_all(respx_mock: respx.MockRouter, service: str, kind: str):
    response, body = oversized(kind)
    route = mock_endpoint(respx_mock, service, response)
    with pytest.raises(InvalidResponseError) as caught:
        await call_endpoint(service)
    assert f"the response body is larger than max_body_bytes={MAX_BODY_BYTES}" in str(caught.value)
    assert "check the base URL and the query" in str(caught.value)
    assert route.call_count == 1  # not retried: a huge answer is not transient
    if kind == "chunked":
        assert body.chunks_sent <= MAX_BODY_BYTES // MIB + 1, "the client read past the limit"
    elif kind == "declared":
        assert body.read is False, "a body declared too large must not be read"
    else:
        assert "it passed" in str(caught.value)


# -- 3. ThreatConnect writes: nothing half-built when the create answer is wrong ----------------------

TC_TASKS = "https://tc.test/api/v2/tasks"


@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        pytest.param({"status": "Success", "data": {"resultCount": 0}}, InvalidResponseError,
                     "the answer has no data.task", id="threatconnect-create-answer-without-task"),
        pytest.param({"status": "Failure", "message": "Owner 'Lab Org' is not permitted"}, BadRequestError,
                     "Owner 'Lab Org' is not permitted", id="threatconnect-create-failure-envelope"),
    ],
)
async def test_threatconnect_create_stops_before_any_sub_step(
    respx_mock: respx.MockRouter, answer: dict[str, Any], error: type[SoarError], message: str
):
    search = respx_mock.get(TC_TASKS).mock(
        return_value=httpx.Response(200, json={"status": "Success", "data": {"resultCount": 0, "task": []}})
    )
    create = respx_mock.post(TC_TASKS).mock(return_value=httpx.Response(200, json=answer))
    async with ThreatConnectClient(base_url="https://tc.test/api", api_token="tc-test-token", retry=FAST) as tc:
        with pytest.raises(error) as caught:
            await tc.find_or_create_task("ptsandbox:4f1c", "Investigate", tags=["Malware"],
                                         attributes=[("Description", "dropper")])
    assert message in str(caught.value)
    assert search.call_count == 1 and create.call_count == 1
    assert len(respx_mock.calls) == 2, "no tag, attribute or commit mark may follow a failed create"


# -- 4. what the emulators produce ------------------------------------------------------------------


async def test_ptsandbox_bad_query_language_carries_the_emulators_message(lab: Lab):
    async with lab_client(lab, "ptsandbox") as sandbox:
        with pytest.raises(BadRequestError) as caught:
            await sandbox.get_tasks("verdict ==== DANGEROUS")
    assert caught.value.status == 400
    assert "Invalid query: expected a value, found '=' at position 9" in str(caught.value)
    assert "Check the parameters" in str(caught.value)


@pytest.mark.parametrize(
    ("overrides", "call", "message"),
    [
        pytest.param({"api_key": "ak-wrong"}, lambda c: c.get_version(), "invalid API key",
                     id="ptsandbox-wrong-api-key"),
        pytest.param({"password": "Wr0ng-Passw0rd"}, lambda c: c.get_tasks(), "Invalid username or password",
                     id="ptsandbox-wrong-password"),
    ],
)
async def test_ptsandbox_rejected_credentials(lab: Lab, overrides: dict[str, str], call: Call, message: str):
    async with lab_client(lab, "ptsandbox", **overrides) as sandbox:
        with pytest.raises(AuthenticationError) as caught:
            await call(sandbox)
    assert message in str(caught.value) and "Check" in str(caught.value)
    assert caught.value.status == 401


async def test_ptsandbox_expired_token_that_cannot_be_refreshed(lab: Lab):
    """Every token the appliance issues is already expired (a clock gone wrong): one refresh, then a clear error."""
    lab["ptsandbox"].server.control.set_faults(FaultConfig(token_ttl_seconds=0))
    tap = Tap()
    async with lab_client(lab, "ptsandbox", transport=tap) as sandbox:
        with pytest.raises(AuthenticationError) as caught:
            await sandbox.get_tasks()
    assert "access token expired" in str(caught.value)
    assert "Check the credentials" in str(caught.value)
    # refreshed once after the 401, not in a loop
    assert tap.paths["/api/ui/v2/tasks"] == 2 and tap.paths["/api/ui/auth/token"] == 2


async def test_ptsandbox_report_that_never_becomes_ready(lab: Lab, tmp_path: Path):
    sample = tmp_path / "invoice.exe"
    sample.write_bytes(b"MZ" + bytes(range(256)) * 4)
    async with lab_client(lab, "ptsandbox") as sandbox:
        created = await sandbox.scan_file(sample)
        with pytest.raises(WaitTimeoutError) as caught:
            await sandbox.wait_for_report(created.scan_id, timeout=0.3, poll=0.05)
    assert f"the report of scan {created.scan_id} was not ready after 0.3s (last state:" in str(caught.value)
    assert "Raise the wait timeout" in str(caught.value)


async def test_threatconnect_wrong_hmac_secret_creates_nothing(lab: Lab):
    before = created_records(lab)
    async with lab_client(lab, "threatconnect", secret_key="not-the-secret-key") as tc:
        with pytest.raises(AuthenticationError) as caught:
            await tc.find_or_create_task("ptsandbox:wrong-secret", "Investigate", tags=["Malware"])
    assert "Signature Data Did Not Match Expected Result" in str(caught.value)
    assert "check the Access ID and Secret Key in the block" in str(caught.value)
    assert "not-the-secret-key" not in str(caught.value)
    assert created_records(lab) == before


async def test_threatconnect_expired_api_token_creates_nothing(lab: Lab):
    lab["threatconnect"].server.control.set_faults(FaultConfig(token_ttl_seconds=0))
    before = created_records(lab)
    token = lab["threatconnect"].credentials["api_token"]
    async with lab_client(lab, "threatconnect", access_id=None, secret_key=None, api_token=token) as tc:
        with pytest.raises(AuthenticationError) as caught:
            await tc.find_or_create_task("ptsandbox:expired-token", "Investigate")
    assert "the API token may have expired or been regenerated" in str(caught.value)
    assert created_records(lab) == before


async def test_acronis_wrong_client_secret_never_reaches_the_task_manager(lab: Lab):
    tap = Tap()
    async with lab_client(lab, "acronis", client_secret="not-the-secret", transport=tap) as acronis:
        with pytest.raises(AuthenticationError) as caught:
            await acronis.list_tasks(limit=1)
    assert "Invalid client credentials" in str(caught.value) and "Check the credentials" in str(caught.value)
    assert "not-the-secret" not in str(caught.value)
    assert tap.paths == {"/api/2/idp/token": 1}


async def test_acronis_expired_token_that_cannot_be_refreshed(lab: Lab):
    lab["acronis"].server.control.set_faults(FaultConfig(token_ttl_seconds=0))
    tap = Tap()
    async with lab_client(lab, "acronis", transport=tap) as acronis:
        with pytest.raises(AuthenticationError) as caught:
            await acronis.list_tasks(limit=1)
    assert "Access token has expired" in str(caught.value)
    assert tap.paths == {"/api/2/idp/token": 2, "/api/task_manager/v2/tasks": 2}


async def test_tiledb_wrong_api_key(lab: Lab):
    async with lab_client(lab, "tiledb", api_key="not-the-key") as tiledb:
        with pytest.raises(AuthenticationError) as caught:
            await tiledb.tasks_get()
    assert caught.value.status == 401 and "Check the credentials in the block" in str(caught.value)


async def test_tiledb_task_id_that_is_not_a_uuid_is_not_found(lab: Lab):
    """TileDB ids are opaque strings to the client; the service says the id is unknown."""
    async with lab_client(lab, "tiledb") as tiledb:
        with pytest.raises(NotFoundError) as caught:
            await tiledb.task_id_get("not-a-uuid")
    assert "task not-a-uuid not found" in str(caught.value) and "Check the id" in str(caught.value)


async def test_tiledb_sql_error_keeps_the_message_and_task_id(lab: Lab):
    async with lab_client(lab, "tiledb") as tiledb:
        with pytest.raises(BadRequestError) as caught:
            await tiledb.run_sql(lab["tiledb"].credentials["namespace"], "SELECT * FROM no_such_table")
    task_id = getattr(caught.value, "task_id", None)
    assert "Table 'soc-lab.no_such_table' doesn't exist" in str(caught.value)
    assert task_id and f"TileDB task id {task_id}" in str(caught.value)


async def test_tiledb_result_that_stays_202(lab: Lab):
    """The seeded ``nightly-ioc-sweep`` task runs forever: its stored result answers 202 until the wait gives up."""
    async with lab_client(lab, "tiledb") as tiledb:
        running = (await tiledb.tasks_get(status="RUNNING", search="nightly-ioc-sweep")).array_tasks
        assert running and running[0].id
        task_id = running[0].id
        assert (await tiledb.task_id_result_get(task_id)).status == "running"
        with pytest.raises(WaitTimeoutError) as caught:
            await tiledb.wait_for_result(task_id, timeout=0.3, poll=0.05)
    assert f"the result of TileDB task {task_id} was not ready after 0.3s" in str(caught.value)
    assert "Raise the wait timeout" in str(caught.value)


# -- 5. downloads and archives: refused, and nothing left on disk -----------------------------------


async def download_crafted(lab: Lab, body: bytes, dest: Path, **response: Any) -> Any:
    """Log in to the real emulator, but answer the artifact download with ``body``."""
    tap = Tap({r"/api/ui/v2/tasks/[^/]+/tree/download": lambda: httpx.Response(200, content=body, **response)})
    async with lab_client(lab, "ptsandbox", transport=tap) as sandbox:
        saved = await sandbox.download_task_artifacts(SCAN_ID, dest)
    assert tap.paths["/api/ui/auth/token"] == 1  # the real login ran
    return saved


async def test_download_of_a_body_that_is_not_a_zip(lab: Lab, tmp_path: Path):
    dest = tmp_path / "cases" / "42"
    with pytest.raises(InvalidResponseError) as caught:
        await download_crafted(lab, HTML_LOGIN.encode(), dest, headers={"Content-Type": "text/html"})
    assert "expected a ZIP archive" in str(caught.value) and "Sign in" in caught.value.body_excerpt
    assert leftovers(tmp_path) == [], "the download must not leave its folders or a temporary file"


async def test_download_of_a_truncated_zip(lab: Lab, tmp_path: Path):
    async with lab_client(lab, "ptsandbox") as sandbox:
        task = (await sandbox.get_tasks(limit=1)).tasks[0]
        whole = b"".join([chunk async for chunk in sandbox.get_task_artifacts(task.id)])
    with pytest.raises(InvalidResponseError) as caught:
        await download_crafted(lab, whole[: len(whole) // 2], tmp_path)
    assert "start like one but have no end-of-central-directory record" in str(caught.value)
    assert "Download it again" in str(caught.value)
    assert leftovers(tmp_path) == []


async def test_download_cut_by_a_dropped_connection(lab: Lab, tmp_path: Path):
    async with lab_client(lab, "ptsandbox") as sandbox:
        task = (await sandbox.get_tasks(limit=1)).tasks[0]  # logs in first
        lab["ptsandbox"].server.control.set_faults(FaultConfig(drop_rate=1.0))
        with pytest.raises(TransportError) as caught:
            await sandbox.download_task_artifacts(task.id, tmp_path / "case")
    assert "RemoteProtocolError" in str(caught.value) or "ReadError" in str(caught.value)
    assert "Check the base URL, proxy, TLS settings" in str(caught.value)
    assert leftovers(tmp_path) == []


async def test_extracting_with_a_wrong_password(lab: Lab, tmp_path: Path):
    async with lab_client(lab, "ptsandbox") as sandbox:
        task = (await sandbox.get_tasks(limit=1)).tasks[0]
        saved = await sandbox.download_task_artifacts(task.id, tmp_path)
    with pytest.raises(ArchivePasswordError) as caught:
        extract(saved.path, tmp_path / "extracted", password="not-infected")
    assert "wrong or missing password" in str(caught.value) and "PT Sandbox uses 'infected'" in str(caught.value)
    assert leftovers(tmp_path) == [saved.path.name]


@pytest.mark.parametrize(
    ("archive", "error", "message"),
    [
        pytest.param(zip_bomb, ArchiveLimitError, "has a compression ratio above max_ratio=200", id="archive-zip-bomb"),
        pytest.param(traversal_zip, UnsafeMemberError,
                     "refusing member '../../.bashrc': it climbs out of the destination", id="archive-path-traversal"),
        pytest.param(symlink_zip, UnsafeMemberError, "refusing member 'passwd-link': it is a symbolic link",
                     id="archive-symlink-member"),
    ],
)
async def test_hostile_archive_is_refused_and_nothing_is_extracted(
    lab: Lab, tmp_path: Path, archive: Callable[[], bytes], error: type[SoarError], message: str
):
    downloads = tmp_path / "downloads"
    saved = await download_crafted(lab, archive(), downloads)
    with pytest.raises(error) as caught:
        extract(saved.path, tmp_path / "quarantine" / "case-42")
    assert message in str(caught.value)
    assert "inspect it in" in str(caught.value)
    # nothing extracted, no staging folder, no created parent, nothing written outside (the '../../.bashrc')
    assert leftovers(tmp_path) == ["downloads"] and leftovers(downloads) == [saved.path.name]
