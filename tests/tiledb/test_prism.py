"""The real TileDBClient against Stoplight Prism mocking TileDB's official spec (an independent contract check).

Prism validates every request against ``openapi-v1.yaml`` (422 plus an ``sl-violations`` header
on a violation, 401 without credentials) and answers from the spec's examples. It is run with
``npx --yes --prefer-offline @stoplight/prism-cli@5`` (npm cache under the temp dir); the tests skip with the
reason when the spec, ``npx`` or the package is not available, or when
``PREFECT_SOAR_SKIP_PRISM=1``. Marked ``slow``: the first run downloads Prism (~15 s).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from prefect_soar.clients.tiledb import TileDBClient
from prefect_soar.errors import BadInputError, WaitTimeoutError
from prefect_soar.models.tiledb import SQLParameters
from prefect_soar.simulators._lab import free_port

from .conftest import FAST
from .openapi_contract import SPEC_PATH

pytestmark = pytest.mark.slow

PRISM = "@stoplight/prism-cli@5"
STARTUP_SECONDS = 180.0


@pytest.fixture(scope="module")
def prism_url() -> Iterator[str]:
    """Start Prism on a free loopback port for this module."""
    if os.environ.get("PREFECT_SOAR_SKIP_PRISM") == "1":
        pytest.skip("PREFECT_SOAR_SKIP_PRISM=1")
    if not SPEC_PATH.is_file():
        pytest.skip(f"TileDB's official spec is not at {SPEC_PATH}")
    npx = shutil.which("npx")
    if npx is None:
        pytest.skip("npx (Node.js) is not installed; Prism cannot run")
    cache = Path(tempfile.gettempdir()) / "prefect-soar-prism-npm"
    log = tempfile.NamedTemporaryFile(prefix="prism-", suffix=".log", delete=False)  # noqa: SIM115
    port = free_port()
    env = {**os.environ, "npm_config_cache": str(cache), "npm_config_update_notifier": "false",
           "npm_config_fund": "false", "npm_config_audit": "false"}
    process = subprocess.Popen(
        [npx, "--yes", "--prefer-offline", PRISM, "mock", "-h", "127.0.0.1", "-p", str(port), str(SPEC_PATH)],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                tail = Path(log.name).read_text(errors="replace")[-600:]
                pytest.skip(f"Prism did not start (npx exit {process.returncode}): {tail}")
            try:
                httpx.get(f"{url}/tasks", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.skip(f"Prism did not listen within {STARTUP_SECONDS:g}s (offline npm registry?)")
                time.sleep(0.25)
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        log.close()
        Path(log.name).unlink(missing_ok=True)


@dataclass
class PrismTransport(httpx.AsyncBaseTransport):
    """Adds Prism's ``Prefer`` header when asked and records every ``sl-violations`` report."""

    inner: httpx.AsyncBaseTransport = field(default_factory=httpx.AsyncHTTPTransport)
    prefer: str | None = None
    violations: list[dict] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.prefer:
            request.headers["Prefer"] = self.prefer
        response = await self.inner.handle_async_request(request)
        self.statuses.append(response.status_code)
        if "sl-violations" in response.headers:
            self.violations += json.loads(response.headers["sl-violations"])
        return response

    def request_violations(self) -> list[dict]:
        """Violations Prism found in our requests (its own example's response violations excluded)."""
        return [v for v in self.violations if v.get("location", [""])[0] == "request"]

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
async def prism(prism_url: str):
    transport = PrismTransport()
    async with TileDBClient(prism_url, api_key="prism-any-key", retry=FAST, transport=transport) as client:
        yield client, transport
    assert transport.request_violations() == []


async def test_prism_validates_requests_for_real(prism_url: str):
    async with httpx.AsyncClient(base_url=prism_url) as raw:
        unauthenticated = await raw.get("/tasks")
        bad = await raw.get("/tasks", params={"start": "abc"}, headers={"X-TILEDB-REST-API-KEY": "k"})
    assert unauthenticated.status_code == 401
    assert bad.status_code == 422 and "start" in bad.headers["sl-violations"]


async def test_run_sql_and_204_against_prism(prism):
    client, transport = prism
    sql = SQLParameters(name="q", query="select 1 as x", result_format="json", store_results=True,
                        init_commands=["SET a=1"], parameters=[1, "a"], resource_class="standard")
    answer = await client.run_sql("organization1", sql, accept_encoding="deflate")
    assert answer.status_code == 200 and answer.task_id == "string" and answer.rows == [{}]
    transport.prefer = "code=204"
    empty = await client.run_sql("organization1", "create table t (a int)")
    assert (empty.status_code, empty.rows, empty.task_id) == (204, None, "string")


async def test_tasks_get_with_every_parameter_passes_prism_validation(prism):
    client, transport = prism
    page = await client.tasks_get(
        namespace="organization1", created_by="demo", array="tiledb://organization1/events", start=1700000000,
        end=1700086400, page=2, per_page=10, type="SQL", exclude_type=["UDF", "QUERY"],
        file_type=["notebook", "ml_model"], exclude_file_type=["file"], status="FAILED", search="ioc",
        orderby="start_time",
    )
    assert transport.statuses == [200]
    meta = page.pagination_metadata
    assert meta is not None and (meta.page, meta.per_page, meta.total_pages, meta.total_items) == (1, 10, 14, 138)
    assert page.array_tasks[0].name == "subarray-multiplier" and page.array_tasks[0].activity
    with pytest.raises(BadInputError):
        await client.tasks_get(start="abc")  # type: ignore[arg-type]
    assert transport.statuses == [200], "an invalid filter never reaches the server"


async def test_iter_tasks_stops_on_prisms_static_repeated_page(prism):
    client, transport = prism
    tasks = [t async for t in client.iter_tasks(per_page=10)]
    assert [t.id for t in tasks] == ["string"]
    assert transport.statuses == [200, 200], "page 2 repeats page 1 (total_pages says 14): stop, do not loop"


async def test_task_and_result_outcomes_against_prism(prism):
    client, transport = prism
    task = await client.task_id_get("abc")
    assert task.id == "string" and task.status is not None
    assert (await client.task_id_result_get("abc", accept_encoding="gzip")).value == "string"
    transport.prefer = "code=202"
    assert (await client.task_id_result_get("abc")).status == "running"
    with pytest.raises(WaitTimeoutError):
        await client.wait_for_result("abc", timeout=0.3, poll=0.05)
    transport.prefer = "code=404"
    missing = await client.task_id_result_get("abc")
    assert missing.status == "missing" and missing.message is not None
    transport.prefer = None
    await client.check_connection()
