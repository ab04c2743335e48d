"""The lab layer: fault injection over real loopback HTTP, control endpoints, TLS."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from prefect_soar._http import HTTPConfig, HTTPCore, RetryPolicy
from prefect_soar.errors import ServerError, TransportError
from prefect_soar.simulators._lab import FaultConfig, LabControl, LabServer, install_lab
from prefect_soar.simulators._tls import make_lab_certificates


def make_app(faults: FaultConfig | None = None) -> FastAPI:
    app = FastAPI()
    state = {"resets": 0}

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    def reset() -> None:
        state["resets"] += 1

    app.state.backend = state
    return install_lab(app, LabControl(faults, reset=reset), error_body=lambda status, msg: {"oops": msg})


@pytest.fixture
def server():
    with LabServer(make_app()) as running:
        yield running


async def test_control_endpoints_change_faults_and_reset(server):
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        assert (await client.get("/ping")).json() == {"pong": "yes"}
        put = await client.put("/_lab/faults", json={"errors": {"503": 1.0}, "retry_after_seconds": 2})
        assert put.status_code == 200
        faulted = await client.get("/ping")
        assert faulted.status_code == 503
        assert faulted.headers["retry-after"] == "2"
        assert faulted.json() == {"oops": "lab fault: injected HTTP 503"}
        assert (await client.get("/_lab/faults")).json()["errors"] == {"503": 1.0}
        stats = (await client.get("/_lab/stats")).json()
        assert stats["requests"] == 2 and stats["injected_503"] == 1
        assert (await client.post("/_lab/reset")).status_code == 200
    assert server.app.state.backend["resets"] == 1


async def test_dropped_connection_is_a_transport_error(server):
    server.control.set_faults(FaultConfig(drop_rate=1.0))
    http = HTTPCore("lab", HTTPConfig(server.base_url, retry=RetryPolicy(max_attempts=2, backoff_base=0.001)))
    with pytest.raises(TransportError):
        await http.request("GET", "/ping")
    await http.aclose()
    assert server.control.stats["dropped"] == 2


async def test_client_rides_through_a_mix_of_faults(server):
    server.control.set_faults(FaultConfig(errors={503: 0.2, 429: 0.1}, drop_rate=0.05, retry_after_seconds=0, seed=7))
    http = HTTPCore("lab", HTTPConfig(server.base_url, retry=RetryPolicy(max_attempts=8, backoff_base=0.001)))
    for _ in range(60):
        assert (await http.get_json("/ping")) == {"pong": "yes"}
    await http.aclose()
    injected = sum(v for k, v in server.control.stats.items() if k.startswith("injected") or k == "dropped")
    assert injected > 0


async def test_errors_after_retries_are_typed(server):
    server.control.set_faults(FaultConfig(errors={502: 1.0}))
    http = HTTPCore("lab", HTTPConfig(server.base_url, retry=RetryPolicy(max_attempts=2, backoff_base=0.001)))
    with pytest.raises(ServerError):
        await http.request("GET", "/ping")
    await http.aclose()


def test_fault_draws_are_seeded():
    a = LabControl(FaultConfig(errors={500: 0.5}, seed=3))
    b = LabControl(FaultConfig(errors={500: 0.5}, seed=3))
    assert [a.draw() for _ in range(20)] == [b.draw() for _ in range(20)]


def test_token_ttl_override():
    control = LabControl(FaultConfig(token_ttl_seconds=30))
    assert control.token_ttl(480) == 30
    assert LabControl().token_ttl(480) == 480


async def test_tls_lab_refused_by_default_accepted_with_ca(tmp_path):
    certs = make_lab_certificates(tmp_path)
    with LabServer(make_app(), certfile=str(certs.cert), keyfile=str(certs.key)) as server:
        assert server.base_url.startswith("https://")
        strict = HTTPCore("lab", HTTPConfig(server.base_url, retry=RetryPolicy(max_attempts=1)))
        with pytest.raises(TransportError, match=r"CA bundle|certificate"):
            await strict.request("GET", "/ping")
        await strict.aclose()
        trusting = HTTPCore("lab", HTTPConfig(server.base_url, verify=str(certs.ca)))
        assert await trusting.get_json("/ping") == {"pong": "yes"}
        await trusting.aclose()


async def test_tls_failure_is_not_retried(tmp_path):
    certs = make_lab_certificates(tmp_path)
    with LabServer(make_app(), certfile=str(certs.cert), keyfile=str(certs.key)) as server:
        strict = HTTPCore("lab", HTTPConfig(server.base_url, retry=RetryPolicy(max_attempts=5, backoff_base=5)))
        with pytest.raises(TransportError, match="ca_bundle"):
            await strict.request("GET", "/ping")  # with 5 s backoff a retry would stall the test
        await strict.aclose()
        assert server.control.stats["requests"] == 0
