"""ThreatConnect emulator: HMAC (reference test vectors, window, wrong secret) and TC-Token auth."""

from __future__ import annotations

import time

import httpx
import pytest
from sim_fixtures import (
    BASE_URL,
    VECTOR_SECRET,
    VECTOR_TIMESTAMP,
    TCHmac,
    TCToken,
    asgi_client,
    hmac_headers,
    make_app,
    tc_signature,
)

from prefect_soar.simulators._lab import FaultConfig
from prefect_soar.simulators.threatconnect import LAB_CREDENTIALS, create_app

FAILURE_SIGNATURE = {"status": "Failure", "message": "Signature Data Did Not Match Expected Result"}
FAILURE_TIMESTAMP = {"status": "Failure", "message": "Timestamp Out of Acceptable Time Range"}


@pytest.fixture
def vector_app():
    """An emulator that accepts the reference vectors: secret ``secret-key``, clock at their timestamp."""
    app = make_app(access_id="1234", secret_key=VECTOR_SECRET, owners=["Example Org", "Other Org"],
                   clock=lambda: float(VECTOR_TIMESTAMP))
    backend = app.state.backend
    task = backend.tasks.pop(1001)  # the third vector tags task 12345: give a seeded task that id
    task.id = 12345
    backend.tasks[12345] = task
    return app


@pytest.mark.parametrize(
    ("method", "path_with_query", "expected_signature", "expected_status"),
    [
        ("GET", "/api/v2/tasks", "iX7zTg05rm6SRLQCOcF8/HiBLlxhl4reuCHsOTbRazQ=", 200),
        ("GET", "/api/v2/tasks?owner=Example+Org&resultStart=0&resultLimit=100&createActivityLog=false",
         "DoDDWGNIkz6PPvpyN//UibGa8q6aoADvz6Bhy6cWmKw=", 200),
        ("POST", "/api/v2/tasks/12345/tags/Nation%20State", "T1yo73MMSjzYcIqg7E8rPyovU4W5dPb7Qm+2werUPJQ=", 201),
        # v3 is not emulated: the signature is accepted, then the v3 404 envelope comes back
        ("GET", "/api/v3/groups?tql=typeName%20EQ%20%22Task%22&resultStart=0&resultLimit=100",
         "bXTp4M2KaylnwPjXJHa+/GhAj0Wfk4tzBh+xpvVX56c=", 404),
    ],
)
async def test_reference_vectors_verify(vector_app, method, path_with_query, expected_signature, expected_status):
    assert tc_signature(VECTOR_SECRET, path_with_query, method, VECTOR_TIMESTAMP) == expected_signature
    async with asgi_client(vector_app, auth=None) as client:
        request = client.build_request(method, f"http://tc.lab{path_with_query}")
        assert request.url.raw_path.decode() == path_with_query  # sent exactly as signed
        request.headers["Timestamp"] = str(VECTOR_TIMESTAMP)
        request.headers["Authorization"] = f"TC 1234:{expected_signature}"
        response = await client.send(request)
    assert response.status_code == expected_status, response.text
    if path_with_query.startswith("/api/v3"):
        assert response.json()["errCode"] == "0x1004"
    else:
        assert response.json()["status"] == "Success"
    if method == "POST":
        assert vector_app.state.backend.tasks[12345].tags[-1] == "Nation State"
    if "owner=Example+Org" in path_with_query:
        assert {t["ownerName"] for t in response.json()["data"]["task"]} == {"Example Org"}


async def test_wrong_secret_is_401_with_v2_envelope():
    app = create_app()
    async with asgi_client(app, TCHmac(secret_key="not-the-secret")) as client:
        response = await client.get("/v2/tasks")
    assert response.status_code == 401
    assert response.json() == FAILURE_SIGNATURE
    assert app.state.lab.stats["auth_failures"] == 1


async def test_hmac_over_raw_query_accepted_and_mismatched_encoding_rejected():
    app = create_app()
    async with asgi_client(app, auth=None) as client:
        sent = "/api/v2/tasks?owner=Lab+Community&resultLimit=5"
        ok = await client.get(f"http://tc.lab{sent}", headers=hmac_headers(sent, "GET"))
        # signing %20 while sending + is a mismatch: sign exactly what goes on the wire
        bad = await client.get(f"http://tc.lab{sent}",
                               headers=hmac_headers(sent.replace("+", "%20"), "GET"))
    assert ok.status_code == 200, ok.text
    assert [t["ownerName"] for t in ok.json()["data"]["task"]] == ["Lab Community"]
    assert bad.status_code == 401
    assert bad.json() == FAILURE_SIGNATURE


@pytest.mark.parametrize("skew", [-301, 301, 10**12])
async def test_timestamp_outside_window_is_401(skew):
    app = make_app(clock=lambda: 1_700_000_000.0)
    async with asgi_client(app, auth=None) as client:
        response = await client.get("/v2/tasks", headers=hmac_headers("/api/v2/tasks", "GET",
                                                                      timestamp=1_700_000_000 + skew))
    assert response.status_code == 401
    assert response.json() == FAILURE_TIMESTAMP


@pytest.mark.parametrize("skew", [-299, 0, 299])
async def test_timestamp_inside_window_is_accepted(skew):
    app = make_app(clock=lambda: 1_700_000_000.0)
    async with asgi_client(app, auth=None) as client:
        response = await client.get("/v2/tasks", headers=hmac_headers("/api/v2/tasks", "GET",
                                                                      timestamp=1_700_000_000 + skew))
    assert response.status_code == 200


async def test_milliseconds_timestamp_and_missing_timestamp_are_rejected():
    app = create_app()
    now_ms = int(time.time() * 1000)
    async with asgi_client(app, auth=None) as client:
        millis = await client.get("/v2/tasks", headers=hmac_headers("/api/v2/tasks", "GET", timestamp=now_ms))
        headers = hmac_headers("/api/v2/tasks", "GET")
        del headers["Timestamp"]
        missing = await client.get("/v2/tasks", headers=headers)
    assert millis.json() == FAILURE_TIMESTAMP
    assert missing.status_code == 401
    assert missing.json() == FAILURE_TIMESTAMP


async def test_missing_or_unknown_credentials_are_401_access_denied():
    app = create_app()
    async with asgi_client(app, auth=None) as client:
        none = await client.get("/v2/tasks")
        basic = await client.get("/v2/tasks", headers={"Authorization": "Basic dXNlcjpwYXNz"})
        unknown = await client.get("/v2/tasks", headers=hmac_headers("/api/v2/tasks", "GET", access_id="999"))
    for response in (none, basic, unknown):
        assert response.status_code == 401
        assert response.json() == {"status": "Failure", "message": "Access Denied"}


async def test_method_is_part_of_the_signature():
    app = create_app()
    async with asgi_client(app, auth=None) as client:
        response = await client.post("/v2/tasks", json={"name": "x"}, headers=hmac_headers("/api/v2/tasks", "GET"))
    assert response.status_code == 401
    assert app.state.backend.find_tasks(name="x") == []


async def test_api_token_accepted_and_wrong_token_rejected():
    app = create_app()
    async with asgi_client(app, TCToken()) as client:
        good = await client.get("/v2/tasks/1001")
    async with asgi_client(app, TCToken("APIV2:1:lab:0:bm9wZQ==")) as client:
        bad = await client.get("/v2/tasks/1001")
    assert good.status_code == 200
    assert good.json()["data"]["task"]["id"] == 1001
    assert bad.status_code == 401
    assert bad.json() == {"status": "Failure", "message": "Unauthorized"}
    assert app.state.lab.stats["auth_token"] == 1


async def test_lab_can_expire_the_token():
    app = create_app()
    control = app.state.lab
    async with asgi_client(app) as client:
        control.set_faults(FaultConfig(token_ttl_seconds=0))
        expired = await client.get("/v2/tasks")
        control.set_faults(FaultConfig())
        renewed = await client.get("/v2/tasks")
    assert expired.status_code == 401
    assert expired.json() == {"status": "Failure", "message": "Unauthorized"}
    assert renewed.status_code == 200


async def test_v3_paths_get_the_v3_error_envelope():
    async with asgi_client(create_app(), auth=None) as client:
        response = await client.get("/v3/groups")
    assert response.status_code == 401
    assert response.json() == {"errCode": "0x1002", "message": "Access Denied", "status": "Error"}


async def test_lab_control_paths_need_no_auth():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app()), base_url=BASE_URL) as client:
        faults = await client.get("http://tc.lab/_lab/faults")
        dump = await client.get("http://tc.lab/_lab/threatconnect/tasks")
    assert faults.status_code == 200
    assert dump.status_code == 200
    assert dump.json()["data"]["resultCount"] == 5


def test_lab_credentials_match_default_settings():
    assert set(LAB_CREDENTIALS) == {"access_id", "secret_key", "api_token", "default_owner"}
    assert LAB_CREDENTIALS["default_owner"] == "Lab Org"
