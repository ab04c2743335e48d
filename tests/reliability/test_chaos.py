"""Chaos run: the triage flow under faults on both services loses nothing and duplicates nothing.

PT Sandbox and ThreatConnect each inject 10% 5xx (500/502/503/504), 5% 429 with ``Retry-After``,
2% dropped connections, 1-3 ms of latency, and tokens that expire every 30 s (PT Sandbox's UI bearer
tokens; ThreatConnect is signed with HMAC, which has no token to expire). The flow triages
all 300 sandbox tasks of a 300-task lab (``query=""`` with a look-back longer than the lab's
30-day spread) and must leave exactly 300 complete ThreatConnect tasks and the watermark at the
newest sandbox task; a second run under the same faults creates nothing. It is meant to finish in
one run; should items exhaust their attempts (the run ends failed and the watermark stops before
them), the test runs it again, three runs at most, and checks the final state just as strictly.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from prefect_soar.blocks.ptsandbox import PTSandboxCredentials
from prefect_soar.blocks.threatconnect import ThreatConnectCredentials
from prefect_soar.flows.sandbox_triage import sandbox_triage
from prefect_soar.flows.watermark import load_watermark
from prefect_soar.simulators._lab import FaultConfig
from prefect_soar.simulators.lab import Lab

from .triage_state import LOOKBACK_HOURS, assert_complete, expected_tasks, triage_tasks

pytestmark = pytest.mark.usefixtures("prefect_harness")

TASKS = 300
MAX_RUNS = 3
CHAOS = FaultConfig(
    latency_ms=1,
    latency_jitter_ms=2,
    errors={500: 0.025, 502: 0.025, 503: 0.025, 504: 0.025, 429: 0.05},
    retry_after_seconds=0.1,
    drop_rate=0.02,
    token_ttl_seconds=30,
)


@pytest.fixture(scope="module")
def chaos_lab() -> Iterator[Lab]:
    settings = {"ptsandbox": {"task_count": TASKS, "scan_seconds": 0}}
    with Lab(services=["ptsandbox", "threatconnect"], settings=settings) as lab:
        yield lab


async def save_blocks(lab: Lab) -> tuple[str, str]:
    pt, tc = lab["ptsandbox"], lab["threatconnect"]
    suffix = uuid.uuid4().hex[:8]
    await PTSandboxCredentials(
        base_url=pt.base_url, login=pt.credentials["login"], password=SecretStr(pt.credentials["password"])
    ).save(f"chaos-pt-{suffix}")
    await ThreatConnectCredentials(
        base_url=f"{tc.base_url}/api", access_id=tc.credentials["access_id"],
        secret_key=SecretStr(tc.credentials["secret_key"]), default_owner=tc.credentials["default_owner"],
    ).save(f"chaos-tc-{suffix}")
    return f"chaos-pt-{suffix}", f"chaos-tc-{suffix}"


async def run_until_done(run: Callable[[], Awaitable[dict[str, Any]]]) -> tuple[dict[str, Any], list[str]]:
    """Run the flow; when items exhausted their attempts (the run fails, the watermark stops before
    them) run it again, at most three runs in all. Returns the last summary and the failures."""
    failures: list[str] = []
    for _ in range(MAX_RUNS - 1):
        try:
            return await run(), failures
        except RuntimeError as exc:
            assert "could not be triaged" in str(exc), exc
            failures.append(str(exc)[:300])
    return await run(), failures


async def test_chaos_run_is_exactly_once(chaos_lab: Lab, tmp_path: Path) -> None:
    expected = await expected_tasks(chaos_lab)
    assert len(expected) == TASKS, "query='' with the long look-back matches every sandbox task"
    sandbox_block, tc_block = await save_blocks(chaos_lab)
    watermark = f"chaos-run-{uuid.uuid4().hex[:8]}"
    chaos_lab["ptsandbox"].server.control.set_faults(CHAOS.model_copy(update={"seed": 1}))
    chaos_lab["threatconnect"].server.control.set_faults(CHAOS.model_copy(update={"seed": 2}))

    async def run() -> dict[str, Any]:
        return await sandbox_triage(
            sandbox_block=sandbox_block, threatconnect_block=tc_block, query="",
            first_run_lookback_hours=LOOKBACK_HOURS, max_items=1000, page_size=100, concurrency=16,
            artifact_dir=str(tmp_path / "store"), max_scanned_artifacts=1, watermark=watermark,
        )

    try:
        started = time.monotonic()
        first, failed_runs = await run_until_done(run)
        print(f"chaos run: {time.monotonic() - started:.1f}s, {len(failed_runs)} run(s) ended failed: {failed_runs}")
        if not failed_runs:
            assert first["processed"] == first["created"] == TASKS
        assert_complete(chaos_lab, expected, await load_watermark(watermark))
        before = {marker: task.id for marker, task in triage_tasks(chaos_lab).items()}

        second = await run()
        assert second["processed"] == second["created"] == 0
        assert {marker: task.id for marker, task in triage_tasks(chaos_lab).items()} == before
        assert_complete(chaos_lab, expected, await load_watermark(watermark))
    finally:
        stats = [dict(chaos_lab[s].server.control.stats) for s in ("ptsandbox", "threatconnect")]
        for service in ("ptsandbox", "threatconnect"):
            chaos_lab[service].server.control.set_faults(FaultConfig())
    for counters in stats:
        injected = sum(v for k, v in counters.items() if k.startswith("injected_"))
        assert injected > 0.1 * counters["requests"] and counters["dropped"] > 0, f"faults were injected: {counters}"
