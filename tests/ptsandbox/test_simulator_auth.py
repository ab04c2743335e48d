"""PT Sandbox emulator over real loopback: the UI login dance, token expiry, API keys, lab faults."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from prefect_soar.simulators._lab import FaultConfig, LabServer
from prefect_soar.simulators.ptsandbox import LAB_CREDENTIALS, REFRESH_COOKIE, SESSION_COOKIE, create_app

from .sim_helpers import API_HEADERS, FINGERPRINT, example, shape_mismatch, ui_login


@pytest.fixture(scope="module")
def server() -> Iterator[LabServer]:
    with LabServer(create_app({"task_count": 50, "scan_seconds": 0})) as running:
        yield running


@pytest.fixture
async def client(server: LabServer) -> AsyncIterator[httpx.AsyncClient]:
    server.control.set_faults(FaultConfig())
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        yield http


async def test_login_dance_step_by_step_over_loopback(server: LabServer, client: httpx.AsyncClient) -> None:
    authorize = await client.get("/api/ui/auth/authorize", params={"fingerprint": FINGERPRINT})
    assert authorize.status_code == 200
    body = authorize.json()
    assert body["errors"] == [] and shape_mismatch(example("ui_auth_authorize.json"), body) is None
    location = httpx.URL(body["data"]["location"])
    assert (location.scheme, location.host, location.port) == ("http", "127.0.0.1", server.port)
    assert location.path == "/connect/authorize" and location.params["client_id"] == "sandbox"

    login = await client.post(location.copy_with(path="/ui/login", query=None), json={
        "username": LAB_CREDENTIALS["login"], "password": LAB_CREDENTIALS["password"], "authType": 0,
        "rememberLogin": True,
    })
    assert login.status_code == 200
    cookie = login.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "Path=/" in cookie and "domain" not in cookie.lower()
    assert client.cookies.get(SESSION_COOKIE)  # kept by the jar for the bare IP host

    hop = await client.get(location)
    assert hop.status_code == 302 and hop.headers["location"].startswith("/api/ui/auth/callback?code=")
    callback = await client.get(hop.headers["location"])
    assert callback.status_code == 200 and client.cookies.get(REFRESH_COOKIE)

    token = await client.post("/api/ui/auth/token", json={"fingerprint": FINGERPRINT})
    assert token.status_code == 200
    assert token.json()["errors"] == [] and shape_mismatch(example("ui_auth_token.json"), token.json()) is None
    access = token.json()["data"]["accessToken"]
    claims = json.loads(base64.urlsafe_b64decode(access.split(".")[1] + "=="))
    assert claims["sub"] == LAB_CREDENTIALS["login"]
    assert claims["exp"] - claims["iat"] == pytest.approx(480)

    tasks = await client.get("/api/ui/v2/tasks", headers={"Authorization": f"Bearer {access}"})
    assert tasks.status_code == 200 and len(tasks.json()["tasks"]) == 20


async def test_ldap_auth_type_and_follow_redirects_login(client: httpx.AsyncClient) -> None:
    token = await ui_login(client, auth_type=1)
    answer = await client.get("/api/ui/v2/tasks", params={"limit": 1}, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200


async def test_bad_credentials_are_refused_with_the_ui_envelope(client: httpx.AsyncClient) -> None:
    body = {"username": LAB_CREDENTIALS["login"], "password": "wrong", "authType": 0, "rememberLogin": True}
    refused = await client.post("/ui/login", json=body)
    assert refused.status_code == 401
    assert refused.json() == {"errors": [{"type": "HTTPUnauthorized", "message": "Invalid username or password"}]}
    assert SESSION_COOKIE not in client.cookies
    bad_type = await client.post("/ui/login", json={**body, "password": LAB_CREDENTIALS["password"], "authType": 7})
    assert bad_type.status_code == 400
    assert (await client.post("/ui/login", content=b"not json")).status_code == 400


async def test_each_step_needs_the_previous_one(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/ui/auth/authorize")).status_code == 400  # no fingerprint
    authorize = await client.get("/api/ui/auth/authorize", params={"fingerprint": FINGERPRINT})
    location = authorize.json()["data"]["location"]
    no_session = await client.get(location)
    assert no_session.status_code == 401
    assert (await client.post("/api/ui/auth/token", json={"fingerprint": FINGERPRINT})).status_code == 401
    await ui_login(client)
    wrong_fp = await client.post("/api/ui/auth/token", json={"fingerprint": "f" * 32})
    assert wrong_fp.status_code == 401 and "fingerprint" in wrong_fp.json()["errors"][0]["message"]
    first = await client.get(location)  # now with an IdP session: the state becomes a one-time code
    assert first.status_code == 302
    replayed = await client.get(location)
    assert replayed.status_code == 400 and "state" in replayed.json()["errors"][0]["message"]
    assert (await client.get(first.headers["location"])).status_code == 200
    assert (await client.get(first.headers["location"])).status_code == 400  # the code is one-time too


async def test_ui_needs_a_valid_bearer(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/ui/v2/tasks")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["errors"][0]["type"] == "HTTPUnauthorized" and "data" not in missing.json()
    token = await ui_login(client)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for header in (f"Bearer {forged}", "Bearer not.a.jwt", f"Token {token}"):
        assert (await client.get("/api/ui/v2/tasks", headers={"Authorization": header})).status_code == 401


async def test_tokens_expire_after_the_lab_ttl_and_refresh_with_the_cookie(
    server: LabServer, client: httpx.AsyncClient
) -> None:
    put = await client.put("/_lab/faults", json={"token_ttl_seconds": 0.3})
    assert put.status_code == 200
    token = await ui_login(client)
    auth = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/ui/v2/tasks", params={"limit": 1}, headers=auth)).status_code == 200
    await asyncio.sleep(0.35)
    expired = await client.get("/api/ui/v2/tasks", params={"limit": 1}, headers=auth)
    assert expired.status_code == 401 and expired.json()["errors"][0]["message"] == "access token expired"
    refreshed = await client.post("/api/ui/auth/token", json={"fingerprint": FINGERPRINT})
    fresh = {"Authorization": f"Bearer {refreshed.json()['data']['accessToken']}"}
    assert (await client.get("/api/ui/v2/tasks", params={"limit": 1}, headers=fresh)).status_code == 200


async def test_public_api_needs_the_api_key(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/maintenance/checkHealth")
    assert missing.status_code == 401
    assert missing.json() == {
        "data": {}, "errors": [{"type": "HTTPUnauthorized", "message": "X-Api-Key header required"}]
    }
    bad = await client.get("/api/v1/maintenance/getVersion", headers={"X-Api-Key": "nope"})
    assert bad.status_code == 401 and bad.json()["errors"][0]["message"] == "invalid API key"
    debug = await client.post("/api/debug/analysis/getHeaders", content=b"From: a@b\n\nbody")
    assert debug.status_code == 401
    health = await client.get("/api/v1/maintenance/checkHealth", headers=API_HEADERS)
    assert health.json() == {"data": {"status": "OK"}, "errors": []}
    version = await client.get("/api/v1/maintenance/getVersion", headers=API_HEADERS)
    assert version.json()["data"]["version"].startswith("5.") and version.json()["errors"] == []


async def test_fault_latency_over_loopback(server: LabServer, client: httpx.AsyncClient) -> None:
    server.control.set_faults(FaultConfig(latency_ms=150))
    started = time.monotonic()
    answer = await client.get("/api/v1/maintenance/checkHealth", headers=API_HEADERS)
    assert answer.status_code == 200 and time.monotonic() - started >= 0.15


async def test_fault_forced_503_with_retry_after_uses_the_vendor_envelope(client: httpx.AsyncClient) -> None:
    put = await client.put("/_lab/faults", json={"errors": {"503": 1.0}, "retry_after_seconds": 2})
    assert put.status_code == 200
    for path in ("/api/v1/maintenance/checkHealth", "/api/ui/v2/tasks"):
        answer = await client.get(path, headers=API_HEADERS)
        assert answer.status_code == 503 and answer.headers["retry-after"] == "2"
        assert answer.json() == {"data": {}, "errors": [
            {"type": "HTTPServiceUnavailable", "message": "lab fault: injected HTTP 503"}]}
    stats = (await client.get("/_lab/stats")).json()
    assert stats["injected_503"] >= 2


async def test_fault_dropped_connection(server: LabServer, client: httpx.AsyncClient) -> None:
    server.control.set_faults(FaultConfig(drop_rate=1.0))
    with pytest.raises(httpx.TransportError):
        await client.get("/api/v1/maintenance/checkHealth", headers=API_HEADERS)
    assert server.control.stats["dropped"] >= 1


async def test_faults_set_at_start_up() -> None:
    app = create_app({"task_count": 5}, faults=FaultConfig(errors={429: 1.0}, retry_after_seconds=3))
    with LabServer(app) as running:
        async with httpx.AsyncClient(base_url=running.base_url) as http:
            answer = await http.get("/api/v1/maintenance/checkHealth", headers=API_HEADERS)
    assert answer.status_code == 429 and answer.headers["retry-after"] == "3"
    assert answer.json()["errors"][0]["type"] == "HTTPTooManyRequests"
