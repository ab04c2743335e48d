"""The escalate-detection follow-up flow against the ThreatConnect emulator, under the Prefect harness."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from detonation_lab import LabBlocks, detonation_lab, reset_lab, save_lab_blocks

from prefect_soar.errors import BadInputError, NotFoundError
from prefect_soar.flows.escalate import escalate_detection
from prefect_soar.simulators.lab import Lab

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with detonation_lab() as running:
        yield running


@pytest.fixture
async def blocks(lab: Lab) -> LabBlocks:
    reset_lab(lab)
    return await save_lab_blocks(lab)


def open_task(lab: Lab):
    backend = lab["threatconnect"].backend
    return next(t for t in backend.tasks.values() if t.status != "Completed" and "escalated" not in t.tags)


async def test_dangerous_detection_is_escalated_once(lab, blocks):
    task = open_task(lab)
    before = time.time()
    out = await escalate_detection(
        threatconnect_task_id=task.id, verdict="DANGEROUS", sandbox_task="ptsandbox.task.abc",
        assignees=["analyst@lab.example"], due_in_hours=4, threatconnect_block=blocks.threatconnect,
    )
    assert out == {"task_id": task.id, "status": "escalated", "verdict": "DANGEROUS",
                   "sandbox_task": "ptsandbox.task.abc"}
    assert task.status == "In Progress" and "analyst@lab.example" in task.assignees
    assert task.tags[-1] == "escalated"
    assert task.due_date is not None and before + 3.9 * 3600 <= task.due_date <= time.time() + 4.1 * 3600

    again = await escalate_detection(threatconnect_task_id=task.id, verdict="DANGEROUS",
                                     threatconnect_block=blocks.threatconnect)
    assert again["status"] == "already-escalated"
    assert task.assignees.count("analyst@lab.example") == 1 and task.tags.count("escalated") == 1


async def test_other_verdicts_are_skipped_without_calling_threatconnect(lab, blocks):
    task = open_task(lab)
    status = task.status
    out = await escalate_detection(threatconnect_task_id=task.id, verdict="UNWANTED",
                                   threatconnect_block=blocks.threatconnect)
    assert out["status"] == "skipped" and task.status == status
    assert lab["threatconnect"].server.control.stats["requests"] == 0
    chosen = await escalate_detection(threatconnect_task_id=task.id, verdict="unwanted",
                                      escalate_verdicts=["UNWANTED", "DANGEROUS"],
                                      threatconnect_block=blocks.threatconnect)
    assert chosen["status"] == "escalated" and "escalated" in task.tags


async def test_failure_half_way_then_rerun_finishes_the_escalation(lab, blocks):
    task = open_task(lab)
    state = await escalate_detection(threatconnect_task_id=task.id, verdict="DANGEROUS",
                                     assignees=["ghost@lab.example"], threatconnect_block=blocks.threatconnect,
                                     return_state=True)
    assert state.is_failed()
    with pytest.raises(NotFoundError):
        await state.result()
    assert task.status == "In Progress", "the status was changed before the assignee failed"
    assert "escalated" not in task.tags, "the escalation is not marked done"

    out = await escalate_detection(threatconnect_task_id=task.id, verdict="DANGEROUS",
                                   assignees=["analyst@lab.example"], threatconnect_block=blocks.threatconnect)
    assert out["status"] == "escalated" and task.tags.count("escalated") == 1
    assert task.assignees.count("analyst@lab.example") == 1 and "ghost@lab.example" not in task.assignees


async def test_missing_task_id_is_bad_input(blocks):
    with pytest.raises(BadInputError, match="positive task id"):
        await escalate_detection(threatconnect_task_id=0, verdict="DANGEROUS", threatconnect_block=blocks.threatconnect)
