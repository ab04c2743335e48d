"""State and behaviour of the Acronis Task Manager emulator, with no HTTP in it.

* :class:`AcronisBackend` holds the seeded tasks and activities, the issued tokens and the lab
  clock, and answers the API's operations (``issue_token``, ``authenticate``, ``list``, ``get_task``).
* Queries are parsed here like the service does: ``field=op(value)`` date conditions with the
  operators ``gt/ge/lt/le/eq`` and values in the six Go layouts (RFC3339, RFC1123, RFC850, ANSIC,
  Unix seconds, Unix nanoseconds with ``ns``); anything else is a 400 in the error envelope.
* Cursors are opaque, signed, standard base64 (with ``+``, ``/`` and ``=``, so clients must
  URL-encode them). They encode the whole query (filters, order, lod, limit) and the sort key of
  the page's last (or first) item, so a next page needs only ``after`` (and optionally ``limit``),
  and paging is keyset-based: no duplicates or gaps while items keep their sort key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import uuid as uuid_module
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prefect_soar.simulators.acronis_data import SECOND, LabActivity, LabTask, generate

TASK_DOMAIN = "TaskManager"
ACCOUNT_DOMAIN = "PlatformAccountServer"
STATES = ("enqueued", "assigned", "started", "paused", "completed")
RESULT_CODES = ("ok", "error", "warning", "cancelled", "abandoned", "timedout")
PRIORITIES = ("low", "belowNormal", "normal", "aboveNormal", "high")
LODS = ("tiny", "short", "long", "full", "debug", "count")
OPERATORS = ("gt", "ge", "lt", "le", "eq")
TIME_KEYS = frozenset({"enqueuedAt", "assignedAt", "startedAt", "completedAt", "updatedAt", "createdAt"})
TINY_KEYS = ("id", "idString", "uuid", "type", "state")
SHORT_KEYS = (*TINY_KEYS, "queue", "priority", "taskId", "taskIdString", "parentActivityId", "parentActivityIdString",
              "enqueuedAt", "createdAt", "startedAt", "completedAt", "updatedAt", "tenant", "resource", "policy",
              "cancellable")


class AcronisAPIError(Exception):
    """An error answer in the Acronis envelope ``{"error": {code, message, domain, details}}``."""

    def __init__(self, status: int, message: str, *, code: int | str | None = None, domain: str = TASK_DOMAIN,
                 details: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code if code is not None else status
        self.domain = domain
        self.details = details or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON body."""
        return error_body(self.status, self.message, code=self.code, domain=self.domain, details=self.details)


def error_body(status: int, message: str, *, code: int | str | None = None, domain: str = TASK_DOMAIN,
               details: dict[str, Any] | None = None) -> dict[str, Any]:
    """Render the Acronis error envelope."""
    return {"error": {"code": code if code is not None else status, "message": message, "domain": domain,
                      "details": details or {}, "context": {}}}


def _bad(message: str, **details: Any) -> AcronisAPIError:
    return AcronisAPIError(400, message, details=details)


# -- Go time layouts -----------------------------------------------------------------------

_GO_ZONE = re.compile(r"ChST|MeST|WITA|GMT(?:[+-]\d{1,2})?|[+-]\d{2}|[A-Z]{3,4}T|[A-Z]{3}")
_STRPTIME = (  # (name, strptime format, has a zone token at the end)
    ("RFC1123", "%a, %d %b %Y %H:%M:%S", True),
    ("RFC850", "%A, %d-%b-%y %H:%M:%S", True),
    ("ANSIC", "%a %b %d %H:%M:%S %Y", False),
)
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.(\d{1,9}))?(?:Z|[+-]\d{2}:\d{2})", re.ASCII)


def parse_go_time(text: str, parameter: str = "value") -> int:
    """Parse a date filter value as the service does; return Unix nanoseconds.

    Zone abbreviations follow Go's ``time.Parse`` in UTC: ``GMT+h`` and ``+hh`` carry an offset,
    every other abbreviation means offset zero.

    Raises:
        AcronisAPIError: 400 when the value is in none of the six layouts.
    """
    if text.endswith("ns") and _digits(text[:-2]):
        value = int(text[:-2])
        if value < 2**63:
            return value
    elif _digits(text):
        seconds = int(text)
        if seconds <= 253_402_300_799:
            return seconds * SECOND
    elif _RFC3339.fullmatch(text):
        fraction = _RFC3339.fullmatch(text).group(1) or ""  # type: ignore[union-attr]
        head = text.replace(f".{fraction}", "") if fraction else text
        try:
            moment = datetime.fromisoformat(head.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return int(moment.timestamp()) * SECOND + int(fraction.ljust(9, "0") or 0)
    else:
        for _name, layout, zoned in _STRPTIME:
            body, zone = text, None
            if zoned:
                body, _, zone = text.rpartition(" ")
                if not _GO_ZONE.fullmatch(zone):
                    continue
            if not zoned and "  " in body:
                body = body.replace("  ", " ", 1)  # ANSIC's space-padded day (_2)
            try:
                moment = datetime.strptime(body, layout).replace(tzinfo=UTC)
            except ValueError:
                continue
            return (int(moment.timestamp()) - _zone_seconds(zone)) * SECOND
    raise _bad(
        f"Invalid time value '{text}' for '{parameter}': expected RFC3339, RFC1123, RFC850, ANSIC, "
        "a Unix timestamp or a Unix timestamp in nanoseconds with the 'ns' suffix",
        parameter=parameter, value=text,
    )


def _digits(text: str) -> bool:
    return re.fullmatch(r"[0-9]+", text) is not None


def _zone_seconds(zone: str | None) -> int:
    if not zone:
        return 0
    if zone.startswith("GMT") and len(zone) > 3:
        return int(zone[3:]) * 3600
    if zone[0] in "+-":
        return int(zone) * 3600
    return 0


def format_ns(value: int) -> str:
    """Render Unix nanoseconds as RFC3339 UTC with nine fraction digits, as the service does."""
    seconds, nanos = divmod(value, SECOND)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


# -- queries --------------------------------------------------------------------------------

Getter = Callable[[dict[str, Any]], Any]


def _path(*keys: str) -> Getter:
    def get(view: dict[str, Any]) -> Any:
        value: Any = view
        for key in keys:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value
    return get


@dataclass(frozen=True)
class Resource:
    """What one listing endpoint knows: its filters, date fields and sort fields."""

    name: str
    equals: dict[str, Getter]
    enums: dict[str, Sequence[str]]
    ints: frozenset[str]
    uuids: frozenset[str]
    bools: dict[str, Getter]
    times: frozenset[str]
    single_times: frozenset[str]
    sortable: frozenset[str]


_COMMON_EQUALS: dict[str, Getter] = {
    "state": _path("state"), "resultCode": _path("result", "code"), "type": _path("type"), "uuid": _path("uuid"),
    "id": _path("id"), "policyId": _path("policy", "id"), "policyName": _path("policy", "name"),
    "policyType": _path("policy", "type"), "resourceId": _path("resource", "id"),
    "resourceName": _path("resource", "name"), "resourceType": _path("resource", "type"),
    "executorId": _path("executor", "id"),
}
TASKS = Resource(
    name="tasks",
    equals={**_COMMON_EQUALS, "queue": _path("queue"), "priority": _path("priority"),
            "startedBy": _path("startedByUser"), "workflowId": _path("workflowId"), "tag": _path("tags"),
            "affinityAgentId": _path("affinity", "agentId"), "affinityClusterId": _path("affinity", "clusterId")},
    enums={"state": STATES, "resultCode": RESULT_CODES, "priority": PRIORITIES},
    ints=frozenset({"id"}), uuids=frozenset({"uuid"}),
    bools={"allow_deleted": _path("deleted")},
    times=frozenset({"enqueuedAt", "assignedAt", "startedAt", "completedAt", "updatedAt"}),
    single_times=frozenset({"updatedAt"}),
    sortable=frozenset({"id", "enqueuedAt", "assignedAt", "startedAt", "completedAt", "updatedAt"}),
)
ACTIVITIES = Resource(
    name="activities",
    equals={**_COMMON_EQUALS, "taskId": _path("taskId"), "parentActivityId": _path("parentActivityId")},
    enums={"state": STATES, "resultCode": RESULT_CODES},
    ints=frozenset({"id", "taskId", "parentActivityId"}), uuids=frozenset({"uuid"}),
    bools={"sustainable": _path("sustainable")},
    times=frozenset({"createdAt", "startedAt", "completedAt", "updatedAt"}),
    single_times=frozenset({"updatedAt"}),
    sortable=frozenset({"id", "createdAt", "startedAt", "completedAt", "updatedAt"}),
)
_COMPARE: dict[str, Callable[[int, int], bool]] = {
    "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b, "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b, "eq": lambda a, b: a == b,
}
_CONDITION = re.compile(r"([A-Za-z]*)\((.*)\)", re.DOTALL)
_ORDER = re.compile(r"(asc|desc)\((\w+)\)")


@dataclass
class Query:
    """A parsed listing query."""

    filters: list[tuple[str, str]]
    equals: dict[str, list[Any]] = field(default_factory=dict)
    bools: dict[str, bool] = field(default_factory=dict)
    times: list[tuple[str, str, int]] = field(default_factory=list)
    order_field: str = "id"
    descending: bool = False
    lod: str = "full"


def parse_query(resource: Resource, pairs: Iterable[tuple[str, str]]) -> Query:
    """Validate and parse the filter pairs (no paging keys) of a first request.

    Raises:
        AcronisAPIError: 400 on an unknown parameter, operator, enum value or date value.
    """
    pairs = list(pairs)
    query = Query(filters=pairs)
    time_counts: dict[str, int] = {}
    for key, value in pairs:
        if key in resource.times:
            time_counts[key] = time_counts.get(key, 0) + 1
            if key in resource.single_times and time_counts[key] > 1:
                raise _bad(f"Parameter '{key}' accepts a single entry", parameter=key)
            match = _CONDITION.fullmatch(value)
            if match is None:
                raise _bad(f"Invalid filter '{key}={value}': expected {key}=op(value), e.g. gt(2020-04-22T11:00:00Z)",
                           parameter=key)
            op, raw = match.groups()
            if op not in OPERATORS:
                raise _bad(f"Unsupported comparison operator '{op}' for '{key}': use one of {', '.join(OPERATORS)}",
                           parameter=key)
            query.times.append((key, op, parse_go_time(raw, key)))
        elif key == "order":
            match = _ORDER.fullmatch(value)
            if match is None or match.group(2) not in resource.sortable:
                raise _bad(f"Invalid order '{value}': use asc(<field>) or desc(<field>) with one of "
                           f"{', '.join(sorted(resource.sortable))}", parameter="order")
            query.descending, query.order_field = match.group(1) == "desc", match.group(2)
        elif key == "lod":
            if value not in LODS:
                raise _bad(f"Invalid lod '{value}': use one of {', '.join(LODS)}", parameter="lod")
            query.lod = value
        elif key in resource.bools:
            if value not in ("true", "false"):
                raise _bad(f"Invalid boolean '{value}' for '{key}': use true or false", parameter=key)
            query.bools[key] = value == "true"
        elif key in resource.equals:
            query.equals.setdefault(key, []).append(_equal_value(resource, key, value))
        else:
            raise _bad(f"Unknown query parameter '{key}'", parameter=key)
    return query


def _equal_value(resource: Resource, key: str, value: str) -> Any:
    if key in resource.enums and value not in resource.enums[key]:
        raise _bad(f"Invalid value '{value}' for '{key}': use one of {', '.join(resource.enums[key])}", parameter=key)
    if key in resource.ints:
        if not _digits(value) or int(value) >= 2**63:
            raise _bad(f"Invalid value '{value}' for '{key}': expected an integer id", parameter=key)
        return int(value)
    if key in resource.uuids:
        try:
            uuid_module.UUID(value)
        except ValueError:
            raise _bad(f"Invalid value '{value}' for '{key}': expected a UUID", parameter=key) from None
        return value.lower()
    if not value:
        raise _bad(f"Empty value for '{key}'", parameter=key)
    return value


def matches(resource: Resource, query: Query, view: dict[str, Any]) -> bool:
    """Whether a snapshot passes every filter (OR within one key, AND across keys)."""
    if not query.bools.get("allow_deleted", False) and view.get("deleted"):
        return False
    for key, wanted in query.equals.items():
        actual = resource.equals[key](view)
        if isinstance(actual, list):
            if not any(item in actual for item in wanted):
                return False
        elif (actual.lower() if key in resource.uuids and isinstance(actual, str) else actual) not in wanted:
            return False
    for key, flag in query.bools.items():
        if key != "allow_deleted" and bool(resource.bools[key](view)) != flag:
            return False
    for key, op, bound in query.times:
        actual = view.get(key)
        if actual is None or not _COMPARE[op](actual, bound):
            return False
    return True


def render(view: dict[str, Any], lod: str) -> dict[str, Any]:
    """Shape a snapshot for the wire at a level of detail; timestamps become RFC3339 strings."""
    if lod == "tiny":
        shown = {k: view[k] for k in TINY_KEYS if k in view}
    elif lod == "short":
        shown = {k: view[k] for k in SHORT_KEYS if k in view}
        if "result" in view:
            shown["result"] = {"code": view["result"].get("code")}
    else:
        shown = dict(view)
        if lod == "debug":
            timeline = {k: view[k] for k in TIME_KEYS if k in view}
            shown["debug"] = {"emulator": "prefect-soar lab", "timelineNs": timeline}
    return {k: format_ns(v) if k in TIME_KEYS and isinstance(v, int) else v for k, v in shown.items()}


def sort_key(view: dict[str, Any], field_name: str) -> tuple[int, int, int]:
    """A total order on snapshots: (missing?, value, id)."""
    value = view.get(field_name)
    return (1 if value is None else 0, value or 0, view["id"])


# -- cursors --------------------------------------------------------------------------------

class CursorCodec:
    """Signed, opaque cursors (standard base64 with padding) that carry the whole query."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def encode(self, payload: dict[str, Any]) -> str:
        """Pack a cursor."""
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        signature = hmac.new(self._secret, body, hashlib.sha256).digest()[:6]
        return base64.b64encode(signature + body).decode()

    def decode(self, cursor: str, resource: str) -> dict[str, Any]:
        """Unpack and verify a cursor for ``resource``.

        Raises:
            AcronisAPIError: 400 when the cursor is malformed, tampered with or from another listing.
        """
        try:
            raw = base64.b64decode(cursor, validate=True)
            signature, body = raw[:6], raw[6:]
            if not hmac.compare_digest(signature, hmac.new(self._secret, body, hashlib.sha256).digest()[:6]):
                raise ValueError("bad signature")
            payload = json.loads(body)
        except (binascii.Error, ValueError):
            raise _bad("Invalid cursor: it is malformed, was altered, or was not issued by this service",
                       parameter="after/before") from None
        if payload.get("r") != resource:
            raise _bad(f"Invalid cursor: it belongs to another listing than /{resource}", parameter="after/before")
        return payload


# -- tokens ---------------------------------------------------------------------------------

def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt_like(claims: dict[str, Any]) -> str:
    header = _b64url(b'{"alg":"RS256","kid":"lab","typ":"JWT"}')
    return f"{header}.{_b64url(json.dumps(claims).encode())}.{_b64url(secrets.token_bytes(32))}"


# -- the backend ----------------------------------------------------------------------------

@dataclass
class BackendConfig:
    """What the backend needs from the lab settings."""

    client_id: str
    client_secret: str
    task_count: int
    seed: int
    now: datetime | None
    history_seconds: float
    arrival_share: float
    arrival_seconds: float
    default_limit: int
    max_limit: int


class AcronisBackend:
    """The emulator's state: tasks, activities, tokens and the lab clock.

    The clock is frozen at ``config.now`` when given (move it with :meth:`advance`), else it
    follows the wall clock; the data set is generated around the clock's value at start.
    """

    def __init__(self, config: BackendConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._codec = CursorCodec(secrets.token_bytes(16))
        self._frozen = config.now is not None
        self._anchor_ns = (
            int(config.now.timestamp()) * SECOND if config.now is not None else (time.time_ns() // SECOND) * SECOND
        )
        self.tokens: dict[str, float] = {}
        self.token_requests = 0
        self.reset()

    # -- lab control ------------------------------------------------------------------

    def reset(self) -> None:
        """Regenerate the seeded data set, put the clock back at its start and zero the token counter.

        Issued tokens stay valid (use :meth:`revoke_tokens` to drop them).
        """
        with self._lock:
            self.token_requests = 0
            self._offset_ns = 0
            self._started_wall_ns = time.time_ns()
            tasks, activities = generate(
                count=self.config.task_count, seed=self.config.seed, anchor_ns=self._anchor_ns,
                history_seconds=self.config.history_seconds, arrival_share=self.config.arrival_share,
                arrival_seconds=self.config.arrival_seconds,
            )
            self.tasks: list[LabTask] = tasks
            self.activities: list[LabActivity] = activities
            self._by_id = {task.id: task for task in tasks}

    def now_ns(self) -> int:
        """The lab clock, Unix nanoseconds."""
        if self._frozen:
            return self._anchor_ns + self._offset_ns
        return self._anchor_ns + (time.time_ns() - self._started_wall_ns) + self._offset_ns

    def advance(self, seconds: float) -> int:
        """Move the lab clock forward; tasks progress and new ones arrive. Returns the new time (ns)."""
        with self._lock:
            self._offset_ns += int(seconds * SECOND)
        return self.now_ns()

    def revoke_tokens(self) -> None:
        """Invalidate every issued token (as resetting the API client's secret does)."""
        with self._lock:
            self.tokens.clear()

    # -- auth -------------------------------------------------------------------------

    def issue_token(self, *, authorization: str | None, content_type: str | None, form: dict[str, list[str]],
                    ttl: float) -> dict[str, Any]:
        """``POST /api/2/idp/token`` (client credentials).

        Raises:
            AcronisAPIError: 415 without a form body, 401 on bad client credentials, 400 on a bad grant.
        """
        self.token_requests += 1
        if not (content_type or "").startswith("application/x-www-form-urlencoded"):
            raise AcronisAPIError(415, "Content-Type must be application/x-www-form-urlencoded", domain=ACCOUNT_DOMAIN)
        client_id, client_secret = _basic_credentials(authorization)
        if client_id is None:
            raise AcronisAPIError(401, "Client authentication is required (HTTP Basic client_id:client_secret)",
                                  domain=ACCOUNT_DOMAIN, headers={"WWW-Authenticate": 'Basic realm="idp"'})
        good_id = hmac.compare_digest(client_id.encode(), self.config.client_id.encode())
        good_secret = hmac.compare_digest((client_secret or "").encode(), self.config.client_secret.encode())
        if not (good_id and good_secret):
            raise AcronisAPIError(401, "Invalid client credentials", domain=ACCOUNT_DOMAIN,
                                  headers={"WWW-Authenticate": 'Basic realm="idp"'})
        grant = form.get("grant_type", [])
        if grant != ["client_credentials"]:
            raise AcronisAPIError(400, f"Unsupported grant_type {grant[0] if grant else '(missing)'!r}: "
                                  "use client_credentials", domain=ACCOUNT_DOMAIN)
        issued = time.time()
        expires = issued + ttl
        claims = {"sub": client_id, "iat": int(issued), "exp": int(expires), "jti": secrets.token_hex(8),
                  "scope": ["urn:acronis.com::task_manager::admin"]}
        token = _jwt_like(claims)
        with self._lock:
            self.tokens = {t: e for t, e in self.tokens.items() if e > issued}
            self.tokens[token] = expires
        return {"access_token": token, "expires_on": int(expires), "id_token": _jwt_like({"sub": client_id}),
                "token_type": "bearer"}

    def authenticate(self, authorization: str | None) -> None:
        """Check a bearer token.

        Raises:
            AcronisAPIError: 401 when missing, unknown or expired.
        """
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise AcronisAPIError(401, "Access token is missing", headers={"WWW-Authenticate": "Bearer"})
        expires = self.tokens.get(token.strip())
        if expires is None:
            raise AcronisAPIError(401, "Access token is invalid", headers={"WWW-Authenticate": "Bearer"})
        if expires <= time.time():
            raise AcronisAPIError(401, "Access token has expired", headers={"WWW-Authenticate": "Bearer"})

    # -- listing ----------------------------------------------------------------------

    def list(self, resource: Resource, pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
        """``GET /tasks`` or ``GET /activities``: one page of the filtered, ordered items.

        Raises:
            AcronisAPIError: 400 on a bad filter, limit or cursor, or filters sent with a cursor.
        """
        paging = {k: v for k, v in pairs if k in ("after", "before", "limit")}
        repeated = [k for k in ("after", "before", "limit") if sum(1 for key, _ in pairs if key == k) > 1]
        if repeated:
            raise _bad(f"Parameter '{repeated[0]}' accepts a single value", parameter=repeated[0])
        rest = [(k, v) for k, v in pairs if k not in ("after", "before", "limit")]
        if "after" in paging and "before" in paging:
            raise _bad("Use either 'after' or 'before', not both")
        limit = _parse_limit(paging.get("limit"), self.config)
        cursor_text = paging.get("after") or paging.get("before")
        if cursor_text is not None:
            extra = sorted({k for k, _ in rest} - {"lod"})
            if extra:
                raise _bad(
                    "Only 'limit' may be combined with a cursor: the cursor already encodes the query "
                    f"(got {', '.join(extra)})", parameter=extra[0],
                )
            cursor = self._codec.decode(cursor_text, resource.name)
            query = parse_query(resource, [tuple(p) for p in cursor["q"]])  # type: ignore[misc]
            lods = [v for k, v in rest if k == "lod"]
            if lods:
                query.lod = parse_query(resource, [("lod", lods[-1])]).lod
            if limit is None:
                limit = int(cursor["l"])
            direction, key = ("after" if "after" in paging else "before"), tuple(cursor["k"])
        else:
            query = parse_query(resource, rest)
            limit = limit or self.config.default_limit
            direction, key = "", ()
        now = self.now_ns()
        views = [item.snapshot(now) for item in self._items(resource) if item.visible(now)]
        selected = sorted((v for v in views if matches(resource, query, v)),
                          key=lambda v: sort_key(v, query.order_field), reverse=query.descending)
        if query.lod == "count":
            return {"items": [], "paging": {"cursors": {}}, "size": len(selected), "timeStamp": format_ns(now)}
        page, more_after, more_before = _window(selected, query, direction, key, limit)
        cursors: dict[str, str] = {}
        base = {"r": resource.name, "q": query.filters, "l": limit}
        if page and more_after:
            cursors["after"] = self._codec.encode({**base, "k": sort_key(page[-1], query.order_field)})
        if page and more_before:
            cursors["before"] = self._codec.encode({**base, "k": sort_key(page[0], query.order_field)})
        return {
            "items": [render(view, query.lod) for view in page],
            "paging": {"cursors": cursors},
            "size": len(page),
            "timeStamp": format_ns(now),
        }

    def _items(self, resource: Resource) -> Sequence[LabTask | LabActivity]:
        return self.tasks if resource is TASKS else self.activities

    def get_task(self, raw_id: str) -> dict[str, Any]:
        """``GET /tasks/{id}``: the bare task.

        Raises:
            AcronisAPIError: 400 for a non-numeric id, 404 when there is no such task (yet).
        """
        if not _digits(raw_id):
            raise _bad(f"Invalid task id '{raw_id}': expected a numeric id", parameter="id")
        task = self._by_id.get(int(raw_id))
        now = self.now_ns()
        if task is None or not task.visible(now):
            raise AcronisAPIError(404, f"Task {raw_id} not found", details={"id": raw_id})
        return render(task.snapshot(now), "full")


def _window(selected: list[dict[str, Any]], query: Query, direction: str, key: tuple, limit: int
            ) -> tuple[list[dict[str, Any]], bool, bool]:
    """Cut one page out of the ordered list, keyset-style."""
    def beyond(view: dict[str, Any]) -> bool:
        k = sort_key(view, query.order_field)
        return k < key if query.descending else k > key  # type: ignore[operator]

    if direction == "after":
        rest = [v for v in selected if beyond(v)]
        page = rest[:limit]
        return page, len(rest) > limit, len(rest) < len(selected)
    if direction == "before":
        earlier = [v for v in selected if not beyond(v) and sort_key(v, query.order_field) != key]
        page = earlier[-limit:]
        return page, True, len(earlier) > limit
    return selected[:limit], len(selected) > limit, False


def _parse_limit(raw: str | None, config: BackendConfig) -> int | None:
    if raw is None:
        return None
    if not _digits(raw) or int(raw) < 1:
        raise _bad(f"Invalid limit '{raw}': expected a positive integer", parameter="limit")
    if int(raw) > config.max_limit:
        raise _bad(f"Invalid limit '{raw}': the maximum is {config.max_limit}", parameter="limit")
    return int(raw)


def _basic_credentials(authorization: str | None) -> tuple[str | None, str | None]:
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None, None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, sep, client_secret = decoded.partition(":")
    return (client_id, client_secret) if sep else (None, None)
