"""Escalate a sandbox detection: the follow-up that the ``prefect-soar.sandbox.detection`` event triggers.

The ``escalate-detection/on-detection`` deployment runs this flow for every detection the triage
flow records; its trigger passes ``threatconnect_task_id`` and ``verdict`` from the event's payload
and the sandbox task from its resource id. Detections with a verdict in ``escalate_verdicts`` get
their ThreatConnect task moved to a working status, assigned, given a due date and tagged
``escalated``; the tag is added last and marks the task as done, so a repeated event (or a re-run)
escalates a task once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from prefect_soar.blocks.threatconnect import ThreatConnectCredentials
from prefect_soar.errors import BadInputError
from prefect_soar.flows._common import load_block, markdown_table, publish_summary
from prefect_soar.tasks.threatconnect import transient_failure

DETECTION_EVENT = "prefect-soar.sandbox.detection"
ARTIFACT_KEY = "escalate-detection"


@task(
    name="threatconnect-escalate-task",
    description="Move a ThreatConnect task to a working status, assign it, set its due date and tag it.",
    retries=1,
    retry_delay_seconds=[2.0],
    retry_condition_fn=transient_failure,
    cache_policy=NO_CACHE,
)
async def escalate_threatconnect_task(
    credentials: ThreatConnectCredentials,
    task_id: int,
    status: str,
    due_date: datetime,
    assignees: list[str],
    escalation_tag: str,
) -> dict[str, Any]:
    """Escalate one task unless it already carries ``escalation_tag`` (added last, so re-runs finish the job).

    Args:
        credentials: The ThreatConnect credentials block.
        task_id: The task id.
        status: New status, e.g. In Progress.
        due_date: New due date.
        assignees: User names to assign.
        escalation_tag: Tag marking the task as escalated.
    """
    logger = get_run_logger()
    async with credentials.get_client() as client:
        current = await client.get_task(task_id, includes=["tags"])
        if escalation_tag in {t.name for t in current.tag}:
            logger.info("task %s is already escalated", task_id)
            return {"task_id": task_id, "status": "already-escalated"}
        await client.update_task(task_id, status=status, due_date=due_date)
        for user in assignees:
            await client.add_assignee(task_id, user)
        await client.add_tag(task_id, escalation_tag)
    logger.info("task %s escalated: %s, %d assignee(s)", task_id, status, len(assignees))
    return {"task_id": task_id, "status": "escalated"}


@flow(name="escalate-detection")
async def escalate_detection(
    threatconnect_task_id: int,
    verdict: str = "",
    sandbox_task: str = "",
    escalate_verdicts: list[str] | None = None,
    assignees: list[str] | None = None,
    status: str = "In Progress",
    due_in_hours: float = 24.0,
    escalation_tag: str = "escalated",
    threatconnect_block: str = "threatconnect",
) -> dict[str, Any]:
    """Escalate the ThreatConnect task of a sandbox detection when its verdict calls for it.

    Args:
        threatconnect_task_id: The ThreatConnect task the triage recorded (the event's payload).
        verdict: The detection's verdict, e.g. DANGEROUS.
        sandbox_task: The sandbox task's resource id (ptsandbox.task.<uuid>), for the summary.
        escalate_verdicts: Verdicts that are escalated; empty means DANGEROUS only.
        assignees: ThreatConnect user names to assign, e.g. the on-call analyst.
        status: Status to set: In Progress, Waiting on Someone, Deferred, Not Started or Completed.
        due_in_hours: Due date, in hours from now.
        escalation_tag: Tag that marks the task as escalated (added last).
        threatconnect_block: Name of the saved ThreatConnect Credentials block.

    Returns:
        The task id and what was done: escalated, already-escalated or skipped.
    """
    if threatconnect_task_id < 1:
        raise BadInputError("threatconnect_task_id must be a positive task id", service="threatconnect")
    wanted = {v.strip().upper() for v in escalate_verdicts or ["DANGEROUS"] if v.strip()}
    if verdict.strip().upper() not in wanted:
        get_run_logger().info("verdict %s is not escalated (%s)", verdict or "unknown", ", ".join(sorted(wanted)))
        outcome: dict[str, Any] = {"task_id": threatconnect_task_id, "status": "skipped"}
    else:
        creds = await load_block(ThreatConnectCredentials, threatconnect_block)
        due = datetime.now(UTC) + timedelta(hours=due_in_hours)
        outcome = await escalate_threatconnect_task(
            creds, threatconnect_task_id, status, due, [a for a in assignees or [] if a.strip()], escalation_tag
        )
    row = {"threatconnect_task": threatconnect_task_id, "sandbox_task": sandbox_task, "verdict": verdict,
           "status": outcome["status"]}
    await publish_summary(
        ARTIFACT_KEY, [row], f"# Detection follow-up\n\n{markdown_table([row], list(row))}",
        description="Escalation of a sandbox detection's ThreatConnect task",
    )
    return {**outcome, "verdict": verdict, "sandbox_task": sandbox_task}
