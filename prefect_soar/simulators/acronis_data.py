"""The Acronis lab's seeded data set: tasks with lifecycle timelines, and their activities.

A task is a timeline (enqueued → assigned → started → [paused] → completed) in Unix nanoseconds;
what the API shows at a given instant is derived from it (see :meth:`LabTask.snapshot`), so a lab
clock that moves makes tasks progress, bumps ``updatedAt`` on every transition and lets new tasks
arrive. Everything is drawn from one ``random.Random(seed)``: the same seed and anchor give the
same data. Ids are int64 values above 2**53 that grow with time, like the service's.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any

SECOND = 1_000_000_000
FIRST_TASK_ID = 944_455_285_181_775_872  # the id of the docs' example task; every id is above 2**53
RECENT_SHARE = 0.04  # share of tasks enqueued in the half hour before start (in flight at start)
UPDATE_DELAY_NS = 4_287_534  # updatedAt trails the last transition a little, as in the docs' example

TENANTS = (
    {"id": "1496265", "locator": "/1/1496262/1496265/", "name": "Contoso Ltd"},
    {"id": "1496270", "locator": "/1/1496262/1496270/", "name": "Fabrikam Inc"},
    {"id": "1496281", "locator": "/1/1496262/1496281/", "name": "Northwind Traders"},
)
MACHINES = (
    ("WIN-SRV-01", "machine"), ("WIN-SRV-02", "machine"), ("DC-01", "machine"), ("FS-CLUSTER-A", "machine"),
    ("ubuntu-web-01", "machine"), ("ubuntu-db-02", "machine"), ("LAPTOP-SOC-07", "machine"),
    ("esx-vm-finance", "virtual_machine"), ("esx-vm-hr", "virtual_machine"), ("SQL-PROD/ERP", "mssql_database"),
    ("EXCH-01/Mailbox", "exchange_database"), ("mac-design-03", "machine"),
)
POLICIES = (
    ("Daily backup", "backup"), ("Hourly SQL backup", "backup"), ("Antimalware protection", "antimalware_protection"),
    ("Weekly vulnerability assessment", "vulnerability_assessment"), ("Patch management", "patch_management"),
)
USERS = ("system", "CONTOSO\\backup-admin", "soc.analyst@contoso.example", "FABRIKAM\\it-ops")
LEGACY_TYPE = "A59E8BF2-39C3-42C4-B667-CB672381A214"

# task type -> (queue, policy type or None, weight, result-code weights)
TASK_TYPES: dict[str, tuple[str, str | None, int, dict[str, int]]] = {
    "backup": ("protection", "backup", 44,
               {"ok": 70, "warning": 10, "error": 12, "cancelled": 3, "abandoned": 2, "timedout": 3}),
    "backup_validation": ("protection", "backup", 8, {"ok": 85, "warning": 5, "error": 8, "cancelled": 2}),
    "recovery": ("protection", "backup", 5, {"ok": 80, "error": 15, "cancelled": 5}),
    "replication": ("protection", "backup", 6, {"ok": 85, "warning": 5, "error": 6, "timedout": 4}),
    "antimalware_scan": ("security", "antimalware_protection", 14,
                         {"ok": 80, "warning": 14, "error": 4, "cancelled": 2}),
    "vulnerability_assessment": ("security", "vulnerability_assessment", 10, {"ok": 88, "warning": 8, "error": 4}),
    "patch_management": ("security", "patch_management", 7, {"ok": 75, "warning": 10, "error": 10, "timedout": 5}),
    LEGACY_TYPE: ("legacySync", None, 6, {"ok": 90, "error": 10}),
}
BACKUP_FAILURES = (
    ("NotEnoughSpace", "Not enough space on the backup location.", "Storage", "QuotaExceeded"),
    ("AccessDenied", "The backup location is not accessible: access denied.", "Storage", "PermissionDenied"),
    ("SnapshotFailed", "Cannot create a volume snapshot (VSS error 0x8004230f).", "VSS", "ProviderVetoed"),
    ("AgentOffline", "The agent went offline while the backup was running.", "Agent", "ConnectionLost"),
    ("CloudConnectionLost", "Connection to the cloud storage was lost.", "Network", "Timeout"),
)
GENERIC_FAILURES = (
    ("OperationFailed", "The operation failed on the agent.", "Agent", "InternalError"),
    ("ResourceBusy", "The resource is locked by another operation.", "Agent", "Busy"),
)


@dataclass
class LabTask:
    """One task: its fixed attributes and its timeline (``None`` = never reached)."""

    id: int
    uuid: str
    type: str
    queue: str
    priority: str
    tenant: dict[str, str]
    resource: dict[str, str] | None
    policy: dict[str, str] | None
    executor: dict[str, str]
    started_by_user: str
    context: dict[str, Any]
    enqueued: int
    assigned: int | None
    started: int | None
    paused: int | None
    completed: int | None
    result: dict[str, Any] | None
    error: dict[str, Any] | None = None
    workflow_id: str | None = None
    tags: list[str] = field(default_factory=list)
    deleted: bool = False
    cancellable: bool = True
    cancel_requested: bool = False

    def visible(self, now: int) -> bool:
        """Whether the task exists yet."""
        return self.enqueued <= now

    def snapshot(self, now: int) -> dict[str, Any]:
        """The task as the API shows it at ``now``; timestamps stay ints (ns) until rendering."""
        steps = [("enqueued", self.enqueued), ("assigned", self.assigned), ("started", self.started),
                 ("paused", self.paused), ("completed", self.completed)]
        reached = [(name, at) for name, at in steps if at is not None and at <= now]
        state, last = reached[-1]
        done = state == "completed"
        view: dict[str, Any] = {
            "id": self.id, "idString": str(self.id), "uuid": self.uuid, "type": self.type, "queue": self.queue,
            "priority": self.priority, "state": state,
            "cancellable": self.cancellable and not done, "cancelRequested": self.cancel_requested and done,
            "enqueuedAt": self.enqueued, "updatedAt": last + UPDATE_DELAY_NS,
            "startedByUser": self.started_by_user, "issuer": {"clusterId": "", "id": ""},
            "tenant": dict(self.tenant), "context": dict(self.context), "tags": list(self.tags),
        }
        if self.assigned is not None and self.assigned <= now:
            view["assignedAt"] = self.assigned
            view["executor"] = dict(self.executor)
        if self.started is not None and self.started <= now:
            view["startedAt"] = self.started
        if done:
            view["completedAt"] = self.completed
            view["result"] = _copy(self.result)
            if self.error is not None:
                view["error"] = dict(self.error)
        if self.resource is not None:
            view["resource"] = dict(self.resource)
            view["affinity"] = {"agentId": self.executor["id"], "clusterId": self.executor["clusterId"]}
        if self.policy is not None:
            view["policy"] = dict(self.policy)
        if self.workflow_id is not None:
            view["workflowId"] = self.workflow_id
        if self.deleted:
            view["deleted"] = True
        return view


@dataclass
class LabActivity:
    """One activity of a task: created, started and completed within the task's timeline."""

    id: int
    uuid: str
    task: LabTask
    parent_id: int | None
    type: str
    sustainable: bool
    created: int
    started: int | None
    completed: int | None
    result_code: str | None

    def visible(self, now: int) -> bool:
        """Whether the activity exists yet."""
        return self.created <= now

    def snapshot(self, now: int) -> dict[str, Any]:
        """The activity as the API shows it at ``now`` (timestamps as ns ints)."""
        steps = [("enqueued", self.created), ("started", self.started), ("completed", self.completed)]
        if self.task.paused is not None and self.started is not None and self.task.paused <= now:
            steps.append(("paused", self.task.paused))
        reached = sorted(((name, at) for name, at in steps if at is not None and at <= now), key=lambda s: s[1])
        state, last = reached[-1]
        task = self.task
        view: dict[str, Any] = {
            "id": self.id, "idString": str(self.id), "uuid": self.uuid,
            "taskId": task.id, "taskIdString": str(task.id), "type": self.type, "state": state,
            "sustainable": self.sustainable, "createdAt": self.created, "updatedAt": last + UPDATE_DELAY_NS,
            "tenant": dict(task.tenant), "startedByUser": task.started_by_user,
            "context": {"title": f"{self.type} ({task.context.get('title', task.type)})"},
        }
        if self.parent_id is not None:
            view["parentActivityId"] = self.parent_id
            view["parentActivityIdString"] = str(self.parent_id)
        if self.started is not None and self.started <= now:
            view["startedAt"] = self.started
            view["executor"] = dict(task.executor)
        if state == "completed":
            view["completedAt"] = self.completed
            view["result"] = {"code": self.result_code}
            if self.result_code not in ("ok", "warning") and task.result and task.result.get("error"):
                view["result"]["error"] = _copy(task.result["error"])
            view["progress"] = {"current": 100, "total": 100}
        elif state in ("started", "paused") and self.started is not None and self.completed is not None:
            done = (now - self.started) / max(self.completed - self.started, 1)
            view["progress"] = {"current": int(min(max(done, 0.0), 0.99) * 100), "total": 100}
        if task.resource is not None:
            view["resource"] = dict(task.resource)
        if task.policy is not None:
            view["policy"] = dict(task.policy)
        return view


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


@dataclass
class _Catalog:
    resources: list[dict[str, str]]
    agents: list[dict[str, str]]
    policies: list[dict[str, str]]


def _catalog(rng: random.Random) -> _Catalog:
    resources = [{"id": _uuid(rng), "type": kind, "name": name} for name, kind in MACHINES]
    agents = [{"clusterId": "", "id": _uuid(rng)} for _ in MACHINES]
    policies = [{"id": _uuid(rng), "type": kind, "name": name} for name, kind in POLICIES]
    return _Catalog(resources, agents, policies)


def _result(
    rng: random.Random, task_type: str, code: str, resource_name: str,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The ``result`` (and an optional top-level ``error``) of a completed task."""
    label = "Backup" if task_type == "backup" else task_type.replace("_", " ").capitalize()
    error: dict[str, Any]
    if code == "ok":
        return {"code": "ok", "payload": f"{label} of '{resource_name}' succeeded"}, None
    if code == "warning":
        skipped = rng.randint(1, 40)
        return {"code": "warning", "payload": f"{label} of '{resource_name}' finished with warnings: "
                f"{skipped} file(s) skipped because they were locked"}, None
    if code == "cancelled":
        return {"code": "cancelled", "payload": "Cancelled by user"}, None
    if code == "timedout":
        error = {"domain": "TaskManager", "code": "Timeout", "message": f"{label} of '{resource_name}' timed out",
                 "reason": "The agent did not report progress for 3600 seconds."}
        return {"code": "timedout", "error": error}, None
    if code == "abandoned":
        error = {"domain": "TaskManager", "code": "Abandoned", "message": f"{label} of '{resource_name}' was abandoned",
                 "reason": "The sustainable activity was not restarted after the task was re-queued."}
        return {"code": "abandoned", "error": error}, None
    failures = BACKUP_FAILURES if task_type in ("backup", "replication", "backup_validation") else GENERIC_FAILURES
    err_code, reason, cause_domain, cause_code = rng.choice(failures)
    error = {
        "domain": "Backup" if task_type == "backup" else "Protection", "code": err_code,
        "message": f"{label} of '{resource_name}' failed", "reason": reason,
        "causes": [{"domain": cause_domain, "code": cause_code, "message": reason}],
    }
    top = {"code": err_code, "message": reason} if task_type == LEGACY_TYPE else None
    return {"code": "error", "error": error}, top


def generate(
    *, count: int, seed: int, anchor_ns: int, history_seconds: float, arrival_share: float, arrival_seconds: float,
) -> tuple[list[LabTask], list[LabActivity]]:
    """Build the seeded tasks (sorted by id, which grows with ``enqueuedAt``) and their activities.

    Args:
        count: Number of tasks, including those that arrive after ``anchor_ns``.
        seed: Seed of the random source.
        anchor_ns: The lab's "now" at start, Unix ns.
        history_seconds: How far back the oldest tasks go.
        arrival_share: Share of tasks enqueued after the anchor (they appear as the clock moves).
        arrival_seconds: Window after the anchor in which they arrive.
    """
    rng = random.Random(seed)
    catalog = _catalog(rng)
    enqueue_times: list[int] = []
    for index in range(count):
        if index < 3:  # a fixed head: recent completed tasks, one of them a failed backup
            enqueue_times.append(anchor_ns - (index + 1) * 3 * 3600 * SECOND)
        elif (roll := rng.random()) < arrival_share:
            enqueue_times.append(anchor_ns + int(rng.uniform(1, arrival_seconds) * SECOND))
        elif roll < arrival_share + RECENT_SHARE:  # a recent burst: these are still running at start
            enqueue_times.append(anchor_ns - int(rng.uniform(0, 1800) * SECOND))
        else:
            enqueue_times.append(anchor_ns - int(rng.uniform(0, history_seconds) * SECOND))
    forced = {0: ("backup", "error"), 1: ("backup", "warning"), 2: ("backup", "ok")}
    order = sorted(range(count), key=lambda i: enqueue_times[i])
    type_names = list(TASK_TYPES)
    type_weights = [spec[2] for spec in TASK_TYPES.values()]
    tasks: list[LabTask] = []
    activities: list[LabActivity] = []
    next_id = FIRST_TASK_ID
    for index in order:
        next_id += rng.randint(2**16, 2**22)
        enqueued = enqueue_times[index]
        if index in forced:
            task_type, code = forced[index]
        else:
            task_type = rng.choices(type_names, weights=type_weights)[0]
            code = _weighted(rng, TASK_TYPES[task_type][3])
        task = _task(rng, catalog, next_id, task_type, code, enqueued, stuck=index not in forced)
        tasks.append(task)
        activities.extend(_activities(rng, task))
    return tasks, activities


def _task(rng: random.Random, catalog: _Catalog, task_id: int, task_type: str, code: str, enqueued: int,
          *, stuck: bool) -> LabTask:
    queue, policy_type, _, _ = TASK_TYPES[task_type]
    slot = rng.randrange(len(MACHINES))
    resource, agent = catalog.resources[slot], catalog.agents[slot]
    tenant = TENANTS[slot % len(TENANTS)]
    policy = None
    if policy_type is not None:
        choices = [p for p in catalog.policies if p["type"] == policy_type]
        policy = rng.choice(choices)
    assigned_at = enqueued + int(rng.uniform(0.2, 90) * SECOND)
    started_at = assigned_at + int(rng.uniform(0.5, 20) * SECOND)
    run = rng.uniform(20, 2400) if task_type != LEGACY_TYPE else rng.uniform(0.05, 3)
    assigned: int | None = assigned_at
    started: int | None = started_at
    completed: int | None = started_at + int(run * SECOND)
    paused: int | None = None
    roll = rng.random() if stuck else 1.0
    if roll < 0.015:  # never picked up (agent offline)
        assigned = started = completed = None
    elif roll < 0.035:  # paused by the scheduler, not resumed
        paused = started_at + int(run * SECOND / 3)
        completed = None
    result, top_error = _result(rng, task_type, code, resource["name"])
    scheduled = rng.random() < 0.7
    if task_type == LEGACY_TYPE:
        title = f"Adding agent '{resource['name']}' to the management server"
        context: dict[str, Any] = {"IsProcessRoot": True, "Specific": "Business", "isLegacy": True, "title": title}
        resource_ref, user = None, f"{resource['name']}\\AMS User"
    else:
        verb = {"backup": "Backing up", "recovery": "Recovering", "replication": "Replicating",
                "backup_validation": "Validating backups of", "antimalware_scan": "Scanning",
                "vulnerability_assessment": "Assessing vulnerabilities on", "patch_management": "Patching"}[task_type]
        context = {"IsProcessRoot": True, "Specific": "Business", "title": f"{verb} '{resource['name']}'"}
        resource_ref, user = resource, ("system" if scheduled else rng.choice(USERS[1:]))
    return LabTask(
        id=task_id, uuid=_uuid(rng), type=task_type, queue=queue,
        priority=rng.choices(["low", "belowNormal", "normal", "aboveNormal", "high"], weights=[5, 5, 75, 10, 5])[0],
        tenant=dict(tenant), resource=dict(resource_ref) if resource_ref else None,
        policy=dict(policy) if policy else None, executor=dict(agent), started_by_user=user, context=context,
        enqueued=enqueued, assigned=assigned, started=started, paused=paused, completed=completed,
        result=result, error=top_error, workflow_id=_uuid(rng) if rng.random() < 0.3 else None,
        tags=["scheduled" if scheduled else "manual"], deleted=stuck and rng.random() < 0.02,
        cancellable=task_type != LEGACY_TYPE, cancel_requested=code == "cancelled",
    )


def _activities(rng: random.Random, task: LabTask) -> list[LabActivity]:
    """A root activity for the task, and one or two child steps once it starts."""
    code = task.result["code"] if task.result else None
    root = LabActivity(
        id=task.id + 1, uuid=_uuid(rng), task=task, parent_id=None, type=task.type if task.type != LEGACY_TYPE
        else "agent_registration", sustainable=False, created=task.enqueued, started=task.started,
        completed=task.completed, result_code=code,
    )
    if task.started is None:
        return [root]
    steps = ["prepare_snapshot", "transfer_archive"] if task.type in ("backup", "replication") else ["execute"]
    end = task.completed if task.completed is not None else task.started + 3600 * SECOND
    span = max(end - task.started, len(steps))
    children = []
    for number, step in enumerate(steps):
        begin = task.started + span * number // len(steps)
        finish = task.started + span * (number + 1) // len(steps)
        last = number == len(steps) - 1
        children.append(LabActivity(
            id=task.id + 2 + number, uuid=_uuid(rng), task=task, parent_id=root.id, type=step,
            sustainable=step == "transfer_archive", created=begin, started=begin,
            completed=finish if task.completed is not None else None,
            result_code=(code if last or code == "cancelled" else "ok") if code else None,
        ))
    return [root, *children]
