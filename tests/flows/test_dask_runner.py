"""The flows on prefect_dask.DaskTaskRunner (the ``[dask]`` extra) with a local in-process cluster, against the lab."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from detonation_lab import LabBlocks, detonation_lab, public_scans, reset_lab, save_lab_blocks, tc_tasks
from prefect import flow

from prefect_soar.blocks.ptsandbox import PTSandboxCredentials
from prefect_soar.blocks.threatconnect import ThreatConnectCredentials
from prefect_soar.flows._common import load_block
from prefect_soar.flows._detonation import resolve_target, task_spec, url_sha256
from prefect_soar.flows.detonate import detonate_and_report
from prefect_soar.simulators.lab import Lab
from prefect_soar.tasks.ptsandbox import ptsandbox_scan_url, ptsandbox_wait_for_report
from prefect_soar.tasks.threatconnect import upsert_tasks

prefect_dask = pytest.importorskip(
    "prefect_dask", reason="prefect-dask is not installed: pip install 'prefect-soar[dask]'"
)

pytestmark = pytest.mark.usefixtures("prefect_harness")

CLUSTER = {"n_workers": 1, "threads_per_worker": 2, "processes": False, "dashboard_address": None}
URLS = ["https://evil.example.net/a", "https://malware.example.org/b", "https://intranet.example.org/c"]


def dask_runner() -> Any:
    return prefect_dask.DaskTaskRunner(cluster_kwargs=dict(CLUSTER))


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with detonation_lab() as running:
        yield running


@pytest.fixture
async def blocks(lab: Lab) -> LabBlocks:
    reset_lab(lab)
    return await save_lab_blocks(lab)


async def test_detonation_flow_runs_on_a_dask_task_runner(lab, blocks, tmp_path: Path):
    sample = tmp_path / "dropper.bin"
    sample.write_bytes(b"UNWANTED adware bundle")
    on_dask = detonate_and_report.with_options(task_runner=dask_runner())
    out = await on_dask(file_path=str(sample), tags=["dask"], **blocks.params())
    assert out["verdict"] == "UNWANTED" and out["status"] == "recorded"
    [task] = tc_tasks(lab, f"detonation:{hashlib.sha256(sample.read_bytes()).hexdigest()}")
    assert {"UNWANTED", "dask", "pt-sandbox"} <= set(task.tags)


@flow(name="detonate-many-on-dask")
async def detonate_many(urls: list[str], sandbox_block: str, threatconnect_block: str) -> dict[str, Any]:
    """Detonate several URLs at once: scans and waits fan out to the Dask cluster, then one batch upsert."""
    from prefect_dask.task_runners import PrefectDaskFuture

    sandbox = await load_block(PTSandboxCredentials, sandbox_block)
    tc = await load_block(ThreatConnectCredentials, threatconnect_block)
    targets = [await resolve_target(None, url, 1) for url in urls]
    scans = [ptsandbox_scan_url.submit(sandbox, t.value) for t in targets]
    waits = [ptsandbox_wait_for_report.submit(sandbox, str(f.result().scan_id), timeout=30, poll=0.05) for f in scans]
    reports = [f.result() for f in waits]
    specs = [task_spec(t, r, tags=["dask-batch"], requested_by="", security_label=None, status="")
             for t, r in zip(targets, reports, strict=True)]
    upserted = upsert_tasks.submit(tc, specs, concurrency=4)
    futures = [*scans, *waits, upserted]
    return {"on_dask": all(isinstance(f, PrefectDaskFuture) for f in futures),
            "verdicts": [str(r.verdict) for r in reports], "upserted": upserted.result()}


async def test_batch_tasks_fan_out_on_a_local_dask_cluster(lab, blocks):
    out = await detonate_many.with_options(task_runner=dask_runner())(
        URLS, blocks.ptsandbox, blocks.threatconnect
    )
    assert out["on_dask"], "every submitted task ran through the Dask task runner"
    assert out["verdicts"] == ["DANGEROUS", "DANGEROUS", "CLEAN"]
    assert [r.created for r in out["upserted"]] == [True, True, True]
    assert len(public_scans(lab)) == 3
    for url, result in zip(URLS, out["upserted"], strict=True):
        [task] = tc_tasks(lab, f"detonation:url:{url_sha256(url)}")
        assert task.id == result.task_id and "dask-batch" in task.tags
