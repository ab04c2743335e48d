"""ThreatConnect emulator over real loopback HTTP (uvicorn): HMAC on the raw request line, faults, reset."""

from __future__ import annotations

import time

import httpx
import pytest
from sim_fixtures import TCHmac, TCToken, hmac_headers

from prefect_soar.simulators._lab import FaultConfig, LabServer
from prefect_soar.simulators.threatconnect import create_app


@pytest.fixture(scope="module")
def server():
    with LabServer(create_app()) as running:
        yield running


@pytest.fixture(autouse=True)
def clean(server):
    """Seeded state and no faults before each test."""
    server.control.reset()
    server.control.set_faults(FaultConfig())


@pytest.fixture
async def client(server):
    async with httpx.AsyncClient(base_url=f"{server.base_url}/api", auth=TCHmac()) as c:
        yield c


async def test_round_trip_over_loopback_with_hmac(client, server):
    backend = server.app.state.backend
    created = await client.post("/v2/tasks", params={"owner": "Lab Community"},
                                json={"name": "Loopback task", "assignee": [{"userName": "analyst@lab.example"}]})
    assert created.status_code == 201, created.text
    assert b"owner=Lab+Community" in created.request.url.raw_path  # signed and sent with '+'
    tid = created.json()["data"]["task"]["id"]
    owner = {"owner": "Lab Community"}

    tagged = await client.post(f"/v2/tasks/{tid}/tags/Nation%20State", params=owner)
    labelled = await client.post(f"/v2/tasks/{tid}/securityLabels/TLP:AMBER", params=owner)  # ':' left as is
    labelled_encoded = await client.post(f"/v2/tasks/{tid}/securityLabels/TLP%3ARED", params=owner)
    attribute = await client.post(f"/v2/tasks/{tid}/attributes", params=owner,
                                  json={"type": "Description", "value": "via loopback", "displayed": True})
    assert (tagged.status_code, labelled.status_code, labelled_encoded.status_code, attribute.status_code) == (
        201, 201, 201, 201)

    by_tag = await client.get("/v2/tags/Nation%20State/tasks", params={**owner, "resultStart": 0, "resultLimit": 10})
    by_label = await client.get("/v2/securityLabels/TLP%3AAMBER/tasks", params=owner)
    assert [t["id"] for t in by_tag.json()["data"]["task"]] == [tid]
    assert [t["id"] for t in by_label.json()["data"]["task"]] == [tid]

    task = backend.tasks[tid]
    assert task.tags == ["Nation State"]
    assert task.labels == ["TLP:AMBER", "TLP:RED"]
    assert task.attribute_values("Description") == ["via loopback"]

    deleted = await client.delete(f"/v2/tasks/{tid}", params=owner)
    assert deleted.json() == {"status": "Success"}
    assert tid not in backend.tasks
    assert server.control.stats["auth_hmac"] >= 8


async def test_wrong_secret_and_stale_timestamp_over_loopback(server):
    async with httpx.AsyncClient(base_url=f"{server.base_url}/api") as plain:
        wrong = await plain.get("/v2/tasks", headers=hmac_headers("/api/v2/tasks", "GET", secret_key="nope"))
        stale = await plain.get("/v2/tasks", headers=hmac_headers("/api/v2/tasks", "GET",
                                                                  timestamp=int(time.time()) - 600))
    assert wrong.status_code == 401
    assert wrong.json() == {"status": "Failure", "message": "Signature Data Did Not Match Expected Result"}
    assert stale.status_code == 401
    assert stale.json() == {"status": "Failure", "message": "Timestamp Out of Acceptable Time Range"}


async def test_injected_faults_use_the_v2_envelope(client, server):
    server.control.set_faults(FaultConfig(errors={503: 1.0}, retry_after_seconds=2))
    response = await client.get("/v2/tasks")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.json() == {"status": "Failure", "message": "lab fault: injected HTTP 503"}


async def test_lab_reset_over_http(server):
    backend = server.app.state.backend
    async with httpx.AsyncClient(base_url=f"{server.base_url}/api", auth=TCToken()) as client:
        deleted = await client.delete("/v2/tasks/1001")
        assert deleted.status_code == 200
        assert 1001 not in backend.tasks
        reset = await client.post(f"{server.base_url}/_lab/reset")
    assert reset.status_code == 200
    assert 1001 in backend.tasks
