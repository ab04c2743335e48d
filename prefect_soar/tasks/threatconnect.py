"""Prefect tasks for ThreatConnect Tasks: one per client operation, plus a batch upsert.

Every task takes the :class:`~prefect_soar.blocks.threatconnect.ThreatConnectCredentials` block
first, opens one client for its run, logs ids and counts only, and returns models or plain data.
Reads and idempotent writes are retried by Prefect on transport errors, 429 and 5xx only (the
HTTP core already retries those inside the run); creating a task or adding an attribute is not
retried, since a repeat would duplicate it. Use :func:`find_or_create_task` /
:func:`upsert_tasks` when a flow may run twice for the same item.
"""

from __future__ import annotations

import asyncio
from typing import Any

from prefect import get_run_logger, task
from prefect.client.schemas.objects import TaskRun
from prefect.states import State

from prefect_soar.blocks.threatconnect import ThreatConnectCredentials
from prefect_soar.clients.threatconnect import TaskFilter, raise_for_failures
from prefect_soar.errors import RateLimitedError, ServerError, SoarError, TransportError
from prefect_soar.models.threatconnect import (
    Attribute,
    AttributeSpec,
    CreateTaskResult,
    Group,
    GroupRef,
    Indicator,
    IndicatorRef,
    SecurityLabel,
    Tag,
    Task,
    TaskSpec,
    TaskUpsertResult,
    User,
    Victim,
)

READ_RETRIES = 2
RETRY_DELAYS = [2, 10]


def transient_failure(task: Any, task_run: TaskRun, state: State[Any]) -> bool:
    """Retry condition: only transport errors, 429 and 5xx (never bad input, auth or 404)."""
    error = state.data
    return isinstance(error, TransportError | RateLimitedError | ServerError)


_READ: dict[str, Any] = {
    "retries": READ_RETRIES, "retry_delay_seconds": RETRY_DELAYS, "retry_condition_fn": transient_failure,
}
_IDEMPOTENT_WRITE: dict[str, Any] = {
    "retries": 1, "retry_delay_seconds": RETRY_DELAYS, "retry_condition_fn": transient_failure,
}
_ONCE: dict[str, Any] = {"retries": 0}


# -- connectivity ---------------------------------------------------------------------------


@task(name="threatconnect-check-connection", description="Check the ThreatConnect credentials.", **_READ)
async def check_connection(credentials: ThreatConnectCredentials) -> str:
    """Make one cheap authenticated call; return ``"ok"`` or fail with a typed error.

    Args:
        credentials: The ThreatConnect credentials block.
    """
    result = await credentials.test_connection()
    get_run_logger().info("threatconnect connection ok")
    return result


# -- tasks ----------------------------------------------------------------------------------


@task(name="threatconnect-get-task", description="Get one ThreatConnect task.", **_READ)
async def get_task(
    credentials: ThreatConnectCredentials, task_id: int, owner: str | None = None, includes: list[str] | None = None
) -> Task:
    """Get one task by id.

    Args:
        credentials: The ThreatConnect credentials block.
        task_id: The task id.
        owner: The task's owner (default: the block's default owner).
        includes: Extra data: additional, attributes, labels, tags.
    """
    async with credentials.get_client() as client:
        found = await client.get_task(task_id, owner=owner, includes=includes or ())
    get_run_logger().info("fetched task %s", found.id)
    return found


@task(name="threatconnect-list-tasks", description="List ThreatConnect tasks by filter sets.", **_READ)
async def list_tasks(
    credentials: ThreatConnectCredentials,
    filters: list[TaskFilter] | None = None,
    max_items: int | None = 1000,
    page_size: int = 100,
) -> list[Task]:
    """List tasks matching filter sets (API filters, server filters, post filters; AND/OR between sets).

    Args:
        credentials: The ThreatConnect credentials block.
        filters: Filter sets; empty lists every task of the default owner.
        max_items: Return at most this many tasks (empty for no cap).
        page_size: Tasks per request (1 to 10,000).
    """
    async with credentials.get_client() as client:
        found = await client.list_tasks(*(filters or []), page_size=page_size, max_items=max_items)
    get_run_logger().info("listed %d task(s)", len(found))
    return found


@task(name="threatconnect-create-task", description="Create a ThreatConnect task with its metadata.", **_ONCE)
async def create_task(
    credentials: ThreatConnectCredentials,
    name: str,
    status: str | None = None,
    due_date: str | None = None,
    reminder_date: str | None = None,
    escalation_date: str | None = None,
    description: str | None = None,
    assignees: list[str] | None = None,
    escalatees: list[str] | None = None,
    attributes: list[AttributeSpec] | None = None,
    tags: list[str] | None = None,
    security_labels: list[str] | None = None,
    owner: str | None = None,
    groups: list[GroupRef] | None = None,
    indicators: list[IndicatorRef] | None = None,
    victims: list[int] | None = None,
    fail_on_partial: bool = False,
) -> CreateTaskResult:
    """Create a task, then add its attributes, tags, labels and associations (build, then commit).

    Args:
        credentials: The ThreatConnect credentials block.
        name: Task name.
        status: Not Started, In Progress, Completed, Waiting on Someone or Deferred.
        due_date: Due date, ISO-8601.
        reminder_date: Reminder date, ISO-8601.
        escalation_date: Escalation date, ISO-8601.
        description: Description.
        assignees: User names to assign.
        escalatees: User names to escalate to.
        attributes: Attributes to add.
        tags: Tags to apply.
        security_labels: Existing security labels to apply.
        owner: Owner to create in (default: the block's default owner).
        groups: Groups to associate.
        indicators: Indicators to associate.
        victims: Victim ids to associate.
        fail_on_partial: Fail the run when a sub-step failed (the task still exists).
    """
    async with credentials.get_client() as client:
        result = await client.create_task(
            name, status=status, due_date=due_date, reminder_date=reminder_date, escalation_date=escalation_date,
            description=description, assignees=assignees, escalatees=escalatees, attributes=attributes, tags=tags,
            security_labels=security_labels, owner=owner, groups=groups, indicators=indicators, victims=victims,
        )
    logger = get_run_logger()
    logger.info("created task %s; %d sub-step(s) failed", result.task.id, len(result.failures))
    return raise_for_failures(result) if fail_on_partial else result


@task(name="threatconnect-update-task", description="Update a ThreatConnect task's fields.", **_IDEMPOTENT_WRITE)
async def update_task(
    credentials: ThreatConnectCredentials,
    task_id: int,
    name: str | None = None,
    status: str | None = None,
    due_date: str | None = None,
    reminder_date: str | None = None,
    escalation_date: str | None = None,
    description: str | None = None,
    owner: str | None = None,
) -> Task:
    """Change the given fields of a task.

    Args:
        credentials: The ThreatConnect credentials block.
        task_id: The task id.
        name: New name.
        status: New status.
        due_date: New due date, ISO-8601.
        reminder_date: New reminder date, ISO-8601.
        escalation_date: New escalation date, ISO-8601.
        description: New description.
        owner: The task's owner.
    """
    async with credentials.get_client() as client:
        updated = await client.update_task(
            task_id, name=name, status=status, due_date=due_date, reminder_date=reminder_date,
            escalation_date=escalation_date, description=description, owner=owner,
        )
    get_run_logger().info("updated task %s", updated.id)
    return updated


@task(name="threatconnect-delete-task", description="Delete a ThreatConnect task.", **_IDEMPOTENT_WRITE)
async def delete_task(credentials: ThreatConnectCredentials, task_id: int, owner: str | None = None) -> int:
    """Delete a task; returns its id.

    Args:
        credentials: The ThreatConnect credentials block.
        task_id: The task id.
        owner: The task's owner.
    """
    async with credentials.get_client() as client:
        await client.delete_task(task_id, owner=owner)
    get_run_logger().info("deleted task %s", task_id)
    return task_id


# -- associations ---------------------------------------------------------------------------


@task(name="threatconnect-list-associated-groups", description="Groups associated with a task.", **_READ)
async def list_associated_groups(
    credentials: ThreatConnectCredentials, task_id: int, group_type: str | None = None, owner: str | None = None
) -> list[Group]:
    """List the groups associated with a task.

    Args:
        credentials: The ThreatConnect credentials block.
        task_id: The task id.
        group_type: Only this group type, e.g. incidents.
        owner: The task's owner.
    """
    async with credentials.get_client() as client:
        found = await client.list_associated_groups(task_id, group_type, owner=owner)
    get_run_logger().info("task %s: %d group(s)", task_id, len(found))
    return found


@task(name="threatconnect-associate-group", description="Associate a group with a task.", **_IDEMPOTENT_WRITE)
async def associate_group(
    credentials: ThreatConnectCredentials, task_id: int, group_type: str, group_id: int, owner: str | None = None
) -> None:
    """Associate a group (by type and id) with a task.

    Args:
        credentials: The ThreatConnect credentials block.
        task_id: The task id.
        group_type: Group type, e.g. incidents or adversaries.
        group_id: Group id.
        owner: The task's owner.
    """
    async with credentials.get_client() as client:
        await client.associate_group(task_id, group_type, group_id, owner=owner)
    get_run_logger().info("task %s: associated group %s", task_id, group_id)


@task(name="threatconnect-disassociate-group", description="Remove a group from a task.", **_IDEMPOTENT_WRITE)
async def disassociate_group(
    credentials: ThreatConnectCredentials, task_id: int, group_type: str, group_id: int, owner: str | None = None
) -> None:
    """Remove a group association from a task.

    Args:
        credentials: The ThreatConnect credentials block.
        task_id: The task id.
        group_type: Group type, e.g. incidents.
        group_id: Group id.
        owner: The task's owner.
    """
    async with credentials.get_client() as client:
        await client.disassociate_group(task_id, group_type, group_id, owner=owner)
    get_run_logger().info("task %s: disassociated group %s", task_id, group_id)


@task(name="threatconnect-list-associated-indicators", description="Indicators associated with a task.", **_READ)
async def list_associated_indicators(
    credentials: ThreatConnectCredentials, task_id: int, indicator_type: str | None = None, owner: str | None = None
) -> list[Indicator]:
    """List the indicators associated with a task.

    Args:
        credentials: The ThreatConnect credentials block.
        task_id: The task id.
        indicator_type: Only this indicator type, e.g. urls.
        owner: The task's owner.
    """
    async with credentials.get_client() as client:
        found = await client.list_associated_indicators(task_id, indicator_type, owner=owner)
    get_run_logger().info("task %s: %d indicator(s)", task_id, len(found))
    return found


@task(name="threatconnect-associate-indicator", description="Associate an indicator with a task.", **_IDEMPOTENT_WRITE)
async def associate_indicator(
    credentials: ThreatConnectCredentials, task_id: int, indicator_type: str, value: str, owner: str | None = None
) -> None:
    """Associate an indicator (by type and value) with a task.

    Args:
        credentials: The ThreatConnect credentials block.
        task_id: The task id.
        indicator_type: Indicator type, e.g. addresses, hosts, urls or files.
        value: Indicator value.
        owner: The task's owner.
    """
    async with credentials.get_client() as client:
        await client.associate_indicator(task_id, indicator_type, value, owner=owner)
    get_run_logger().info("task %s: associated one %s indicator", task_id, indicator_type)


@task(name="threatconnect-disassociate-indicator", description="Remove an indicator from a task.", **_IDEMPOTENT_WRITE)
async def disassociate_indicator(
    credentials: ThreatConnectCredentials, task_id: int, indicator_type: str, value: str, owner: str | None = None
) -> None:
    """Remove an indicator association from a task.

    Args:
        credentials: The ThreatConnect credentials block.
        task_id: The task id.
        indicator_type: Indicator type.
        value: Indicator value.
        owner: The task's owner.
    """
    async with credentials.get_client() as client:
        await client.disassociate_indicator(task_id, indicator_type, value, owner=owner)
    get_run_logger().info("task %s: disassociated one %s indicator", task_id, indicator_type)


@task(name="threatconnect-list-associated-victims", description="Victims associated with a task.", **_READ)
async def list_associated_victims(
    credentials: ThreatConnectCredentials, task_id: int, owner: str | None = None
) -> list[Victim]:
    """List the victims associated with a task.

    Args:
        credentials: The ThreatConnect credentials block.
        task_id: The task id.
        owner: The task's owner.
    """
    async with credentials.get_client() as client:
        found = await client.list_associated_victims(task_id, owner=owner)
    get_run_logger().info("task %s: %d victim(s)", task_id, len(found))
    return found


@task(name="threatconnect-associate-victim", description="Associate a victim with a task.", **_IDEMPOTENT_WRITE)
async def associate_victim(
    credentials: ThreatConnectCredentials, task_id: int, victim_id: int, owner: str | None = None
) -> None:
    """Associate a victim (it needs at least one asset) with a task.

    Args:
        credentials: The ThreatConnect credentials block.
        task_id: The task id.
        victim_id: Victim id.
        owner: The task's owner.
    """
    async with credentials.get_client() as client:
        await client.associate_victim(task_id, victim_id, owner=owner)
    get_run_logger().info("task %s: associated victim %s", task_id, victim_id)


@task(name="threatconnect-disassociate-victim", description="Remove a victim from a task.", **_IDEMPOTENT_WRITE)
async def disassociate_victim(
    credentials: ThreatConnectCredentials, task_id: int, victim_id: int, owner: str | None = None
) -> None:
    """Remove a victim association from a task.

    Args:
        credentials: The ThreatConnect credentials block.
        task_id: The task id.
        victim_id: Victim id.
        owner: The task's owner.
    """
    async with credentials.get_client() as client:
        await client.disassociate_victim(task_id, victim_id, owner=owner)
    get_run_logger().info("task %s: disassociated victim %s", task_id, victim_id)


# -- attributes -----------------------------------------------------------------------------


@task(name="threatconnect-list-attributes", description="A task's attributes.", **_READ)
async def list_attributes(
    credentials: ThreatConnectCredentials, task_id: int, owner: str | None = None
) -> list[Attribute]:
    """List a task's attributes.

    Args:
        credentials: The ThreatConnect credentials block.
        task_id: The task id.
        owner: The task's owner.
    """
    async with credentials.get_client() as client:
        found = await client.list_attributes(task_id, owner=owner)
    get_run_logger().info("task %s: %d attribute(s)", task_id, len(found))
    return found


@task(name="threatconnect-add-attribute", description="Add an attribute to a task.", **_ONCE)
async def add_attribute(
    credentials: ThreatConnectCredentials,
    task_id: int,
    type: str,
    value: str,
    displayed: bool | None = None,
    source: str | None = None,
    owner: str | None = None,
) -> Attribute:
    """Add an attribute to a task (not retried: a repeat would add it twice).

    Args:
        credentials: The ThreatConnect credentials block.
        task_id: The task id.
        type: Attribute type, e.g. Description or Source.
        value: Attribute value.
        displayed: Show it at the top of the task page.
        source: Where the value comes from.
        owner: The task's owner.
    """
    async with credentials.get_client() as client:
        added = await client.add_attribute(task_id, type, value, displayed=displayed, source=source, owner=owner)
    get_run_logger().info("task %s: added attribute %s", task_id, added.id)
    return added


@task(name="threatconnect-update-attribute", description="Update a task attribute.", **_IDEMPOTENT_WRITE)
async def update_attribute(
    credentials: ThreatConnectCredentials,
    task_id: int,
    attribute_id: int,
    value: str,
    displayed: bool | None = None,
    source: str | None = None,
    owner: str | None = None,
) -> Attribute:
    """Change an attribute's value (and displayed/source).

    Args:
        credentials: The ThreatConnect credentials block.
        task_id: The task id.
        attribute_id: The attribute id.
        value: New value.
        displayed: Show it at the top of the task page.
        source: Where the value comes from.
        owner: The task's owner.
    """
    async with credentials.get_client() as client:
        updated = await client.update_attribute(
            task_id, attribute_id, value, displayed=displayed, source=source, owner=owner
        )
    get_run_logger().info("task %s: updated attribute %s", task_id, attribute_id)
    return updated


@task(name="threatconnect-delete-attribute", description="Delete a task attribute.", **_IDEMPOTENT_WRITE)
async def delete_attribute(
    credentials: ThreatConnectCredentials, task_id: int, attribute_id: int, owner: str | None = None
) -> None:
    """Delete an attribute from a task.

    Args:
        credentials: The ThreatConnect credentials block.
        task_id: The task id.
        attribute_id: The attribute id.
        owner: The task's owner.
    """
    async with credentials.get_client() as client:
        await client.delete_attribute(task_id, attribute_id, owner=owner)
    get_run_logger().info("task %s: deleted attribute %s", task_id, attribute_id)


# -- security labels ------------------------------------------------------------------------


@task(name="threatconnect-list-security-labels", description="A task's security labels.", **_READ)
async def list_security_labels(
    credentials: ThreatConnectCredentials, task_id: int, owner: str | None = None
) -> list[SecurityLabel]:
    """List a task's security labels.

    Args:
        credentials: The ThreatConnect credentials block.
        task_id: The task id.
        owner: The task's owner.
    """
    async with credentials.get_client() as client:
        found = await client.list_security_labels(task_id, owner=owner)
    get_run_logger().info("task %s: %d security label(s)", task_id, len(found))
    return found


@task(name="threatconnect-add-security-label", description="Apply a security label.", **_IDEMPOTENT_WRITE)
async def add_security_label(
    credentials: ThreatConnectCredentials, task_id: int, label: str, owner: str | None = None
) -> None:
    """Apply an existing security label (e.g. TLP:AMBER) to a task.

    Args:
        credentials: The ThreatConnect credentials block.
        task_id: The task id.
        label: Label name; it must already exist.
        owner: The task's owner.
    """
    async with credentials.get_client() as client:
        await client.add_security_label(task_id, label, owner=owner)
    get_run_logger().info("task %s: security label applied", task_id)


@task(name="threatconnect-delete-security-label", description="Remove a security label.", **_IDEMPOTENT_WRITE)
async def delete_security_label(
    credentials: ThreatConnectCredentials, task_id: int, label: str, owner: str | None = None
) -> None:
    """Remove a security label from a task.

    Args:
        credentials: The ThreatConnect credentials block.
        task_id: The task id.
        label: Label name.
        owner: The task's owner.
    """
    async with credentials.get_client() as client:
        await client.delete_security_label(task_id, label, owner=owner)
    get_run_logger().info("task %s: security label removed", task_id)


# -- tags -----------------------------------------------------------------------------------


@task(name="threatconnect-list-tags", description="A task's tags.", **_READ)
async def list_tags(credentials: ThreatConnectCredentials, task_id: int, owner: str | None = None) -> list[Tag]:
    """List a task's tags.

    Args:
        credentials: The ThreatConnect credentials block.
        task_id: The task id.
        owner: The task's owner.
    """
    async with credentials.get_client() as client:
        found = await client.list_tags(task_id, owner=owner)
    get_run_logger().info("task %s: %d tag(s)", task_id, len(found))
    return found


@task(name="threatconnect-add-tag", description="Tag a task.", **_IDEMPOTENT_WRITE)
async def add_tag(credentials: ThreatConnectCredentials, task_id: int, tag: str, owner: str | None = None) -> None:
    """Apply a tag to a task (the tag is created on first use).

    Args:
        credentials: The ThreatConnect credentials block.
        task_id: The task id.
        tag: Tag name (at most 128 characters).
        owner: The task's owner.
    """
    async with credentials.get_client() as client:
        await client.add_tag(task_id, tag, owner=owner)
    get_run_logger().info("task %s: tag applied", task_id)


@task(name="threatconnect-delete-tag", description="Untag a task.", **_IDEMPOTENT_WRITE)
async def delete_tag(credentials: ThreatConnectCredentials, task_id: int, tag: str, owner: str | None = None) -> None:
    """Remove a tag from a task.

    Args:
        credentials: The ThreatConnect credentials block.
        task_id: The task id.
        tag: Tag name.
        owner: The task's owner.
    """
    async with credentials.get_client() as client:
        await client.delete_tag(task_id, tag, owner=owner)
    get_run_logger().info("task %s: tag removed", task_id)


# -- assignees and escalatees ---------------------------------------------------------------


@task(name="threatconnect-list-assignees", description="Users a task is assigned to.", **_READ)
async def list_assignees(credentials: ThreatConnectCredentials, task_id: int, owner: str | None = None) -> list[User]:
    """List a task's assignees.

    Args:
        credentials: The ThreatConnect credentials block.
        task_id: The task id.
        owner: The task's owner.
    """
    async with credentials.get_client() as client:
        found = await client.list_assignees(task_id, owner=owner)
    get_run_logger().info("task %s: %d assignee(s)", task_id, len(found))
    return found


@task(name="threatconnect-add-assignee", description="Assign a user to a task.", **_IDEMPOTENT_WRITE)
async def add_assignee(
    credentials: ThreatConnectCredentials, task_id: int, user_name: str, owner: str | None = None
) -> None:
    """Assign a user to a task.

    Args:
        credentials: The ThreatConnect credentials block.
        task_id: The task id.
        user_name: The user's name.
        owner: The task's owner.
    """
    async with credentials.get_client() as client:
        await client.add_assignee(task_id, user_name, owner=owner)
    get_run_logger().info("task %s: assignee added", task_id)


@task(name="threatconnect-delete-assignee", description="Unassign a user from a task.", **_IDEMPOTENT_WRITE)
async def delete_assignee(
    credentials: ThreatConnectCredentials, task_id: int, user_name: str, owner: str | None = None
) -> None:
    """Unassign a user from a task.

    Args:
        credentials: The ThreatConnect credentials block.
        task_id: The task id.
        user_name: The user's name.
        owner: The task's owner.
    """
    async with credentials.get_client() as client:
        await client.delete_assignee(task_id, user_name, owner=owner)
    get_run_logger().info("task %s: assignee removed", task_id)


@task(name="threatconnect-list-escalatees", description="Users a task escalates to.", **_READ)
async def list_escalatees(
    credentials: ThreatConnectCredentials, task_id: int, owner: str | None = None
) -> list[User]:
    """List a task's escalatees.

    Args:
        credentials: The ThreatConnect credentials block.
        task_id: The task id.
        owner: The task's owner.
    """
    async with credentials.get_client() as client:
        found = await client.list_escalatees(task_id, owner=owner)
    get_run_logger().info("task %s: %d escalatee(s)", task_id, len(found))
    return found


@task(name="threatconnect-add-escalatee", description="Add an escalatee to a task.", **_IDEMPOTENT_WRITE)
async def add_escalatee(
    credentials: ThreatConnectCredentials, task_id: int, user_name: str, owner: str | None = None
) -> None:
    """Add a user the task escalates to.

    Args:
        credentials: The ThreatConnect credentials block.
        task_id: The task id.
        user_name: The user's name.
        owner: The task's owner.
    """
    async with credentials.get_client() as client:
        await client.add_escalatee(task_id, user_name, owner=owner)
    get_run_logger().info("task %s: escalatee added", task_id)


@task(name="threatconnect-delete-escalatee", description="Remove an escalatee from a task.", **_IDEMPOTENT_WRITE)
async def delete_escalatee(
    credentials: ThreatConnectCredentials, task_id: int, user_name: str, owner: str | None = None
) -> None:
    """Remove a user the task escalates to.

    Args:
        credentials: The ThreatConnect credentials block.
        task_id: The task id.
        user_name: The user's name.
        owner: The task's owner.
    """
    async with credentials.get_client() as client:
        await client.delete_escalatee(task_id, user_name, owner=owner)
    get_run_logger().info("task %s: escalatee removed", task_id)


# -- idempotency ----------------------------------------------------------------------------


@task(name="threatconnect-find-task-by-marker", description="Find the task carrying a marker.", **_READ)
async def find_task_by_marker(
    credentials: ThreatConnectCredentials, marker: str, owner: str | None = None
) -> Task | None:
    """Find the task marked with an external id (tag ``ext:<marker>``), or None.

    Args:
        credentials: The ThreatConnect credentials block.
        marker: External id, e.g. ptsandbox:<scan id>.
        owner: Owner to search (default: the block's default owner).
    """
    async with credentials.get_client() as client:
        found = await client.find_task_by_marker(marker, owner=owner)
    get_run_logger().info("marker lookup: %s", f"task {found.id}" if found else "no task")
    return found


@task(name="threatconnect-find-or-create-task", description="Find a task by marker or create it.", **_READ)
async def find_or_create_task(
    credentials: ThreatConnectCredentials,
    marker: str,
    name: str,
    status: str | None = None,
    due_date: str | None = None,
    reminder_date: str | None = None,
    escalation_date: str | None = None,
    description: str | None = None,
    assignees: list[str] | None = None,
    escalatees: list[str] | None = None,
    attributes: list[AttributeSpec] | None = None,
    tags: list[str] | None = None,
    security_labels: list[str] | None = None,
    owner: str | None = None,
    groups: list[GroupRef] | None = None,
    indicators: list[IndicatorRef] | None = None,
    victims: list[int] | None = None,
) -> CreateTaskResult:
    """Return the task marked with ``marker``, or create it (marked) with its metadata; safe to run twice.

    Args:
        credentials: The ThreatConnect credentials block.
        marker: External id, e.g. ptsandbox:<scan id>; stored as the tag ext:<marker>.
        name: Task name.
        status: Status when created.
        due_date: Due date, ISO-8601.
        reminder_date: Reminder date, ISO-8601.
        escalation_date: Escalation date, ISO-8601.
        description: Description.
        assignees: User names to assign.
        escalatees: User names to escalate to.
        attributes: Attributes to add.
        tags: Tags to apply.
        security_labels: Existing security labels to apply.
        owner: Owner (default: the block's default owner).
        groups: Groups to associate.
        indicators: Indicators to associate.
        victims: Victim ids to associate.
    """
    async with credentials.get_client() as client:
        result = await client.find_or_create_task(
            marker, name, status=status, due_date=due_date, reminder_date=reminder_date,
            escalation_date=escalation_date, description=description, assignees=assignees,
            escalatees=escalatees, attributes=attributes, tags=tags, security_labels=security_labels, owner=owner,
            groups=groups, indicators=indicators, victims=victims,
        )
    verb = "created" if result.created else "found"
    get_run_logger().info("%s task %s; %d sub-step(s) failed", verb, result.task.id, len(result.failures))
    return result


@task(name="threatconnect-create-indicator", description="Create (or find) an indicator.", **_IDEMPOTENT_WRITE)
async def create_indicator(
    credentials: ThreatConnectCredentials, indicator_type: str, value: str, owner: str | None = None
) -> Indicator:
    """Create an indicator, or get the existing one with the same value.

    Args:
        credentials: The ThreatConnect credentials block.
        indicator_type: v2 type: files, addresses, hosts, urls, emailAddresses...
        value: The value: a file hash, an IP, a host name, a URL...
        owner: Owner to create it in (default: the block's default owner).
    """
    async with credentials.get_client() as client:
        indicator = await client.create_indicator(indicator_type, value, owner=owner)
    get_run_logger().info("indicator %s ensured", indicator.id)
    return indicator


@task(name="threatconnect-create-indicators", description="Create many indicators in one run.", **_IDEMPOTENT_WRITE)
async def create_indicators(
    credentials: ThreatConnectCredentials, items: list[IndicatorRef], concurrency: int = 8, owner: str | None = None
) -> dict[str, str | None]:
    """Create (or find) many indicators inside one task run, with bounded concurrency.

    Args:
        credentials: The ThreatConnect credentials block.
        items: Indicators by v2 type (``files``, ``hosts``, ``addresses``, ``urls``...) and value.
        concurrency: Requests in flight at once.
        owner: Owner to create them in (default: the block's default owner).

    Returns:
        ``"<type>/<value>"`` -> ``None`` when the indicator exists, else the error message.
    """
    unique = list({f"{i.type}/{i.value}": i for i in items}.items())
    gate = asyncio.Semaphore(max(1, concurrency))
    async with credentials.get_client() as client:

        async def one(item: IndicatorRef) -> str | None:
            async with gate:
                try:
                    await client.create_indicator(item.type, item.value, owner=owner)
                except SoarError as exc:
                    return str(exc)
                return None

        outcomes = await asyncio.gather(*(one(item) for _, item in unique))
    failed = sum(1 for o in outcomes if o)
    get_run_logger().info("indicators: %d ensured, %d failed", len(unique) - failed, failed)
    return {key: outcome for (key, _), outcome in zip(unique, outcomes, strict=True)}


@task(name="threatconnect-upsert-tasks", description="Find-or-create many tasks in one run.", **_IDEMPOTENT_WRITE)
async def upsert_tasks(
    credentials: ThreatConnectCredentials, items: list[TaskSpec], concurrency: int = 8
) -> list[TaskUpsertResult]:
    """Find-or-create many tasks with their metadata inside one task run, with bounded concurrency.

    Args:
        credentials: The ThreatConnect credentials block.
        items: The tasks, each identified by its marker.
        concurrency: Items in flight at once.
    """
    async with credentials.get_client() as client:
        results = await client.upsert_tasks(items, concurrency=concurrency)
    created = sum(1 for r in results if r.created)
    failed = sum(1 for r in results if r.error)
    partial = sum(1 for r in results if r.failures)
    get_run_logger().info(
        "upserted %d item(s): %d created, %d existing, %d failed, %d with failed sub-steps",
        len(results), created, len(results) - created - failed, failed, partial,
    )
    return results


__all__ = [
    "add_assignee",
    "add_attribute",
    "add_escalatee",
    "add_security_label",
    "add_tag",
    "associate_group",
    "associate_indicator",
    "associate_victim",
    "check_connection",
    "create_indicator",
    "create_indicators",
    "create_task",
    "delete_assignee",
    "delete_attribute",
    "delete_escalatee",
    "delete_security_label",
    "delete_tag",
    "delete_task",
    "disassociate_group",
    "disassociate_indicator",
    "disassociate_victim",
    "find_or_create_task",
    "find_task_by_marker",
    "get_task",
    "list_assignees",
    "list_associated_groups",
    "list_associated_indicators",
    "list_associated_victims",
    "list_attributes",
    "list_escalatees",
    "list_security_labels",
    "list_tags",
    "list_tasks",
    "transient_failure",
    "update_attribute",
    "update_task",
    "upsert_tasks",
]
