"""The Acronis emulator's backend without HTTP: seeded data, clock, reset, Go time parsing; the Lab runner."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from prefect_soar.simulators.acronis import AcronisLabSettings, create_app
from prefect_soar.simulators.acronis_backend import AcronisAPIError, format_ns, parse_go_time
from prefect_soar.simulators.lab import Lab

from .conftest import LAB_NOW

NS = 10**9


def snapshot_of(settings: AcronisLabSettings) -> list[dict]:
    backend = create_app(settings).state.backend
    now = backend.now_ns()
    return [task.snapshot(now) for task in backend.tasks if task.visible(now)]


def test_the_data_set_is_deterministic_per_seed_and_sized_by_task_count() -> None:
    base = AcronisLabSettings(now=LAB_NOW, task_count=120)
    assert snapshot_of(base) == snapshot_of(base)
    assert snapshot_of(base) != snapshot_of(base.model_copy(update={"seed": 5}))
    backend = create_app(base).state.backend
    assert len(backend.tasks) == 120
    ids = [t.id for t in backend.tasks]
    assert ids == sorted(ids) and len(set(ids)) == 120 and ids[0] > 2**53
    assert [t.enqueued for t in backend.tasks] == sorted(t.enqueued for t in backend.tasks)  # ids grow with time
    states = {t.snapshot(backend.now_ns())["state"] for t in backend.tasks if t.visible(backend.now_ns())}
    assert {"completed", "started"} <= states
    codes = {t.result["code"] for t in backend.tasks if t.result}
    assert codes == {"ok", "error", "warning", "cancelled", "abandoned", "timedout"}
    assert any(t.type == "backup" and t.result and t.result["code"] == "error" for t in backend.tasks)


def test_naive_clock_override_means_utc_and_reset_restores_clock_and_data() -> None:
    settings = AcronisLabSettings(now=datetime(2024, 5, 1, 12, 0), task_count=40)
    assert settings.now == LAB_NOW
    backend = create_app(settings).state.backend
    start = backend.now_ns()
    assert start == int(LAB_NOW.timestamp()) * NS
    before = [t.snapshot(start) for t in backend.tasks if t.visible(start)]
    backend.advance(86400)
    assert backend.now_ns() == start + 86400 * NS
    backend.tasks.pop()
    backend.reset()
    assert backend.now_ns() == start
    assert [t.snapshot(start) for t in backend.tasks if t.visible(start)] == before


def test_a_wall_clock_lab_moves_on_its_own() -> None:
    backend = create_app(AcronisLabSettings(task_count=3)).state.backend
    first = backend.now_ns()
    assert backend.now_ns() >= first
    assert abs(first - datetime.now(UTC).timestamp() * NS) < 5 * NS


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2024-05-01T12:00:00Z", 1714564800),
        ("2024-05-01T14:00:00+02:00", 1714564800),
        ("Wed, 01 May 2024 12:00:00 GMT", 1714564800),
        ("wed, 01 may 2024 12:00:00 UTC", 1714564800),
        ("Wed, 01 May 2024 15:00:00 GMT+3", 1714564800),
        ("Wednesday, 01-May-24 12:00:00 GMT", 1714564800),
        ("Wed May  1 12:00:00 2024", 1714564800),
        ("1714564800", 1714564800),
        ("1714564800000000000ns", 1714564800),
    ],
)
def test_go_time_parsing(text: str, seconds: int) -> None:
    assert parse_go_time(text) == seconds * NS


@pytest.mark.parametrize("text", ["2024-05-01", "2024-05-01T12:00:00", "Wed, 01 May 2024 12:00:00 gmt",
                                  "Wed, 01 May 2024 12:00:00 TOOLONGT", "1714564800000", "12ns3", "²"])
def test_go_time_parsing_rejects(text: str) -> None:
    with pytest.raises(AcronisAPIError) as caught:
        parse_go_time(text, "startedAt")
    assert caught.value.status == 400 and caught.value.details == {"parameter": "startedAt", "value": text}


def test_format_ns_keeps_nanoseconds() -> None:
    assert format_ns(1714564800 * NS + 7) == "2024-05-01T12:00:00.000000007Z"
    assert parse_go_time(format_ns(1714564800 * NS + 123_456_789)) == 1714564800 * NS + 123_456_789


async def test_the_lab_runner_serves_the_acronis_emulator_alone() -> None:
    with Lab(services=["acronis"], settings={"acronis": AcronisLabSettings(task_count=7, now=LAB_NOW)}) as lab:
        service = lab["acronis"]
        assert set(service.credentials) == {"client_id", "client_secret"}
        assert len(service.backend.tasks) == 7
        async with httpx.AsyncClient(base_url=service.base_url) as http:
            response = await http.post("/api/2/idp/token", data={"grant_type": "client_credentials"},
                                       auth=(service.credentials["client_id"], service.credentials["client_secret"]))
    assert response.status_code == 200 and response.json()["token_type"] == "bearer"
