"""Wire-level pieces of the ThreatConnect emulator: constants, API errors, records and ``filters=``.

Records (tasks, attributes, groups, indicators, victims, ...) render themselves in the v2 wire
shapes; :class:`ThreatConnectError` subclasses carry the HTTP status and the API's message.
No HTTP and no state in here: :mod:`.threatconnect_backend` holds the state.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar
from urllib.parse import quote_plus

TASK_STATUSES = ("Not Started", "In Progress", "Completed", "Waiting on Someone", "Deferred")
"""The v2 Task statuses."""

MAX_TAG_LENGTH = 128
NOT_FOUND = "The requested resource was not found"
SEED_EPOCH = 1704067200.0  # 2024-01-01T00:00:00Z: seeded records are dated from here.

GROUP_TYPES: dict[str, tuple[str, str]] = {
    "adversaries": ("Adversary", "adversary"),
    "attackPatterns": ("Attack Pattern", "attackPattern"),
    "campaigns": ("Campaign", "campaign"),
    "coursesOfAction": ("Course of Action", "courseOfAction"),
    "documents": ("Document", "document"),
    "emails": ("Email", "email"),
    "events": ("Event", "event"),
    "incidents": ("Incident", "incident"),
    "intrusionSets": ("Intrusion Set", "intrusionSet"),
    "malware": ("Malware", "malware"),
    "reports": ("Report", "report"),
    "signatures": ("Signature", "signature"),
    "tactics": ("Tactic", "tactic"),
    "threats": ("Threat", "threat"),
    "tools": ("Tool", "tool"),
    "vulnerabilities": ("Vulnerability", "vulnerability"),
}
"""Group path branch -> (type name, single-entity key)."""


@dataclass(frozen=True)
class IndicatorType:
    """One indicator path branch: its type name, entity key and value fields."""

    branch: str
    name: str
    entity: str
    fields: tuple[str, ...]
    case_insensitive: bool = True
    any_field: bool = False  # files: at least one hash, not all


INDICATOR_TYPES: dict[str, IndicatorType] = {
    t.branch: t
    for t in (
        IndicatorType("addresses", "Address", "address", ("ip",)),
        IndicatorType("emailAddresses", "EmailAddress", "emailAddress", ("address",)),
        IndicatorType("files", "File", "file", ("md5", "sha1", "sha256"), any_field=True),
        IndicatorType("hosts", "Host", "host", ("hostName",)),
        IndicatorType("urls", "URL", "url", ("text",), case_insensitive=False),
        IndicatorType("asns", "ASN", "asn", ("AS Number",)),
        IndicatorType("cidrBlocks", "CIDR", "cidrBlock", ("Block",)),
        IndicatorType("mutexes", "Mutex", "mutex", ("Mutex",), case_insensitive=False),
        IndicatorType("registryKeys", "Registry Key", "registryKey", ("Key Name", "Value Name", "Value Type"),
                      case_insensitive=False),
        IndicatorType("userAgents", "User Agent", "userAgent", ("User Agent String",), case_insensitive=False),
    )
}
"""Indicator path branch -> its type."""

HASH_FIELDS = {32: "md5", 40: "sha1", 64: "sha256"}
"""Hex length -> file hash field."""

LABEL_DESCRIPTIONS = {
    "TLP:CLEAR": "Recipients can spread this to the world, there is no limit on disclosure.",
    "TLP:WHITE": "Disclosure is not limited.",
    "TLP:GREEN": "Limited disclosure, recipients can spread this within their community.",
    "TLP:AMBER": "Limited disclosure, recipients can only spread this on a need-to-know basis within their "
                 "organization and its clients.",
    "TLP:AMBER+STRICT": "Limited disclosure, restricted to the organization.",
    "TLP:RED": "For the eyes and ears of individual recipients only, no further disclosure.",
}


# ----------------------------------------------------------------------------------------------- errors


class ThreatConnectError(Exception):
    """An API error, rendered as ``{"status": "Failure", "message": ...}`` with ``status_code``."""

    status_code = 400
    default_message = "Bad Request"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class BadRequest(ThreatConnectError):
    """400: the request is malformed or a value is invalid."""


class Unauthorized(ThreatConnectError):
    """401: bad credentials."""

    status_code = 401
    default_message = "Unauthorized"


class AccessDenied(ThreatConnectError):
    """403: the owner does not exist or the API user has no access to it."""

    status_code = 403
    default_message = "Access Denied"


class NotFound(ThreatConnectError):
    """404: the resource in the path does not exist."""

    status_code = 404
    default_message = NOT_FOUND


# ----------------------------------------------------------------------------------------------- helpers


def iso(ts: float) -> str:
    """Render epoch seconds as the API does: ``2017-07-13T17:50:17Z``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_date(value: Any, what: str) -> float:
    """Parse an ISO-8601 date or date-time (naive means UTC) into epoch seconds, or raise 400."""
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"Invalid {what}: expected an ISO-8601 date, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadRequest(f"Invalid {what}: {value!r} is not an ISO-8601 date") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def pick(items: Iterable[Any], key: Callable[[Any], bool]) -> Any | None:
    """The first item ``key`` accepts, or None."""
    return next((item for item in items if key(item)), None)


P = ParamSpec("P")
R = TypeVar("R")


def locked(method: Callable[P, R]) -> Callable[P, R]:
    """Run a backend method under the backend's ``_lock``."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with args[0]._lock:  # type: ignore[attr-defined]
            return method(*args, **kwargs)

    return wrapper


# ----------------------------------------------------------------------------------------------- records


@dataclass
class Owner:
    """An organization or community."""

    id: int
    name: str
    type: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "type": self.type}


@dataclass
class User:
    """A user (assignee, escalatee)."""

    id: int
    user_name: str
    first_name: str
    last_name: str

    def to_json(self) -> dict[str, Any]:
        return {"userName": self.user_name, "firstName": self.first_name, "lastName": self.last_name}


@dataclass
class SecurityLabel:
    """A security label that exists in the instance."""

    name: str
    description: str
    date_added: float

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "dateAdded": iso(self.date_added)}


@dataclass
class Tag:
    """A tag (created on first use)."""

    name: str
    date_added: float

    def to_json(self, web: str, owner: str) -> dict[str, Any]:
        link = f"{web}/auth/tags/tag.xhtml?tag={quote_plus(self.name)}&owner={quote_plus(owner)}"
        return {"name": self.name, "webLink": link}


@dataclass
class Attribute:
    """A task attribute."""

    id: int
    type: str
    value: str
    displayed: bool
    source: str | None
    date_added: float
    last_modified: float
    labels: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "type": self.type, "dateAdded": iso(self.date_added),
            "lastModified": iso(self.last_modified), "displayed": self.displayed, "value": self.value,
        }
        if self.source is not None:
            out["source"] = self.source
        return out


@dataclass
class Group:
    """A group (adversary, incident, ...) a task can be associated with."""

    id: int
    branch: str
    name: str
    owner: Owner
    date_added: float

    @property
    def type_name(self) -> str:
        return GROUP_TYPES[self.branch][0]

    def to_json(self, web: str) -> dict[str, Any]:
        kind = GROUP_TYPES[self.branch][1].lower()
        return {
            "id": self.id, "name": self.name, "type": self.type_name, "ownerName": self.owner.name,
            "dateAdded": iso(self.date_added), "lastModified": iso(self.date_added),
            "webLink": f"{web}/auth/{kind}/{kind}.xhtml?{kind}={self.id}",
        }


@dataclass
class Indicator:
    """An indicator, identified in paths by its type branch and value (any hash for files)."""

    id: int
    kind: IndicatorType
    values: dict[str, str]
    owner: Owner
    date_added: float
    rating: float | None = None
    confidence: int | None = None

    @property
    def summary(self) -> str:
        return " : ".join(self.values[f] for f in self.kind.fields if self.values.get(f))

    def matches(self, value: str) -> bool:
        if self.kind.any_field:
            candidates = [v for v in self.values.values() if v]
        elif len(self.kind.fields) == 1:
            candidates = [self.values[self.kind.fields[0]]]
        else:
            candidates = [self.summary]
        if self.kind.case_insensitive:
            return value.lower() in (c.lower() for c in candidates)
        return value in candidates

    def _web_link(self, web: str) -> str:
        kind = self.kind.entity.lower()
        return f"{web}/auth/indicators/details/{kind}.xhtml?{kind}={quote_plus(self.summary)}" \
               f"&owner={quote_plus(self.owner.name)}"

    def to_json(self, web: str) -> dict[str, Any]:
        """The association-list shape (``data.indicator[]``)."""
        out: dict[str, Any] = {
            "id": self.id, "ownerName": self.owner.name, "type": self.kind.name,
            "dateAdded": iso(self.date_added), "lastModified": iso(self.date_added),
        }
        if self.rating is not None:
            out["rating"] = self.rating
        if self.confidence is not None:
            out["confidence"] = self.confidence
        out["webLink"] = self._web_link(web)
        out["summary"] = self.summary
        return out

    def to_entity_json(self, web: str) -> dict[str, Any]:
        """The single-entity shape (``data.file{}``, ``data.address{}``, ...)."""
        out: dict[str, Any] = {
            "id": self.id, "owner": self.owner.to_json(), "dateAdded": iso(self.date_added),
            "lastModified": iso(self.date_added),
        }
        if self.kind.branch not in ("addresses", "emailAddresses", "files", "hosts", "urls"):
            out["type"] = self.kind.name
        if self.rating is not None:
            out["rating"] = self.rating
        if self.confidence is not None:
            out["confidence"] = self.confidence
        out["webLink"] = self._web_link(web)
        out.update({k: v for k, v in self.values.items() if v})
        return out


@dataclass
class VictimAsset:
    """A victim asset (email address, network account, ...)."""

    id: int
    type: str
    name: str


@dataclass
class Victim:
    """A victim; it needs at least one asset to be associated."""

    id: int
    name: str
    owner: Owner
    org: str = ""
    suborg: str = ""
    work_location: str = ""
    nationality: str = ""
    assets: list[VictimAsset] = field(default_factory=list)

    def to_json(self, web: str) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "org": self.org, "suborg": self.suborg,
            "workLocation": self.work_location, "nationality": self.nationality,
            "webLink": f"{web}/auth/victim/victim.xhtml?victim={self.id}",
        }


@dataclass
class Task:
    """A v2 Task with everything attached to it."""

    id: int
    name: str
    owner: Owner
    date_added: float
    last_modified: float
    status: str = "Not Started"
    description: str | None = None
    due_date: float | None = None
    reminder_date: float | None = None
    escalation_date: float | None = None
    assignees: list[str] = field(default_factory=list)
    escalatees: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    attributes: dict[int, Attribute] = field(default_factory=dict)
    groups: list[int] = field(default_factory=list)
    indicators: list[int] = field(default_factory=list)
    victims: list[int] = field(default_factory=list)
    tasks: list[int] = field(default_factory=list)

    def overdue(self, now: float) -> bool:
        return self.due_date is not None and self.due_date < now and self.status != "Completed"

    def escalated(self, now: float) -> bool:
        return self.escalation_date is not None and self.escalation_date <= now and self.status != "Completed"

    def reminded(self, now: float) -> bool:
        return self.reminder_date is not None and self.reminder_date <= now

    def attribute_values(self, type_: str) -> list[str]:
        return [a.value for a in self.attributes.values() if a.type == type_]


# ----------------------------------------------------------------------------------------------- filters


_FILTER_OPS = {
    "name": "=^", "dateAdded": "<>", "dueDate": "<>", "status": "=!",
    "assignee": "=", "escalatee": "=", "overdue": "=", "escalated": "=", "reminded": "=",
}
_FILTER_RE = re.compile(r"^([A-Za-z]+)([=!^<>])(.*)$", re.DOTALL)


@dataclass(frozen=True)
class FilterClause:
    """One ``<field><op><value>`` clause of the v2 ``filters=`` parameter."""

    field: str
    op: str
    value: Any

    @classmethod
    def parse(cls, text: str) -> FilterClause:
        match = _FILTER_RE.match(text.strip())
        if not match:
            raise BadRequest(f"Invalid filter {text!r}: expected <field><operator><value>, e.g. status=Not Started")
        name, op, raw = match.groups()
        if name not in _FILTER_OPS:
            raise BadRequest(f"Invalid filter field {name!r}: supported fields are {', '.join(_FILTER_OPS)}")
        if op not in _FILTER_OPS[name]:
            allowed = " ".join(_FILTER_OPS[name])
            raise BadRequest(f"Invalid filter operator {op!r} for {name}: supported operators are {allowed}")
        value: Any = raw
        if name in ("dateAdded", "dueDate"):
            value = parse_date(raw, f"{name} filter value")
        elif name in ("overdue", "escalated", "reminded"):
            if raw.lower() not in ("true", "false"):
                raise BadRequest(f"Invalid {name} filter value {raw!r}: expected true or false")
            value = raw.lower() == "true"
        return cls(name, op, value)

    def matches(self, task: Task, now: float) -> bool:
        f, op, v = self.field, self.op, self.value
        if f == "name":
            return task.name == v if op == "=" else task.name.startswith(v)
        if f in ("dateAdded", "dueDate"):
            ts = task.date_added if f == "dateAdded" else task.due_date
            return ts is not None and (ts < v if op == "<" else ts > v)
        if f == "status":
            return (task.status == v) == (op == "=")
        if f in ("assignee", "escalatee"):
            users = task.assignees if f == "assignee" else task.escalatees
            return v.lower() in (u.lower() for u in users)
        flag = {"overdue": task.overdue, "escalated": task.escalated, "reminded": task.reminded}[f](now)
        return flag == v


def parse_filters(text: str | None) -> list[FilterClause]:
    """Parse a v2 ``filters=`` value: comma-separated clauses."""
    if not text:
        return []
    return [FilterClause.parse(part) for part in text.split(",") if part.strip()]
