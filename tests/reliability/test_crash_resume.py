"""Crash and resume: the triage flow's process is killed (SIGKILL) at a random point; a re-run ends clean.

The lab (PT Sandbox with 90 tasks, all matched by ``query=""``; ThreatConnect) runs in the test
process and keeps its state across the kill; the flow runs in a child process against the test's
Prefect server (blocks and the watermark live there). For each seed the child is killed once
ThreatConnect holds a seeded-random number of triage tasks, plus a seeded-random few
milliseconds, so the kill lands in the first, second or last page: mid-request, between a
task's create and its commit mark, or just after a watermark save. The re-run must leave
exactly the state of a clean run: one complete task per sandbox task, the watermark at the
newest, one intact archive per task in the artifact store (a download the kill cut short leaves
only its hidden ``.part`` temporary file behind, never a partial archive under the final name).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect.settings import PREFECT_API_URL
from pydantic import SecretStr

from prefect_soar.blocks.ptsandbox import PTSandboxCredentials
from prefect_soar.blocks.threatconnect import ThreatConnectCredentials
from prefect_soar.flows.sandbox_triage import sandbox_triage
from prefect_soar.flows.watermark import load_watermark
from prefect_soar.simulators.lab import Lab

from .triage_state import LOOKBACK_HOURS, Expected, assert_complete, expected_tasks, triage_tasks

pytestmark = pytest.mark.usefixtures("prefect_harness")

TASKS = 90
PAGE_SIZE = 30
SEEDS = (1, 3, 6)  # kill after 18, 31 and 74 ThreatConnect tasks: pages 1, 2 and 3
SCRIPT = Path(__file__).with_name("triage_process.py")
START_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def crash_lab() -> Iterator[Lab]:
    settings = {"ptsandbox": {"task_count": TASKS, "scan_seconds": 0}}
    with Lab(services=["ptsandbox", "threatconnect"], settings=settings) as lab:
        yield lab


@pytest.fixture(scope="module")
async def expected(crash_lab: Lab) -> dict[str, Expected]:
    found = await expected_tasks(crash_lab)
    assert len(found) == TASKS, "query='' with the long look-back matches every sandbox task"
    return found


@pytest.fixture(scope="module")
async def blocks(crash_lab: Lab) -> tuple[str, str]:
    pt, tc = crash_lab["ptsandbox"], crash_lab["threatconnect"]
    suffix = uuid.uuid4().hex[:8]
    await PTSandboxCredentials(
        base_url=pt.base_url, login=pt.credentials["login"], password=SecretStr(pt.credentials["password"])
    ).save(f"crash-pt-{suffix}")
    await ThreatConnectCredentials(
        base_url=f"{tc.base_url}/api", access_id=tc.credentials["access_id"],
        secret_key=SecretStr(tc.credentials["secret_key"]), default_owner=tc.credentials["default_owner"],
    ).save(f"crash-tc-{suffix}")
    return f"crash-pt-{suffix}", f"crash-tc-{suffix}"


def child_env() -> dict[str, str]:
    """The environment of the flow process: the test's Prefect server, quiet logs, no test mode."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_TEST_MODE"}
    api_url = PREFECT_API_URL.value()
    assert api_url, "the Prefect test harness sets PREFECT_API_URL"
    env.update(PREFECT_API_URL=api_url, PREFECT_LOGGING_LEVEL="WARNING", PREFECT_SERVER_ANALYTICS_ENABLED="false")
    return env


async def kill_when(lab: Lab, child: subprocess.Popen[bytes], count: int, extra_seconds: float, log: Path) -> None:
    """SIGKILL the child once ThreatConnect holds ``count`` triage tasks, plus ``extra_seconds``."""
    deadline = time.monotonic() + START_TIMEOUT
    while len(triage_tasks(lab)) < count:
        assert child.poll() is None, f"the flow ended before the kill point: {log.read_text()[-2000:]}"
        assert time.monotonic() < deadline, f"no progress to {count} tasks: {log.read_text()[-2000:]}"
        await asyncio.sleep(0.002)
    await asyncio.sleep(extra_seconds)
    assert child.poll() is None, "the flow finished before it could be killed"
    child.send_signal(signal.SIGKILL)


@pytest.mark.parametrize("seed", SEEDS)
async def test_killed_run_resumes_to_the_clean_state(
    crash_lab: Lab, expected: dict[str, Expected], blocks: tuple[str, str], tmp_path: Path, seed: int
) -> None:
    crash_lab["threatconnect"].server.control.reset()
    rng = random.Random(seed)
    kill_at, extra = rng.randint(1, TASKS - 16), rng.uniform(0, 0.05)
    store = tmp_path / "store"
    kwargs: dict[str, Any] = {
        "sandbox_block": blocks[0], "threatconnect_block": blocks[1], "query": "",
        "first_run_lookback_hours": LOOKBACK_HOURS, "max_items": 1000, "page_size": PAGE_SIZE,
        "concurrency": 8, "artifact_dir": str(store), "max_scanned_artifacts": 1,
        "watermark": f"crash-resume-{seed}-{uuid.uuid4().hex[:6]}",
    }
    log = tmp_path / "flow-process.log"
    with log.open("wb") as out:
        child = subprocess.Popen(
            [sys.executable, str(SCRIPT), json.dumps(kwargs)], env=child_env(), stdout=out, stderr=subprocess.STDOUT
        )
        try:
            await kill_when(crash_lab, child, kill_at, extra, log)
        finally:
            if child.poll() is None:
                child.kill()
            child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    await asyncio.sleep(0.3)  # let the lab finish a request the child sent just before it died
    left = triage_tasks(crash_lab)
    half_mark = await load_watermark(kwargs["watermark"])
    assert kill_at <= len(left) < TASKS and half_mark.processed < TASKS, "the kill landed mid-run"
    half_built = [m for m, t in left.items() if f"ext:{m}" not in t.tags]
    print(f"seed {seed}: killed after {len(left)} ThreatConnect tasks ({len(half_built)} half-built), "
          f"watermark over {half_mark.processed}")

    summary = await sandbox_triage(**kwargs)

    assert summary["processed"] == TASKS - half_mark.processed, "the re-run starts at the saved watermark"
    assert summary["created"] == TASKS - len(left), "what the killed run created is found, not created again"
    assert_complete(crash_lab, expected, await load_watermark(kwargs["watermark"]))
    files = {p.relative_to(store).as_posix() for p in store.rglob("*") if p.is_file()}
    archives = {f"{s[:2]}/{s}.zip" for s in expected}
    assert archives <= files and all(zipfile.is_zipfile(store / a) for a in archives), "one whole archive per task"
    # A download cut by the kill leaves its hidden temporary file (never a partial file under the final name).
    debris = files - archives
    assert all(re.fullmatch(r"[0-9a-f]{2}/\.([0-9a-f-]{36})\.zip\.[^/]+\.part", f) for f in debris), debris
