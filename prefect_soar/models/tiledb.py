"""TileDB Cloud v1 wire models for tasks and serverless SQL, after the official ``openapi-v1.yaml``.

Field names are the spec's snake_case names exactly. Every model keeps unknown fields
(``extra="allow"``), tolerates missing or ``null`` lists, and accepts whole numbers sent as
floats (``1.0``): the spec types ``pagination_metadata`` as ``number/uint64``. Enumerations are
"soft": the StrEnums document the known values, the models store plain strings so a value a
newer server adds is kept, not rejected (``task.status == ArrayTaskStatus.FAILED`` works).

:class:`SQLResult` and :class:`TaskResult` are not wire objects: they are what the client makes
of a ``POST /sql/{namespace}`` answer and of a ``GET /task/{id}/result`` answer.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


class ArrayTaskStatus(StrEnum):
    """Statuses of a task (``ArrayTaskStatus``). ``DENIED`` is the deprecated name of ``RESOURCES_UNAVAILABLE``."""

    QUEUED = "QUEUED"
    FAILED = "FAILED"
    COMPLETED = "COMPLETED"
    RUNNING = "RUNNING"
    RESOURCES_UNAVAILABLE = "RESOURCES_UNAVAILABLE"
    UNKNOWN = "UNKNOWN"
    CANCELLED = "CANCELLED"
    DENIED = "DENIED"


TERMINAL_STATUSES: frozenset[str] = frozenset(
    status.value
    for status in (
        ArrayTaskStatus.COMPLETED,
        ArrayTaskStatus.FAILED,
        ArrayTaskStatus.CANCELLED,
        ArrayTaskStatus.RESOURCES_UNAVAILABLE,
        ArrayTaskStatus.DENIED,
    )
)
"""Statuses a task never leaves. ``QUEUED``, ``RUNNING`` and ``UNKNOWN`` are transient."""

UNSUCCESSFUL_STATUSES: frozenset[str] = TERMINAL_STATUSES - {ArrayTaskStatus.COMPLETED.value}
"""Terminal statuses that mean the task did not produce its result."""


class ArrayTaskType(StrEnum):
    """Kinds of task (``ArrayTaskType``)."""

    SQL = "SQL"
    UDF = "UDF"
    QUERY = "QUERY"
    GENERIC_UDF = "GENERIC_UDF"
    BATCH_UDF = "BATCH_UDF"
    CLIENT_COMPUTATION = "CLIENT_COMPUTATION"


class ResultFormat(StrEnum):
    """Formats a result can be delivered in (``ResultFormat``); ``native`` is deprecated."""

    PYTHON_PICKLE = "python_pickle"
    R_SERIALIZATION = "r_serialization"
    JSON = "json"
    ARROW = "arrow"
    BYTES = "bytes"
    TILEDB_JSON = "tiledb_json"
    NATIVE = "native"


class QueryType(StrEnum):
    """Whether a ``QUERY`` task read, wrote or deleted (``Querytype``)."""

    READ = "READ"
    WRITE = "WRITE"
    DELETE = "DELETE"


class FileType(StrEnum):
    """File types stored as TileDB arrays (``FileType``), the values of the ``file_type`` filters."""

    NOTEBOOK = "notebook"
    USER_DEFINED_FUNCTION = "user_defined_function"
    ML_MODEL = "ml_model"
    FILE = "file"
    REGISTERED_TASK_GRAPH = "registered_task_graph"


def _list_or_empty(value: Any) -> Any:
    return [] if value is None else value


TolerantList = Annotated[list[Any], BeforeValidator(_list_or_empty)]
TolerantStrList = Annotated[list[str], BeforeValidator(_list_or_empty)]

_WIRE = ConfigDict(extra="allow", populate_by_name=True)


class ArrayActivityLog(BaseModel):
    """One array activity entry of a task (``ArrayActivityLog``)."""

    model_config = _WIRE

    id: str | None = Field(default=None, description="Activity id.")
    event_at: datetime | None = Field(default=None, description="When the event took place.")
    action: str | None = Field(default=None, description="Event type (``ActivityEventType``), e.g. ``query_read``.")
    username: str | None = Field(default=None, description="User who performed the action.")
    bytes_sent: int | None = Field(default=None, description="Bytes sent to the client.")
    bytes_received: int | None = Field(default=None, description="Bytes received from the client.")
    array_task_id: str | None = Field(default=None, description="Task the activity belongs to.")
    query_ranges: str | None = Field(default=None, description="Query ranges, a JSON string.")
    query_stats: str | None = Field(default=None, description="Query statistics, a JSON string.")


class ArrayTask(BaseModel):
    """A task: a SQL query, UDF or array query run by TileDB Cloud (``ArrayTask``; every field optional)."""

    model_config = _WIRE

    id: str | None = Field(default=None, description="Task id (a UUID in practice).")
    name: str | None = Field(default=None, description="Optional task name.")
    username: str | None = Field(default=None, description="User who ran the task.")
    description: str | None = Field(default=None, description="Optional description.")
    namespace: str | None = Field(default=None, description="Namespace the task ran under and was charged to.")
    status: str | None = Field(default=None, description="Status; see :class:`ArrayTaskStatus`.")
    status_message: str | None = Field(default=None, description="Why the task is in its status (e.g. the error).")
    start_time: datetime | None = Field(default=None, description="Start time.")
    finish_time: datetime | None = Field(default=None, description="Finish time.")
    type: str | None = Field(default=None, description="Task type; see :class:`ArrayTaskType`.")
    query_type: str | None = Field(default=None, description="READ, WRITE or DELETE for QUERY tasks.")
    memory: int | None = Field(default=None, description="Memory allocated, in bytes.")
    cpu: int | None = Field(default=None, description="CPU allocated, in millicpu.")
    cost: float | None = Field(default=None, description="Total cost in USD.")
    egress_cost: float | None = Field(default=None, description="Egress cost in USD.")
    access_cost: float | None = Field(default=None, description="Access cost in USD.")
    duration: float | None = Field(default=None, description="Duration in nanoseconds.")
    sql_query: str | None = Field(default=None, description="The SQL text of a SQL task.")
    sql_init_commands: TolerantStrList = Field(default_factory=list, description="Commands run before the query.")
    sql_parameters: TolerantList = Field(default_factory=list, description="Positional query parameters.")
    udf_code: str | None = Field(default=None, description="UDF code.")
    udf_language: str | None = Field(default=None, description="UDF language.")
    result_format: str | None = Field(default=None, description="Result format; see :class:`ResultFormat`.")
    logs: str | None = Field(default=None, description="Task logs.")
    activity: Annotated[list[ArrayActivityLog], BeforeValidator(_list_or_empty)] = Field(
        default_factory=list, description="Array activity of the task."
    )
    array_metadata: dict[str, Any] | None = Field(default=None, description="The array the task used (``ArrayInfo``).")
    subarray: Any = Field(default=None, description="The subarray the task ran on (``DomainArray``).")
    task_graph_uuid: str | None = Field(default=None, description="Task graph log id, when part of a graph.")
    client_node_uuid: str | None = Field(default=None, description="Client-defined node id within the graph.")
    cloud_provider: str | None = Field(default=None, description="Cloud provider that ran the task.")
    cloud_region: str | None = Field(default=None, description="Cloud region that ran the task.")

    @property
    def is_terminal(self) -> bool:
        """Whether the task reached a status it never leaves."""
        return self.status in TERMINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        """Whether the task completed."""
        return self.status == ArrayTaskStatus.COMPLETED

    @property
    def duration_seconds(self) -> float | None:
        """``duration`` converted from nanoseconds to seconds."""
        return None if self.duration is None else self.duration / 1e9


class PaginationMetadata(BaseModel):
    """Page position of a listing (``PaginationMetadata``); ``page`` is 1-based."""

    model_config = _WIRE

    page: int | None = Field(default=None, description="This page, 1-based.")
    per_page: int | None = Field(default=None, description="Page size.")
    total_pages: int | None = Field(default=None, description="Pages in the listing at this page size.")
    total_items: int | None = Field(default=None, description="Items in the listing.")


class ArrayTaskData(BaseModel):
    """One page of tasks (``ArrayTaskData``); ``array_tasks`` is omitted by the server on an empty page."""

    model_config = _WIRE

    array_tasks: Annotated[list[ArrayTask], BeforeValidator(_list_or_empty)] = Field(
        default_factory=list, description="The tasks of this page."
    )
    pagination_metadata: PaginationMetadata | None = Field(default=None, description="Page position.")


class SQLParameters(BaseModel):
    """The body of ``POST /sql/{namespace}`` (``SQLParameters``). Unset fields are not sent."""

    model_config = _WIRE

    name: str | None = Field(default=None, description="Task name.")
    query: str | None = Field(default=None, description="The SQL text.")
    output_uri: str | None = Field(default=None, description="Array to write the result to, e.g. ``s3://bucket/arr``.")
    store_results: bool | None = Field(default=None, description="Keep the result for ``GET /task/{id}/result``.")
    dont_download_results: bool | None = Field(default=None, description="Do not send the result back.")
    resource_class: str | None = Field(default=None, description="Resource class, e.g. ``standard``.")
    result_format: str | None = Field(default=None, description="Result format; see :class:`ResultFormat`.")
    init_commands: list[str] | None = Field(default=None, description="Commands run before the query.")
    parameters: list[Any] | None = Field(default=None, description="Positional ``?`` parameters.")
    task_graph_uuid: str | None = Field(default=None, description="Task graph log id.")
    client_node_uuid: str | None = Field(default=None, description="Client-defined node id within the graph.")

    def to_wire(self) -> dict[str, Any]:
        """The JSON body: set fields only, exact names."""
        return self.model_dump(mode="json", exclude_none=True)


class TileDBErrorBody(BaseModel):
    """The error envelope (``Error``): ``{"code", "message", "request_id"}``."""

    model_config = _WIRE

    code: int | None = Field(default=None, description="Error code (often the HTTP status).")
    message: str | None = Field(default=None, description="Error message.")
    request_id: str | None = Field(default=None, description="Request id to quote to TileDB support.")


class SQLResult(BaseModel):
    """What ``POST /sql/{namespace}`` answered: the task id and the rows.

    ``rows`` holds decoded JSON rows (``None`` on 204: executed, no rows). A result in another
    format (``arrow``, ``python_pickle``, ...), or JSON that is not an array of objects, is kept
    undecoded in ``data``, with its ``content_type``.
    """

    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    task_id: str | None = Field(default=None, description="The ``X-TILEDB-CLOUD-TASK-ID`` response header.")
    status_code: int = Field(description="HTTP status: 200 with a result, 204 without.")
    rows: list[dict[str, Any]] | None = Field(default=None, description="JSON rows, or None when there are none.")
    content_type: str | None = Field(default=None, description="Media type of the result.")
    data: bytes | None = Field(default=None, description="Undecoded result body for non-JSON formats.")


ResultState = Literal["ready", "running", "missing"]


class TaskResult(BaseModel):
    """What ``GET /task/{id}/result`` answered, one of three distinct outcomes.

    * ``ready`` (HTTP 200): ``value`` holds the decoded JSON (``+json`` types too), or ``data``
      the raw bytes of any other format (Arrow, pickle, ...), with ``content_type``;
    * ``running`` (HTTP 202): the task is still executing; ask again later;
    * ``missing`` (HTTP 404): the result was not stored (run with ``store_results``), has
      expired (TileDB keeps results up to 24 h), or the task is unknown; ``message`` says which.
    """

    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    task_id: str = Field(description="The task id asked about.")
    status: ResultState = Field(description="ready (200), running (202) or missing (404).")
    content_type: str | None = Field(default=None, description="Media type of a ready result.")
    value: Any = Field(default=None, description="Decoded JSON result.")
    data: bytes | None = Field(default=None, description="Raw bytes of a non-JSON result.")
    message: str | None = Field(default=None, description="The API's message for a missing result.")

    @property
    def ready(self) -> bool:
        """Whether the result is here."""
        return self.status == "ready"

    @property
    def rows(self) -> list[dict[str, Any]] | None:
        """The result as rows, when it is a JSON array of objects."""
        if isinstance(self.value, list) and all(isinstance(row, dict) for row in self.value):
            return self.value
        return None


__all__ = [
    "TERMINAL_STATUSES",
    "UNSUCCESSFUL_STATUSES",
    "ArrayActivityLog",
    "ArrayTask",
    "ArrayTaskData",
    "ArrayTaskStatus",
    "ArrayTaskType",
    "FileType",
    "PaginationMetadata",
    "QueryType",
    "ResultFormat",
    "ResultState",
    "SQLParameters",
    "SQLResult",
    "TaskResult",
    "TileDBErrorBody",
]
