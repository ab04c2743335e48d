"""Every prefect-soar deployment, in Python: the source of truth that ``deployments/prefect.yaml`` mirrors.

``prefect-soar serve`` serves these in one process (``prefect.serve(*deployments())``); the YAML
declares the same deployments for ``prefect deploy --all`` onto the ``soar-pool`` work pool, and a
test checks that both agree.

| Deployment | When |
| --- | --- |
| ``sandbox-triage/scheduled`` | every 10 minutes |
| ``acronis-failures-to-threatconnect/scheduled`` | every 15 minutes |
| ``tiledb-sql-report/daily`` | 07:00 UTC every day |
| ``tiledb-failed-tasks-to-threatconnect/scheduled`` | every hour |
| ``prefect-soar-healthcheck/hourly`` | at minute 0 of every hour |
| ``detonate-and-report/on-request`` | each ``prefect-soar.detonation.requested`` event |
| ``escalate-detection/on-detection`` | each ``prefect-soar.sandbox.detection`` event |

The watermark flows run one at a time (``concurrency_limit`` 1, a run due while one is still
running is cancelled: the next run picks its items up). Detonations queue one at a time, so two
requests for the same object cannot both create a ThreatConnect task (the second one finds the
first one's record); in the work pool they have their own ``detonations`` queue, so a burst of
requests never delays the scheduled flows and can get a worker of its own
(``prefect worker start --pool soar-pool --work-queue detonations``). Flow modules are imported
only when :func:`deployments` is called.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import EntrypointType
from prefect.events import DeploymentEventTrigger
from prefect.schedules import Cron, Interval, Schedule
from prefect.utilities.importtools import import_object

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

WORK_POOL = "soar-pool"
"""The process work pool ``deployments/prefect.yaml`` deploys to."""
TAGS = ["prefect-soar"]
DETONATION_REQUESTED = "prefect-soar.detonation.requested"
SANDBOX_DETECTION = "prefect-soar.sandbox.detection"


def payload_value(key: str, default: str = "''") -> dict[str, Any]:
    """A trigger parameter taking ``event.payload[key]`` with its JSON type, ``default`` when absent or null.

    Prefect's plain ``"{{ event.payload.x }}"`` fails to render (and the run is not created) when the
    key is missing from the payload; ``default(..., true)`` covers both missing and null values.
    """
    template = f"{{{{ event.payload.{key} | default({default}, true) | tojson }}}}"
    return {"__prefect_kind": "json", "value": {"__prefect_kind": "jinja", "template": template}}


NO_OVERLAP = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW)
ONE_AT_A_TIME = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE)

DETONATION_TRIGGER = DeploymentEventTrigger(
    name="detonate-on-request",
    description="Detonate the file or URL named by a prefect-soar.detonation.requested event.",
    match={"prefect.resource.id": "prefect-soar.detonation.*"},
    expect={DETONATION_REQUESTED},
    parameters={
        "file_path": payload_value("file_path"),
        "url": payload_value("url"),
        "tags": payload_value("tags", "[]"),
        "requested_by": payload_value("requested_by"),
    },
)

DETECTION_TRIGGER = DeploymentEventTrigger(
    name="escalate-on-detection",
    description="Escalate the ThreatConnect task of each sandbox detection the triage records.",
    match={"prefect.resource.id": "ptsandbox.task.*"},
    expect={SANDBOX_DETECTION},
    parameters={
        "threatconnect_task_id": payload_value("threatconnect_task_id", "0"),
        "verdict": payload_value("verdict"),
        "sandbox_task": "{{ event.resource.id }}",
    },
)


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment of one flow (see the module's table).

    Attributes:
        entrypoint: Module path of the flow function, as ``prefect deploy`` takes it.
        name: Deployment name (the full name is ``<flow name>/<name>``).
        description: What the deployment does.
        interval: Interval schedule.
        cron: Cron schedule, in UTC.
        triggers: Event triggers.
        parameters: Parameter overrides.
        concurrency_limit: Deployment concurrency limit.
        work_queue_name: Work queue in the work pool (default: the pool's default queue).
    """

    entrypoint: str
    name: str
    description: str
    interval: timedelta | None = None
    cron: str | None = None
    triggers: list[DeploymentEventTrigger] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    concurrency_limit: ConcurrencyLimitConfig | None = None
    work_queue_name: str | None = None

    def load(self, work_pool_name: str | None = None) -> RunnerDeployment:
        """Import the flow and build its deployment."""
        flow = import_object(self.entrypoint)
        deployment: RunnerDeployment = flow.to_deployment(
            name=self.name,
            schedules=self.schedules(),
            triggers=list(self.triggers),
            parameters=dict(self.parameters),
            concurrency_limit=self.concurrency_limit,
            description=self.description,
            tags=list(TAGS),
            work_pool_name=work_pool_name,
            work_queue_name=self.work_queue_name if work_pool_name else None,
            entrypoint_type=EntrypointType.MODULE_PATH,
            _sync=True,  # to_deployment is async-dispatched: without it, async callers would get a coroutine
        )
        return deployment

    def schedules(self) -> list[Schedule]:
        """The deployment's schedules."""
        out: list[Schedule] = []
        if self.interval is not None:
            out.append(Interval(self.interval))
        if self.cron is not None:
            out.append(Cron(self.cron, timezone="UTC"))
        return out


SPECS: list[DeploymentSpec] = [
    DeploymentSpec(
        "prefect_soar.flows.sandbox_triage.sandbox_triage", "scheduled",
        "PT Sandbox detections into ThreatConnect tasks, every 10 minutes.",
        interval=timedelta(minutes=10), concurrency_limit=NO_OVERLAP,
    ),
    DeploymentSpec(
        "prefect_soar.flows.acronis_failures.acronis_failures_to_threatconnect", "scheduled",
        "Failed Acronis tasks into ThreatConnect tasks, every 15 minutes.",
        interval=timedelta(minutes=15), concurrency_limit=NO_OVERLAP,
    ),
    DeploymentSpec(
        "prefect_soar.flows.tiledb_report.tiledb_sql_report", "daily",
        "The TileDB SQL report as a table artifact, every day at 07:00 UTC.",
        cron="0 7 * * *",
    ),
    DeploymentSpec(
        "prefect_soar.flows.tiledb_audit.tiledb_failed_tasks_to_threatconnect", "scheduled",
        "Failed TileDB tasks into ThreatConnect tasks, every hour.",
        interval=timedelta(hours=1), concurrency_limit=NO_OVERLAP,
    ),
    DeploymentSpec(
        "prefect_soar.flows.healthcheck.healthcheck", "hourly",
        "Connectivity check of every saved credentials block, every hour.",
        cron="0 * * * *",
    ),
    DeploymentSpec(
        "prefect_soar.flows.detonate.detonate_and_report", "on-request",
        "Detonate a file or URL in PT Sandbox and record the verdict in ThreatConnect, on request events.",
        triggers=[DETONATION_TRIGGER], concurrency_limit=ONE_AT_A_TIME, work_queue_name="detonations",
    ),
    DeploymentSpec(
        "prefect_soar.flows.escalate.escalate_detection", "on-detection",
        "Escalate the ThreatConnect task of each DANGEROUS sandbox detection.",
        triggers=[DETECTION_TRIGGER],
    ),
]


def deployments(names: Iterable[str] | None = None, work_pool_name: str | None = None) -> list[RunnerDeployment]:
    """Build the deployments of every prefect-soar flow (importing the flow modules now).

    Args:
        names: Only these deployments, each as ``<flow function>/<deployment name>`` or just the
            flow function's name, e.g. ``["detonate_and_report"]``; default all.
        work_pool_name: Work pool to deploy to; leave empty to serve them (``prefect.serve``).

    Returns:
        One ``RunnerDeployment`` per flow.
    """
    wanted = set(names) if names is not None else None
    chosen = [
        spec for spec in SPECS
        if wanted is None or {_function(spec), f"{_function(spec)}/{spec.name}"} & wanted
    ]
    if wanted is not None:
        known = {_function(s) for s in SPECS} | {f"{_function(s)}/{s.name}" for s in SPECS}
        unknown = sorted(wanted - known)
        if unknown:
            raise ValueError(f"unknown deployment(s) {', '.join(unknown)}; choose from {', '.join(sorted(known))}")
    return [spec.load(work_pool_name) for spec in chosen]


def _function(spec: DeploymentSpec) -> str:
    return spec.entrypoint.rsplit(".", 1)[1]
