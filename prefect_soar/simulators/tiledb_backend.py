"""State of the TileDB Cloud lab: tasks with a lifecycle, stored results with a TTL, the listing filters.

The backend is plain synchronous Python (the FastAPI layer in :mod:`prefect_soar.simulators.tiledb`
only parses and serialises). Time is ``time.time()`` plus an offset that tests move forward with
:meth:`TileDBBackend.advance`, so TTLs and delays can be crossed without sleeping.

Lifecycle of a SQL task: ``POST /sql`` records it ``RUNNING`` with a completion time
``completion_delay_seconds`` ahead; from then on it reads ``COMPLETED`` (or ``FAILED`` when the
query failed). The request itself waits for the completion, since TileDB's ``POST /sql`` is
synchronous; other clients see the task ``RUNNING`` and its stored result answered ``202``
meanwhile. A stored result expires ``result_ttl_seconds`` after completion (then ``404``).
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from prefect_soar.simulators.tiledb_sql import LabSQL, SQLError

DAY = 86400.0
RESULT_FORMATS = ("python_pickle", "r_serialization", "json", "arrow", "bytes", "tiledb_json", "native")
SERVED_FORMATS = {"json": "application/json"}
"""Result formats the lab produces. The spec declares only JSON rows for ``POST /sql``, so the lab
serves ``json`` (also when ``result_format`` is omitted) and refuses the others with a 400."""
ORDER_FIELDS = ("start_time", "finish_time", "name", "status", "namespace", "type")


class TileDBLabSettings(BaseModel):
    """Settings of the TileDB lab.

    Attributes:
        api_key: The API key the lab accepts (``X-TILEDB-REST-API-KEY``).
        username: The user, for Basic auth and as ``username`` of submitted tasks.
        password: The user's password for Basic auth.
        namespace: The organization the lab's user belongs to (the default namespace).
        organizations: Further organizations the user belongs to.
        completion_delay_seconds: How long a submitted SQL task runs before it completes.
        result_ttl_seconds: How long a stored result is kept after completion (TileDB: 24 h).
        default_per_page: Page size of ``GET /tasks`` without ``per_page``.
        max_per_page: Largest page size served (larger asks are clamped).
        seed_history: Seed the task history (else the lab starts empty).
    """

    api_key: str = "lab-tiledb-rest-token-6f1c2a"
    username: str = "lab-analyst"
    password: str = "lab-tiledb-password"
    namespace: str = "soc-lab"
    organizations: list[str] = Field(default_factory=lambda: ["threat-intel"])
    completion_delay_seconds: float = Field(default=0.3, ge=0)
    result_ttl_seconds: float = Field(default=DAY, gt=0)
    default_per_page: int = Field(default=20, ge=1)
    max_per_page: int = Field(default=100, ge=1)
    seed_history: bool = True


class LabError(Exception):
    """An error answer in TileDB's envelope; ``task_id`` goes into ``X-TILEDB-CLOUD-TASK-ID``."""

    def __init__(self, status: int, message: str, *, task_id: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.task_id = task_id


@dataclass
class TaskRecord:
    """One task; its status is derived from the clock (``pending_status`` until ``complete_at``)."""

    id: str
    type: str
    namespace: str
    username: str
    start: float
    final_status: str
    complete_at: float | None
    pending_status: str = "RUNNING"
    name: str | None = None
    description: str | None = None
    status_message: str | None = None
    sql_query: str | None = None
    sql_init_commands: list[str] = field(default_factory=list)
    sql_parameters: list[Any] = field(default_factory=list)
    result_format: str | None = None
    query_type: str | None = None
    udf_language: str | None = None
    udf_code: str | None = None
    array: dict[str, Any] | None = None
    task_graph_uuid: str | None = None
    store_results: bool = False
    dont_download: bool = False
    result: bytes | None = None
    result_media_type: str | None = None
    rows: list[dict[str, Any]] | None = None
    memory: int = 2 * 1024**3
    cpu: int = 16000
    activity: list[dict[str, Any]] = field(default_factory=list)

    def status(self, now: float) -> str:
        """The status at ``now``."""
        if self.complete_at is not None and now >= self.complete_at:
            return self.final_status
        return self.pending_status

    def done(self, now: float) -> bool:
        """Whether the task has reached its final status."""
        return self.complete_at is not None and now >= self.complete_at


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class TileDBBackend:
    """Tasks, SQL and stored results of the TileDB lab (deterministic seed, :meth:`reset`)."""

    def __init__(self, settings: TileDBLabSettings | None = None) -> None:
        self.settings = settings or TileDBLabSettings()
        self.sql = LabSQL()
        self._lock = threading.RLock()
        self._offset = 0.0
        self.tasks: dict[str, TaskRecord] = {}
        self._ids = random.Random(0)
        self.reset()

    # -- clock and state ----------------------------------------------------------------

    def now(self) -> float:
        """The lab's clock, in Unix seconds."""
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the lab's clock forward (tasks complete, results expire) without sleeping."""
        with self._lock:
            self._offset += seconds

    def reset(self) -> None:
        """Back to the seeded history; the clock offset is cleared."""
        with self._lock:
            self._offset = 0.0
            self._ids = random.Random(4242)
            self.tasks = {}
            if self.settings.seed_history:
                for record in _seed_history(self, math.floor(time.time())):
                    self.tasks[record.id] = record

    def new_id(self) -> str:
        """A deterministic task id (the sequence restarts on reset)."""
        return _uuid(self._ids)

    @property
    def namespaces(self) -> set[str]:
        """Namespaces the lab's user may run under: their own and their organizations'."""
        return {self.settings.username, self.settings.namespace, *self.settings.organizations}

    # -- auth -------------------------------------------------------------------------------

    def authenticate(self, api_key: str | None, basic: tuple[str, str] | None) -> str:
        """Return the username for valid credentials, else raise a 401."""
        if api_key is not None and api_key == self.settings.api_key:
            return self.settings.username
        if basic is not None and basic == (self.settings.username, self.settings.password):
            return self.settings.username
        raise LabError(401, "Unauthorized")

    # -- SQL ----------------------------------------------------------------------------------

    def submit_sql(self, namespace: str, body: Any, username: str) -> TaskRecord:
        """Validate ``SQLParameters``, run the query and record the task as RUNNING until it completes."""
        params = _validate_sql_parameters(body)
        if namespace not in self.namespaces:
            raise LabError(403, f"namespace {namespace!r} does not exist or you are not a member of it")
        result_format = params.get("result_format") or "json"
        if result_format not in SERVED_FORMATS:
            raise LabError(
                400, f"result_format {result_format!r} is not served by the lab; use one of {sorted(SERVED_FORMATS)}"
            )
        with self._lock:
            now = self.now()
            record = TaskRecord(
                id=self.new_id(), type="SQL", namespace=namespace, username=username, start=now,
                final_status="COMPLETED", complete_at=now + self.settings.completion_delay_seconds,
                name=params.get("name"), sql_query=params["query"],
                sql_init_commands=list(params.get("init_commands") or []),
                sql_parameters=list(params.get("parameters") or []), result_format=result_format,
                store_results=bool(params.get("store_results")), task_graph_uuid=params.get("task_graph_uuid"),
                dont_download=bool(params.get("dont_download_results")) or bool(params.get("output_uri")),
            )
            try:
                rows = self.sql.execute(record.sql_query or "", record.sql_parameters, namespace=namespace)
            except SQLError as exc:
                record.final_status = "FAILED"
                record.status_message = str(exc)
            else:
                record.rows = rows
                if rows is not None:
                    record.result = json.dumps(rows).encode()
                    record.result_media_type = SERVED_FORMATS[result_format]
            self.tasks[record.id] = record
            return record

    def sql_answer(self, task_id: str) -> tuple[int, bytes, str | None]:
        """The ``POST /sql`` answer once the task is done: ``(status, body, media type)`` or a LabError."""
        with self._lock:
            record = self.tasks[task_id]
            if record.final_status != "COMPLETED":
                raise LabError(400, f"Error running sql: {record.status_message}", task_id=task_id)
            if record.result is None or record.dont_download:
                return 204, b"", None
            return 200, record.result, record.result_media_type

    # -- tasks --------------------------------------------------------------------------------

    def get_task(self, task_id: str) -> dict[str, Any]:
        """``GET /task/{id}`` as wire JSON."""
        with self._lock:
            record = self.tasks.get(task_id)
            if record is None:
                raise LabError(404, f"task {task_id} not found")
            return self.to_wire(record)

    def get_result(self, task_id: str) -> tuple[int, bytes, str | None]:
        """``GET /task/{id}/result``: ``(200, body, media type)``, ``(202, b"", None)`` or a 404 LabError."""
        with self._lock:
            now = self.now()
            record = self.tasks.get(task_id)
            if record is None:
                raise LabError(404, f"task {task_id} not found: results were not saved, or have expired")
            if not record.store_results:
                raise LabError(404, f"results of task {task_id} were not saved (run it with store_results=true)")
            if not record.done(now):
                return 202, b"", None
            if record.final_status != "COMPLETED":
                raise LabError(404, f"task {task_id} ended {record.final_status}; no results were saved")
            assert record.complete_at is not None
            if now >= record.complete_at + self.settings.result_ttl_seconds:
                raise LabError(404, f"results of task {task_id} have expired")
            if record.result is None:
                raise LabError(404, f"task {task_id} returned no rows; no results were saved")
            return 200, record.result, record.result_media_type

    def list_tasks(self, query: list[tuple[str, str]]) -> dict[str, Any]:
        """``GET /tasks`` with every filter of the spec, as wire JSON (``array_tasks`` left out when empty)."""
        params = _TaskFilters.parse(query, self.now(), self.settings)
        with self._lock:
            now = self.now()
            matches = [r for r in self.tasks.values() if params.matches(r, now)]
            matches = params.sort(matches, now)
            total = len(matches)
            per_page = params.per_page
            first = (params.page - 1) * per_page
            page = [self.to_wire(r) for r in matches[first: first + per_page]]
        body: dict[str, Any] = {
            "pagination_metadata": {
                "page": params.page, "per_page": per_page,
                "total_pages": math.ceil(total / per_page), "total_items": total,
            }
        }
        if page:
            body["array_tasks"] = page
        return body

    def to_wire(self, record: TaskRecord) -> dict[str, Any]:
        """One task as ``ArrayTask`` JSON at the lab's current time."""
        now = self.now()
        done = record.done(now)
        finish = record.complete_at if done else None
        elapsed = (finish if finish is not None else now) - record.start
        status = record.status(now)
        wire: dict[str, Any] = {
            "id": record.id,
            "name": record.name or "",
            "username": record.username,
            "description": record.description or "",
            "namespace": record.namespace,
            "status": status,
            "status_message": record.status_message if done else None,
            "start_time": _iso(record.start) if status != "QUEUED" else None,
            "finish_time": _iso(finish) if finish is not None else None,
            "memory": record.memory,
            "cpu": record.cpu,
            "cost": round(max(elapsed, 0) * 0.00012, 6),
            "egress_cost": 0.0,
            "access_cost": 0.0,
            "type": record.type,
            "duration": max(elapsed, 0) * 1e9 if status != "QUEUED" else 0,
            "logs": "" if status != "FAILED" else f"ERROR: {record.status_message}",
            "sql_init_commands": list(record.sql_init_commands),
            "sql_parameters": list(record.sql_parameters),
            "cloud_provider": "AWS",
            "cloud_region": "us-east-1",
        }
        for key in ("sql_query", "query_type", "udf_language", "udf_code", "result_format", "task_graph_uuid"):
            value = getattr(record, key)
            if value is not None:
                wire[key] = value
        if record.array is not None:
            wire["array_metadata"] = dict(record.array)
        if record.activity:
            wire["activity"] = [dict(a) for a in record.activity]
        return wire


def _validate_sql_parameters(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise LabError(400, "request body must be a JSON object (SQLParameters)")
    expected: dict[str, type | tuple[type, ...]] = {
        "name": str, "query": str, "output_uri": str, "store_results": bool, "dont_download_results": bool,
        "resource_class": str, "result_format": str, "init_commands": list, "parameters": list,
        "task_graph_uuid": str, "client_node_uuid": str,
    }
    for key, kind in expected.items():
        if key in body and body[key] is not None and not isinstance(body[key], kind):
            raise LabError(400, f"SQLParameters.{key} has the wrong type")
    if not isinstance(body.get("query"), str) or not body["query"].strip():
        raise LabError(400, "SQLParameters.query is required")
    if body.get("result_format") not in (None, *RESULT_FORMATS):
        raise LabError(400, f"SQLParameters.result_format {body['result_format']!r} is not a ResultFormat")
    if any(not isinstance(c, str) for c in body.get("init_commands") or []):
        raise LabError(400, "SQLParameters.init_commands must be strings")
    return body


@dataclass
class _TaskFilters:
    """Parsed ``GET /tasks`` query. csv params take the last value (as go-swagger binds them)."""

    page: int
    per_page: int
    start: float
    end: float
    namespace: str | None = None
    created_by: str | None = None
    array: str | None = None
    type: str | None = None
    exclude_type: list[str] = field(default_factory=list)
    file_type: list[str] = field(default_factory=list)
    exclude_file_type: list[str] = field(default_factory=list)
    status: str | None = None
    search: str | None = None
    order: tuple[str, bool] = ("start_time", True)

    @classmethod
    def parse(cls, query: list[tuple[str, str]], now: float, settings: TileDBLabSettings) -> _TaskFilters:
        values: dict[str, list[str]] = {}
        for key, value in query:
            values.setdefault(key, []).append(value)

        def last(name: str) -> str | None:
            found = values.get(name)
            return found[-1] if found else None

        def number(name: str, default: int, minimum: int) -> int:
            raw = last(name)
            if raw is None or raw == "":
                return default
            try:
                parsed = int(raw)
            except ValueError:
                raise LabError(400, f"parsing {name} query param: {raw!r} is not an integer") from None
            if parsed < minimum:
                raise LabError(400, f"{name} must be >= {minimum}")
            return parsed

        per_page = min(number("per_page", settings.default_per_page, 1), settings.max_per_page)
        filters = cls(
            page=number("page", 1, 1),
            per_page=per_page,
            start=number("start", math.floor(now - 7 * DAY), 0),
            end=number("end", math.floor(now), 0),
        )
        for name in ("namespace", "created_by", "array", "type", "status", "search"):
            setattr(filters, name, last(name) or None)
        raw_exclude = last("exclude_type")
        filters.exclude_type = [t.strip().upper() for t in raw_exclude.split(",") if t.strip()] if raw_exclude else []
        filters.file_type = [v for v in values.get("file_type", []) if v]
        filters.exclude_file_type = [v for v in values.get("exclude_file_type", []) if v]
        orderby = last("orderby")
        if orderby:
            parts = orderby.replace(",", " ").split()
            key = parts[0].lower()
            direction = parts[1].lower() if len(parts) > 1 else ("desc" if key.endswith("_time") else "asc")
            if key not in ORDER_FIELDS or direction not in ("asc", "desc") or len(parts) > 2:
                raise LabError(400, f"orderby {orderby!r}: use one of {', '.join(ORDER_FIELDS)} [asc|desc]")
            filters.order = (key, direction == "desc")
        return filters

    def matches(self, record: TaskRecord, now: float) -> bool:
        array = record.array or {}
        checks = (
            self.start <= math.floor(record.start) <= self.end,
            self.namespace is None or record.namespace == self.namespace,
            self.created_by is None or record.username == self.created_by,
            self.array is None or self.array in (array.get("name"), array.get("uri"), array.get("tiledb_uri")),
            self.type is None or record.type == self.type.upper(),
            record.type not in self.exclude_type,
            not self.file_type or array.get("file_type") in self.file_type,
            not self.exclude_file_type or array.get("file_type") not in self.exclude_file_type,
            self.status is None or record.status(now) == self.status.upper(),
            self.search is None or any(
                self.search.lower() in (text or "").lower()
                for text in (record.name, record.namespace, record.description)
            ),
        )
        return all(checks)

    def sort(self, records: list[TaskRecord], now: float) -> list[TaskRecord]:
        key, descending = self.order

        def value(record: TaskRecord) -> Any:
            if key == "start_time":
                return record.start
            if key == "finish_time":
                return record.complete_at if record.done(now) else math.inf
            if key == "status":
                return record.status(now)
            return (getattr(record, key) or "").lower()

        return sorted(records, key=lambda r: (value(r), r.id), reverse=descending)


def _array(name: str, namespace: str, file_type: str | None, kind: str = "sparse") -> dict[str, Any]:
    info: dict[str, Any] = {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"tiledb://{namespace}/{name}")),
        "name": name,
        "namespace": namespace,
        "uri": f"s3://soc-lab-arrays/{namespace}/{name}",
        "tiledb_uri": f"tiledb://{namespace}/{name}",
        "type": kind,
        "tags": [],
        "public_share": False,
    }
    if file_type:
        info["file_type"] = file_type
    return info


def _seed_history(backend: TileDBBackend, now: int) -> list[TaskRecord]:
    """A deterministic task history over the last ten days (some older than the default 7-day window)."""
    rng = random.Random(7)
    settings = backend.settings
    org, intel, me = settings.namespace, (settings.organizations or ["threat-intel"])[0], settings.username
    events_q = "SELECT host, event_type, severity FROM security_events WHERE severity = 'critical' LIMIT 20"
    specs: list[dict[str, Any]] = [
        {"type": "SQL", "ns": org, "user": me, "name": "daily-critical-events", "sql": events_q, "store": True,
         "ago": 2 * 3600},
        {"type": "SQL", "ns": org, "user": me, "name": "daily-critical-events", "sql": events_q, "store": True,
         "ago": 30 * 3600},
        {"type": "SQL", "ns": org, "user": "svc-soar", "name": "edr-alert-rollup", "status": "FAILED",
         "sql": "SELECT * FROM edr_alerts WHERE ts > NOW() - INTERVAL 1 DAY",
         "message": f"Table '{org}.edr_alerts' doesn't exist", "ago": 5 * 3600},
        {"type": "SQL", "ns": org, "user": "svc-soar", "name": "edr-alert-rollup", "status": "FAILED",
         "sql": "SELECT * FROM edr_alerts WHERE ts > NOW() - INTERVAL 1 DAY",
         "message": f"Table '{org}.edr_alerts' doesn't exist", "ago": 29 * 3600},
        {"type": "SQL", "ns": intel, "user": "jdoe", "name": "ioc-confidence-report", "ago": 3 * DAY,
         "sql": "SELECT indicator, confidence FROM iocs WHERE confidence >= 80 ORDER BY confidence DESC"},
        {"type": "SQL", "ns": intel, "user": "jdoe", "name": "ioc-join-sightings", "status": "FAILED", "ago": 4 * DAY,
         "sql": "SELECT * FROM iocs i JOIN sightings s ON s.indicator = i.indicator",
         "message": "Query execution was interrupted, maximum statement execution time exceeded"},
        {"type": "SQL", "ns": org, "user": me, "name": "hunt-lateral-movement", "status": "RESOURCES_UNAVAILABLE",
         "sql": "SELECT * FROM security_events", "message": "no workers available in resource class large",
         "ago": 6 * DAY},
        {"type": "SQL", "ns": org, "user": me, "name": "legacy-denied-query", "status": "DENIED",
         "sql": "SELECT * FROM hosts", "message": "resources unavailable", "ago": 9 * DAY},
        {"type": "UDF", "ns": org, "user": "svc-soar", "name": "enrich-ioc-batch", "file": "user_defined_function",
         "array": "enrich_iocs", "ago": 1 * DAY},
        {"type": "UDF", "ns": org, "user": "svc-soar", "name": "enrich-ioc-batch", "file": "user_defined_function",
         "array": "enrich_iocs", "status": "FAILED", "message": "ModuleNotFoundError: No module named 'vt'",
         "ago": 2 * DAY},
        {"type": "GENERIC_UDF", "ns": intel, "user": "jdoe", "name": "score-phishing-urls", "ago": 2.5 * DAY},
        {"type": "BATCH_UDF", "ns": org, "user": "svc-soar", "name": "nightly-ioc-sweep", "status": "RUNNING",
         "store": True, "ago": 600, "graph": True},
        {"type": "BATCH_UDF", "ns": org, "user": "svc-soar", "name": "nightly-ioc-sweep", "graph": True,
         "status": "CANCELLED", "message": "task graph cancelled by user", "ago": 1.5 * DAY},
        {"type": "QUERY", "ns": org, "user": me, "name": "read-netflow", "array": "netflow_2025", "query": "READ",
         "ago": 7 * 3600},
        {"type": "QUERY", "ns": org, "user": "svc-soar", "name": "write-netflow", "array": "netflow_2025",
         "query": "WRITE", "ago": 8 * 3600},
        {"type": "QUERY", "ns": org, "user": "svc-soar", "name": "write-netflow", "array": "netflow_2025",
         "query": "WRITE", "status": "FAILED", "message": "[TileDB::Query] Error: write failed, out of bounds",
         "ago": 3.2 * DAY},
        {"type": "QUERY", "ns": intel, "user": "jdoe", "name": "read-malware-model", "array": "phish_classifier",
         "file": "ml_model", "query": "READ", "ago": 4.5 * DAY},
        {"type": "QUERY", "ns": me, "user": me, "name": "open-triage-notebook", "array": "triage_notebook",
         "file": "notebook", "query": "READ", "ago": 20 * 3600},
        {"type": "QUERY", "ns": org, "user": me, "name": "download-pcap", "array": "incident_4711_pcap",
         "file": "file", "query": "READ", "ago": 5.5 * DAY},
        {"type": "GENERIC_UDF", "ns": org, "user": "svc-soar", "name": "queued-retrain", "status": "QUEUED",
         "ago": 60},
        {"type": "SQL", "ns": intel, "user": "jdoe", "name": "old-quarter-report", "ago": 12 * DAY,
         "sql": "SELECT COUNT(*) AS n FROM iocs"},
    ]
    for index in range(24):
        specs.append({
            "type": "SQL", "ns": org if index % 3 else intel, "user": ("svc-soar", me, "jdoe")[index % 3],
            "name": f"hourly-auth-failures-{index:02d}", "ago": 3600 * (index * 6 + 1) + 300,
            "sql": "SELECT COUNT(*) AS failures FROM security_events WHERE event_type = 'login_failure'",
        })
    records = []
    for spec in specs:
        start = float(now - int(spec["ago"]))
        runtime = 2.0 + rng.randrange(0, 40)
        status = spec.get("status", "COMPLETED")
        pending = status in ("RUNNING", "QUEUED")
        record = TaskRecord(
            id=_uuid(rng), type=spec["type"], namespace=spec["ns"], username=spec["user"], start=start,
            final_status="COMPLETED" if pending else status,
            complete_at=None if pending else start + runtime,
            pending_status=status if pending else "RUNNING",
            name=spec["name"], description=f"{spec['name']} ({spec['type'].lower()})",
            status_message=spec.get("message"), store_results=bool(spec.get("store")),
            query_type=spec.get("query"),
        )
        if spec["type"] == "SQL":
            record.sql_query = spec["sql"]
            record.result_format = "json"
            if status == "COMPLETED":
                rows = backend.sql.execute(spec["sql"], namespace=spec["ns"])
                if rows is not None:
                    record.result = json.dumps(rows).encode()
                    record.result_media_type = SERVED_FORMATS["json"]
        elif spec["type"] in ("UDF", "GENERIC_UDF", "BATCH_UDF"):
            record.udf_language = "python"
            record.udf_code = "def handler(data):\n    return enrich(data)\n"
            record.result_format = "json"
        if spec.get("graph"):
            record.task_graph_uuid = _uuid(rng)
        if spec.get("array"):
            kind = "dense" if spec.get("file") else "sparse"
            record.array = _array(spec["array"], spec["ns"], spec.get("file"), kind)
            action = {"READ": "query_read", "WRITE": "query_write"}.get(spec.get("query") or "", "udf")
            record.activity = [{
                "id": _uuid(rng), "event_at": _iso(start + 1), "action": action, "username": spec["user"],
                "bytes_sent": rng.randrange(1, 1 << 24), "bytes_received": rng.randrange(0, 1 << 16),
                "array_task_id": record.id,
            }]
        records.append(record)
    return records


__all__ = ["LabError", "TaskRecord", "TileDBBackend", "TileDBLabSettings"]
