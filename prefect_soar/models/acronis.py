"""Wire models of the Acronis Cyber Protect Cloud Task Manager API v2 (and its OAuth2 token).

Every model is tolerant: unknown fields are kept (``extra="allow"``, since ``lod`` changes which
fields appear), every field but ``id`` is optional, and enum-like fields are plain strings whose
known values are listed by the ``StrEnum`` classes below (an unknown value is kept, not rejected).

Task and activity ids are int64 values above 2**53: Python's ``json`` parses them exactly, and
when the wire also carries ``idString`` that string wins, so an id that went through a float
somewhere upstream is still exact here.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError, model_validator


class TaskState(StrEnum):
    """Known task and activity states; the only terminal one is ``completed``."""

    ENQUEUED = "enqueued"
    ASSIGNED = "assigned"
    STARTED = "started"
    PAUSED = "paused"
    COMPLETED = "completed"


class ResultCode(StrEnum):
    """Known ``result.code`` values of a completed task (filter name ``resultCode``)."""

    OK = "ok"
    ERROR = "error"
    WARNING = "warning"
    CANCELLED = "cancelled"
    ABANDONED = "abandoned"
    TIMEDOUT = "timedout"


class TaskPriority(StrEnum):
    """Known task priorities."""

    LOW = "low"
    BELOW_NORMAL = "belowNormal"
    NORMAL = "normal"
    ABOVE_NORMAL = "aboveNormal"
    HIGH = "high"


class LevelOfDetail(StrEnum):
    """Known values of the ``lod`` (level of detail) query parameter."""

    TINY = "tiny"
    SHORT = "short"
    LONG = "long"
    FULL = "full"
    DEBUG = "debug"
    COUNT = "count"


SUCCESS_CODES: frozenset[str] = frozenset({ResultCode.OK, ResultCode.WARNING})
"""Result codes a live consumer counts as success; everything else completed is a failure or a cancel."""

_DATETIME = TypeAdapter(datetime)


def _lenient_datetime(value: Any) -> datetime | None:
    """``None`` for null, empty or unparseable timestamps (seen in the wild), else the parsed value.

    Nanosecond fractions are truncated to microseconds: a watermark taken from such a value is
    at most 1 µs early, so an inclusive (``ge``) query repeats an item rather than skipping it.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    try:
        return _DATETIME.validate_python(value)
    except ValidationError:
        return None


LenientDatetime = Annotated[datetime | None, BeforeValidator(_lenient_datetime)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


def _exact_id(data: Any, id_key: str, string_key: str) -> Any:
    """Take an int64 id from its string twin when present, so it stays exact."""
    if isinstance(data, dict):
        text = data.get(string_key)
        if isinstance(text, str) and text.isascii() and text.isdigit():
            data = {**data, id_key: int(text)}
        elif isinstance(data.get(id_key), str) and data[id_key].isascii() and data[id_key].isdigit():
            data = {**data, id_key: int(data[id_key])}
    return data


class Token(_Wire):
    """The token endpoint's answer (``POST /api/2/idp/token``).

    Attributes:
        access_token: The bearer token.
        token_type: ``bearer``.
        expires_on: Absolute expiry, Unix seconds (what the client-credentials grant returns).
        expires_in: Relative lifetime in seconds (other grants); used when ``expires_on`` is absent.
        id_token: An OpenID id token, unused here.
    """

    access_token: str
    token_type: str | None = None
    expires_on: float | None = None
    expires_in: float | None = None
    id_token: str | None = None

    def __repr__(self) -> str:  # never print the token
        return f"Token(token_type={self.token_type!r}, expires_on={self.expires_on!r}, expires_in={self.expires_in!r})"

    __str__ = __repr__


class ErrorDetail(_Wire):
    """The ``error`` object of the Acronis error envelope, or of a task's result."""

    code: int | str | None = None
    message: str | None = None
    domain: str | None = None
    reason: str | None = None
    details: Any = None
    context: Any = None


class ErrorEnvelope(_Wire):
    """``{"error": {...}}``, the body of every Acronis error answer."""

    error: ErrorDetail | None = None


class TaskResult(_Wire):
    """``result`` of a completed task or activity."""

    code: str | None = Field(None, description="A ResultCode value.")
    payload: Any = None
    error: ErrorDetail | None = None


class Tenant(_Wire):
    """The owning tenant; ``id`` is a numeric string (legacy tenant id), not a UUID."""

    id: str | None = None
    locator: str | None = None
    name: str | None = None


class Node(_Wire):
    """An ``issuer`` or ``executor``: an agent or service id in a cluster."""

    cluster_id: str | None = Field(None, alias="clusterId")
    id: str | None = None


class ObjectRef(_Wire):
    """A ``resource`` (machine, database, ...) or ``policy`` a task works on."""

    id: str | None = None
    type: str | None = None
    name: str | None = None


class Task(_Wire):
    """A Task Manager task (``GET /tasks``, ``GET /tasks/{id}``).

    ``lod`` decides which fields the service sends; everything but ``id`` may be missing.
    """

    id: int
    id_string: str | None = Field(None, alias="idString")
    uuid: str | None = None
    type: str | None = None
    queue: str | None = None
    priority: str | None = Field(None, description="A TaskPriority value.")
    state: str | None = Field(None, description="A TaskState value.")
    cancellable: bool | None = None
    cancel_requested: bool | None = Field(None, alias="cancelRequested")
    enqueued_at: LenientDatetime = Field(None, alias="enqueuedAt")
    assigned_at: LenientDatetime = Field(None, alias="assignedAt")
    started_at: LenientDatetime = Field(None, alias="startedAt")
    completed_at: LenientDatetime = Field(None, alias="completedAt")
    updated_at: LenientDatetime = Field(None, alias="updatedAt")
    started_by_user: str | None = Field(None, alias="startedByUser")
    issuer: Node | None = None
    executor: Node | None = None
    tenant: Tenant | None = None
    resource: ObjectRef | None = None
    policy: ObjectRef | None = None
    result: TaskResult | None = None
    error: ErrorDetail | None = None
    context: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _exact(cls, data: Any) -> Any:
        return _exact_id(data, "id", "idString")

    @property
    def key(self) -> str:
        """A stable string key for the task (``idString``), safe for JSON tooling."""
        return self.id_string or str(self.id)

    @property
    def is_completed(self) -> bool:
        """Whether the task reached its only terminal state, ``completed``."""
        return self.state == TaskState.COMPLETED

    @property
    def result_code(self) -> str | None:
        """``result.code`` when the task completed, else ``None``."""
        return self.result.code if self.result else None

    @property
    def succeeded(self) -> bool:
        """Completed with ``ok`` or ``warning``."""
        return self.is_completed and self.result_code in SUCCESS_CODES

    @property
    def failed(self) -> bool:
        """Completed with any other result code (``error``, ``abandoned``, ``timedout``, ``cancelled``, ...)."""
        return self.is_completed and self.result_code is not None and self.result_code not in SUCCESS_CODES

    @property
    def error_message(self) -> str | None:
        """The most specific error text the task carries (result error reason/message, or top-level error)."""
        for err in (self.result.error if self.result else None, self.error):
            if err is not None:
                text = err.reason or err.message
                if text:
                    return text
        return None


class Activity(_Wire):
    """A Task Manager activity (``GET /activities``): a step of a task, linked by ``taskId``."""

    id: int
    id_string: str | None = Field(None, alias="idString")
    uuid: str | None = None
    task_id: int | None = Field(None, alias="taskId")
    task_id_string: str | None = Field(None, alias="taskIdString")
    parent_activity_id: int | None = Field(None, alias="parentActivityId")
    parent_activity_id_string: str | None = Field(None, alias="parentActivityIdString")
    type: str | None = None
    state: str | None = Field(None, description="A TaskState value.")
    sustainable: bool | None = None
    result: TaskResult | None = None
    created_at: LenientDatetime = Field(None, alias="createdAt")
    started_at: LenientDatetime = Field(None, alias="startedAt")
    completed_at: LenientDatetime = Field(None, alias="completedAt")
    updated_at: LenientDatetime = Field(None, alias="updatedAt")
    executor: Node | None = None
    tenant: Tenant | None = None
    policy: ObjectRef | None = None
    resource: ObjectRef | None = None
    started_by_user: str | None = Field(None, alias="startedByUser")
    context: dict[str, Any] | None = None
    progress: Any = None

    @model_validator(mode="before")
    @classmethod
    def _exact(cls, data: Any) -> Any:
        data = _exact_id(data, "id", "idString")
        data = _exact_id(data, "taskId", "taskIdString")
        return _exact_id(data, "parentActivityId", "parentActivityIdString")

    @property
    def result_code(self) -> str | None:
        """``result.code`` when present."""
        return self.result.code if self.result else None


class Cursors(_Wire):
    """Paging tokens: ``after`` (next page) and ``before`` (previous page)."""

    after: str | None = None
    before: str | None = None


class Paging(_Wire):
    """``paging`` of a list answer."""

    cursors: Cursors | None = None


ItemT = TypeVar("ItemT", bound=BaseModel)


class Page(_Wire, Generic[ItemT]):
    """One page of a list answer: ``{items, paging: {cursors: {after, before}}, size, timeStamp}``.

    The cursors are read from ``paging.cursors`` or, as some answers have them, from a top-level
    ``cursors``.
    """

    items: list[ItemT] = Field(default_factory=list)
    paging: Paging | None = None
    cursors: Cursors | None = None
    size: int | None = None
    time_stamp: str | None = Field(None, alias="timeStamp")

    @model_validator(mode="before")
    @classmethod
    def _null_items(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("items") is None and "items" in data:
            data = {**data, "items": []}
        return data

    def _cursor(self, name: str) -> str | None:
        for holder in (self.paging.cursors if self.paging else None, self.cursors):
            value = getattr(holder, name, None) if holder is not None else None
            if value:
                return str(value)
        return None

    @property
    def after(self) -> str | None:
        """The next page's cursor, or ``None`` on the last page."""
        return self._cursor("after")

    @property
    def before(self) -> str | None:
        """The previous page's cursor, when the service gives one."""
        return self._cursor("before")


class TaskPage(Page[Task]):
    """A page of tasks."""


class ActivityPage(Page[Activity]):
    """A page of activities."""


__all__ = [
    "SUCCESS_CODES",
    "Activity",
    "ActivityPage",
    "Cursors",
    "ErrorDetail",
    "ErrorEnvelope",
    "LevelOfDetail",
    "Node",
    "ObjectRef",
    "Page",
    "Paging",
    "ResultCode",
    "Task",
    "TaskPage",
    "TaskPriority",
    "TaskResult",
    "TaskState",
    "Tenant",
    "Token",
]
