"""ThreatConnect v2 wire models for Tasks and their metadata, plus the inputs of the batch helpers.

Field names follow the v2 JSON exactly (camelCase aliases); every model keeps unknown fields
(``extra="allow"``) and tolerates missing optional lists. Enumerations are "soft": the
StrEnums below document the known values, but models store plain strings so that a value a
newer server adds is kept, not rejected.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class TaskStatus(StrEnum):
    """The statuses a v2 Task can have."""

    NOT_STARTED = "Not Started"
    IN_PROGRESS = "In Progress"
    COMPLETED = "Completed"
    WAITING_ON_SOMEONE = "Waiting on Someone"
    DEFERRED = "Deferred"


class GroupType(StrEnum):
    """Group types as they appear in v2 paths (``/v2/groups/{groupType}``)."""

    ADVERSARIES = "adversaries"
    ATTACK_PATTERNS = "attackPatterns"
    CAMPAIGNS = "campaigns"
    COURSES_OF_ACTION = "coursesOfAction"
    DOCUMENTS = "documents"
    EMAILS = "emails"
    EVENTS = "events"
    INCIDENTS = "incidents"
    INTRUSION_SETS = "intrusionSets"
    MALWARE = "malware"
    REPORTS = "reports"
    SIGNATURES = "signatures"
    TACTICS = "tactics"
    THREATS = "threats"
    TOOLS = "tools"
    VULNERABILITIES = "vulnerabilities"


class IndicatorType(StrEnum):
    """Built-in indicator types as they appear in v2 paths (custom types are allowed too)."""

    ADDRESSES = "addresses"
    ASNS = "asns"
    CIDR_BLOCKS = "cidrBlocks"
    EMAIL_ADDRESSES = "emailAddresses"
    FILES = "files"
    HOSTS = "hosts"
    MUTEXES = "mutexes"
    REGISTRY_KEYS = "registryKeys"
    URLS = "urls"
    USER_AGENTS = "userAgents"


class TCModel(BaseModel):
    """Base of the wire models: keeps unknown fields, accepts field names and aliases."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


# -- envelopes ------------------------------------------------------------------------


class V2Envelope(TCModel):
    """Every v2 answer: ``{"status": "Success"|"Failure", "message"?: ..., "data"?: {...}}``.

    The entity sits under a key named after its type (``data.task``, ``data.attribute``,
    ``data.tag[]``, ...) and lists carry ``data.resultCount`` on their first page only.
    """

    status: str | None = None
    message: str | None = None
    data: dict[str, Any] | None = None

    @property
    def succeeded(self) -> bool:
        """True when the API reported ``status: Success``."""
        return (self.status or "").lower() == "success"


# -- entities -------------------------------------------------------------------------


class Owner(TCModel):
    """An owner (organization, community or source)."""

    id: int | None = None
    name: str | None = None
    type: str | None = None


class User(TCModel):
    """A ThreatConnect user as an assignee or escalatee."""

    user_name: str = Field(alias="userName")
    first_name: str | None = Field(default=None, alias="firstName")
    last_name: str | None = Field(default=None, alias="lastName")


class Tag(TCModel):
    """A tag applied to a task."""

    name: str
    web_link: str | None = Field(default=None, alias="webLink")


class SecurityLabel(TCModel):
    """A security label (``TLP:AMBER``, ...); labels must exist before they are applied."""

    name: str
    description: str | None = None
    date_added: datetime | None = Field(default=None, alias="dateAdded")


class Attribute(TCModel):
    """A task attribute (``Description``, ``Source``, or an owner-defined type)."""

    id: int | None = None
    type: str
    value: str | None = None
    displayed: bool | None = None
    source: str | None = None
    date_added: datetime | None = Field(default=None, alias="dateAdded")
    last_modified: datetime | None = Field(default=None, alias="lastModified")


class Group(TCModel):
    """A group associated with a task (incident, adversary, ...)."""

    id: int
    name: str | None = None
    type: str | None = None
    owner_name: str | None = Field(default=None, alias="ownerName")
    date_added: datetime | None = Field(default=None, alias="dateAdded")
    web_link: str | None = Field(default=None, alias="webLink")


class Indicator(TCModel):
    """An indicator associated with a task; ``summary`` holds its value."""

    id: int | None = None
    type: str | None = None
    summary: str | None = None
    owner_name: str | None = Field(default=None, alias="ownerName")
    description: str | None = None
    rating: float | None = None
    confidence: int | None = None
    date_added: datetime | None = Field(default=None, alias="dateAdded")
    last_modified: datetime | None = Field(default=None, alias="lastModified")
    web_link: str | None = Field(default=None, alias="webLink")


class Victim(TCModel):
    """A victim associated with a task."""

    id: int
    name: str | None = None
    description: str | None = None
    owner_name: str | None = Field(default=None, alias="ownerName")
    nationality: str | None = None
    org: str | None = None
    suborg: str | None = None
    work_location: str | None = Field(default=None, alias="workLocation")
    web_link: str | None = Field(default=None, alias="webLink")


class Task(TCModel):
    """A v2 threat-intel Task.

    Single answers carry ``owner{}``, list answers ``ownerName``; :attr:`owner_label` gives
    either. ``tag``, ``attribute`` and ``securityLabel`` are present only when included.
    """

    id: int
    name: str = ""
    owner: Owner | None = None
    owner_name: str | None = Field(default=None, alias="ownerName")
    date_added: datetime | None = Field(default=None, alias="dateAdded")
    last_modified: datetime | None = Field(default=None, alias="lastModified")
    web_link: str | None = Field(default=None, alias="webLink")
    status: str | None = None
    description: str | None = None
    escalated: bool | None = None
    reminded: bool | None = None
    overdue: bool | None = None
    due_date: datetime | None = Field(default=None, alias="dueDate")
    reminder_date: datetime | None = Field(default=None, alias="reminderDate")
    escalation_date: datetime | None = Field(default=None, alias="escalationDate")
    assignee: list[User] = Field(default_factory=list)
    escalatee: list[User] = Field(default_factory=list)
    tag: list[Tag] = Field(default_factory=list)
    attribute: list[Attribute] = Field(default_factory=list)
    security_label: list[SecurityLabel] = Field(default_factory=list, alias="securityLabel")

    @property
    def owner_label(self) -> str | None:
        """The owner's name, from ``owner.name`` or ``ownerName``."""
        if self.owner is not None and self.owner.name:
            return self.owner.name
        return self.owner_name


class TaskPage(TCModel):
    """One page of a v2 task list.

    Attributes:
        tasks: The page's tasks.
        result_count: The total, reported only on the first page (``resultStart=0``).
        result_start: The offset requested.
        result_limit: The page size requested.
    """

    tasks: list[Task] = Field(default_factory=list)
    result_count: int | None = None
    result_start: int = 0
    result_limit: int = 100


# -- inputs and results of the composite operations -----------------------------------


class AttributeSpec(TCModel):
    """An attribute to add: ``type`` and ``value``, optionally ``displayed`` and ``source``."""

    type: str = Field(description="Attribute type, e.g. Description or Source.")
    value: str = Field(description="Attribute value.")
    displayed: bool | None = Field(default=None, description="Show the attribute at the top of the task page.")
    source: str | None = Field(default=None, description="Where the value comes from.")


class GroupRef(TCModel):
    """A group to associate: its v2 path type (``incidents``, ...) and id."""

    type: str = Field(description="Group type as in v2 paths, e.g. incidents or adversaries.")
    id: int = Field(description="Group id.")


class IndicatorRef(TCModel):
    """An indicator to associate: its v2 path type (``addresses``, ``urls``, ...) and value."""

    type: str = Field(description="Indicator type as in v2 paths, e.g. addresses, hosts or urls.")
    value: str = Field(description="Indicator value, e.g. 1.2.3.4 or http://example.com/x.")


TRANSIENT_ERRORS = frozenset({"TransportError", "RequestTimeoutError", "ServerError", "RateLimitedError"})
"""Names of the errors worth trying again: the request may not have been applied, and find-or-create is safe."""


class StepFailure(TCModel):
    """One sub-step of a build-then-commit that failed (the task itself exists).

    Attributes:
        step: ``attribute``, ``tag``, ``security_label``, ``group``, ``indicator`` or ``victim``.
        target: What the step was about (tag name, ``type=value``, ...).
        error: The error's type name.
        message: The error's message (secrets redacted).
        status: The HTTP status, when the service answered.
    """

    step: str
    target: str
    error: str
    message: str
    status: int | None = None


class CreateTaskResult(TCModel):
    """What ``create_task`` / ``find_or_create_task`` did.

    Attributes:
        task: The task as created (or found).
        created: False when an existing task was found by its marker.
        attributes: Attributes added.
        tags: Tags added.
        security_labels: Labels added.
        associations: Associations made (``groups/incidents/12``, ``indicators/urls/...``, ``victims/3``).
        failures: Sub-steps that failed; empty when everything was committed.
    """

    task: Task
    created: bool = True
    attributes: list[Attribute] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    security_labels: list[str] = Field(default_factory=list)
    associations: list[str] = Field(default_factory=list)
    failures: list[StepFailure] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no sub-step failed."""
        return not self.failures


class TaskSpec(TCModel):
    """One task for :meth:`ThreatConnectClient.upsert_tasks`: find it by ``marker`` or create it."""

    marker: str = Field(description="External id that identifies the task, e.g. ptsandbox:<scan id>.")
    name: str = Field(description="Task name.")
    status: str | None = Field(
        default=None, description="Not Started, In Progress, Completed, Waiting on Someone or Deferred."
    )
    due_date: datetime | None = Field(default=None, description="Due date.")
    reminder_date: datetime | None = Field(default=None, description="Reminder date.")
    escalation_date: datetime | None = Field(default=None, description="Escalation date.")
    description: str | None = Field(default=None, description="Task description.")
    assignees: list[str] = Field(default_factory=list, description="User names to assign.")
    escalatees: list[str] = Field(default_factory=list, description="User names to escalate to.")
    attributes: list[AttributeSpec] = Field(default_factory=list, description="Attributes to add.")
    tags: list[str] = Field(default_factory=list, description="Tags to apply (created on first use).")
    security_labels: list[str] = Field(default_factory=list, description="Existing security labels to apply.")
    groups: list[GroupRef] = Field(default_factory=list, description="Groups to associate.")
    indicators: list[IndicatorRef] = Field(default_factory=list, description="Indicators to associate.")
    victims: list[int] = Field(default_factory=list, description="Victim ids to associate.")
    owner: str | None = Field(default=None, description="Owner; the client's default owner when empty.")


class TaskUpsertResult(TCModel):
    """The outcome of one :class:`TaskSpec` in a batch.

    Attributes:
        marker: The spec's marker.
        task_id: The ThreatConnect task id (``None`` when the item failed before a task existed).
        created: True when the task was created by this call, False when it already existed.
        failures: Sub-steps that failed.
        error: Why the whole item failed, when it did.
        error_type: The error's class name (``ServerError``, ``BadInputError``...), when it failed.
    """

    marker: str
    task_id: int | None = None
    created: bool = False
    failures: list[StepFailure] = Field(default_factory=list)
    error: str | None = None
    error_type: str | None = None

    @property
    def transient(self) -> bool:
        """True when everything that failed may succeed if tried again (5xx, 429, connection)."""
        kinds = [f.error for f in self.failures] + ([self.error_type or ""] if self.error else [])
        return bool(kinds) and all(kind in TRANSIENT_ERRORS for kind in kinds)

    @property
    def ok(self) -> bool:
        """True when the task exists and nothing failed."""
        return self.error is None and not self.failures


__all__ = [
    "Attribute",
    "AttributeSpec",
    "CreateTaskResult",
    "Group",
    "GroupRef",
    "GroupType",
    "Indicator",
    "IndicatorRef",
    "IndicatorType",
    "Owner",
    "SecurityLabel",
    "StepFailure",
    "Tag",
    "Task",
    "TaskPage",
    "TaskSpec",
    "TaskStatus",
    "TaskUpsertResult",
    "User",
    "V2Envelope",
    "Victim",
]
