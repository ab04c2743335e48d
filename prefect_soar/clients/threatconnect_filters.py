"""Task filters for ThreatConnect v2, in the shape of the legacy SDK's filter objects.

A :class:`TaskFilter` is one *filter set* (the SDK's ``tasks.add_filter()``):

* **API filters** (the SDK's 14 ``add_*`` methods), each mapped to its v2 path::

      id            GET /v2/tasks/{id}
      adversary_id  GET /v2/groups/adversaries/{id}/tasks     (campaign_id, document_id,
      ...                                                      email_id, incident_id,
                                                               signature_id, threat_id alike)
      indicator     GET /v2/indicators/{type}/{value}/tasks
      owner         ?owner=<name> on every request; several owners: one request per owner
      security_label GET /v2/securityLabels/{label}/tasks
      tag           GET /v2/tags/{tag}/tasks
      task_id       GET /v2/tasks/{id}/tasks                  (tasks associated with a task)
      victim_id     GET /v2/victims/{id}/tasks

  Inside one set, every API filter must hold (the per-path results are intersected by task
  id; the owners of a set are its scope, their results are united). With no API filter the
  set lists ``GET /v2/tasks``.
* **Server filters** sent as ``filters=`` on every list request of the set (status,
  assignee, escalatee, overdue, escalated, reminded, due date), joined with AND, or OR when
  ``or_params`` is set. Values may not contain a comma (the API's separator).
* **Post filters** on ``name`` and ``date_added`` with the six operators EQ, NE, GT, GE,
  LT, LE, applied client-side to the set's results. Names compare case-sensitively; a
  date-only value compares the UTC calendar day, a date-time value the instant (naive means UTC).

Several sets combine left to right with each set's ``operator`` (the SDK's
``add_filter_operator(FilterSetOperator.AND|OR)``): AND keeps the tasks found by both, OR
adds the new set's tasks. The first set's operator is ignored.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, field_validator

from prefect_soar.errors import BadInputError
from prefect_soar.models.threatconnect import GroupType, IndicatorType, Task, TaskStatus

SERVICE = "threatconnect"


class SetOperator(StrEnum):
    """How a filter set combines with the sets before it."""

    AND = "AND"
    OR = "OR"


class CompareOperator(StrEnum):
    """Post-filter comparison operators."""

    EQ = "EQ"
    NE = "NE"
    GT = "GT"
    GE = "GE"
    LT = "LT"
    LE = "LE"


_SYMBOLS = {"=": "EQ", "==": "EQ", "!=": "NE", ">": "GT", ">=": "GE", "<": "LT", "<=": "LE"}


def segment(value: object, *, what: str = "value") -> str:
    """Percent-encode one path segment completely (``/``, ``:``, space and ``?`` included).

    Args:
        value: The raw segment (tag, label, indicator value, id).
        what: Its name, for the error message.

    Returns:
        The encoded segment, e.g. ``TLP%3AAMBER`` or ``Nation%20State``.

    Raises:
        BadInputError: Empty, or ``.``/``..`` (which URL normalisation would swallow).
    """
    text = str(value)
    if not text.strip():
        raise BadInputError(f"{what} must not be empty", service=SERVICE)
    if text in (".", ".."):
        raise BadInputError(f"{what} {text!r} cannot be used in a URL path", service=SERVICE)
    return quote(text, safe="")


def to_utc(value: datetime | date | str, *, what: str) -> datetime:
    """Parse a date, a date-time or an ISO-8601 string into an aware UTC datetime (naive = UTC)."""
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed: datetime | date = (
                datetime.fromisoformat(text) if "T" in text or " " in text else date.fromisoformat(text)
            )
        except ValueError as exc:
            raise BadInputError(f"{what} {value!r} is not an ISO-8601 date or date-time", service=SERVICE) from exc
        value = parsed
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_date(value: datetime | date | str, *, what: str) -> str:
    """Format a date for the v2 API as ``%Y-%m-%dT%H:%M:%SZ`` in UTC."""
    return to_utc(value, what=what).strftime("%Y-%m-%dT%H:%M:%SZ")


_GROUP_ALIASES: dict[str, str] = {}
for _member in GroupType:
    _GROUP_ALIASES[_member.value.lower()] = _member.value
    _GROUP_ALIASES[_member.name.lower()] = _member.value
_GROUP_ALIASES.update(
    {
        "adversary": "adversaries", "attackpattern": "attackPatterns", "attack pattern": "attackPatterns",
        "campaign": "campaigns", "courseofaction": "coursesOfAction", "course of action": "coursesOfAction",
        "document": "documents", "email": "emails", "event": "events", "incident": "incidents",
        "intrusionset": "intrusionSets", "intrusion set": "intrusionSets", "report": "reports",
        "signature": "signatures", "tactic": "tactics", "threat": "threats", "tool": "tools",
        "vulnerability": "vulnerabilities",
    }
)

_INDICATOR_ALIASES: dict[str, str] = {}
for _kind in IndicatorType:
    _INDICATOR_ALIASES[_kind.value.lower()] = _kind.value
    _INDICATOR_ALIASES[_kind.name.lower()] = _kind.value
_INDICATOR_ALIASES.update(
    {
        "address": "addresses", "asn": "asns", "cidr": "cidrBlocks", "cidrblock": "cidrBlocks",
        "emailaddress": "emailAddresses", "email address": "emailAddresses", "file": "files", "host": "hosts",
        "mutex": "mutexes", "registrykey": "registryKeys", "registry key": "registryKeys", "url": "urls",
        "useragent": "userAgents", "user agent": "userAgents",
    }
)


def group_type_path(group_type: str) -> str:
    """The v2 path name of a group type (``Incident`` / ``incident`` / ``incidents`` -> ``incidents``)."""
    key = str(group_type).strip().lower()
    if key not in _GROUP_ALIASES:
        known = ", ".join(m.value for m in GroupType)
        raise BadInputError(f"unknown group type {group_type!r}; use one of {known}", service=SERVICE)
    return _GROUP_ALIASES[key]


def indicator_type_path(indicator_type: str) -> str:
    """The v2 path name of an indicator type (``Address`` -> ``addresses``; custom types pass through)."""
    text = str(indicator_type).strip()
    if not text:
        raise BadInputError("indicator type must not be empty", service=SERVICE)
    return _INDICATOR_ALIASES.get(text.lower(), text)


_HASH = re.compile(r"^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ASN = re.compile(r"^ASN\d+$", re.IGNORECASE)
_HOST = re.compile(r"^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")


def guess_indicator_type(value: str) -> str:
    """Infer the v2 indicator type of a value, as the SDK's ``add_indicator`` does.

    Args:
        value: An IP address, CIDR, e-mail address, URL, hash, ASN or host name.

    Returns:
        The path type (``addresses``, ``cidrBlocks``, ``emailAddresses``, ``urls``, ``files``,
        ``asns`` or ``hosts``).

    Raises:
        BadInputError: When the type cannot be inferred; pass ``indicator_type`` then.
    """
    text = value.strip()
    try:
        ipaddress.ip_address(text)
        return IndicatorType.ADDRESSES.value
    except ValueError:
        pass
    if "/" in text and "://" not in text:
        try:
            ipaddress.ip_network(text, strict=False)
            return IndicatorType.CIDR_BLOCKS.value
        except ValueError:
            pass
    if "://" in text:
        return IndicatorType.URLS.value
    if _EMAIL.match(text):
        return IndicatorType.EMAIL_ADDRESSES.value
    if _HASH.match(text):
        return IndicatorType.FILES.value
    if _ASN.match(text):
        return IndicatorType.ASNS.value
    if _HOST.match(text):
        return IndicatorType.HOSTS.value
    raise BadInputError(f"cannot infer the indicator type of {value!r}; set indicator_type", service=SERVICE)


def normalize_status(status: str) -> str:
    """The canonical spelling of a task status (case-insensitive); unknown values are rejected."""
    for member in TaskStatus:
        if member.value.lower() == str(status).strip().lower():
            return member.value
    known = ", ".join(m.value for m in TaskStatus)
    raise BadInputError(f"unknown task status {status!r}; use one of {known}", service=SERVICE)


class PostFilter(BaseModel):
    """A client-side comparison on a task's ``name`` or ``date_added``."""

    model_config = ConfigDict(extra="forbid")

    field: Literal["name", "date_added"] = Field(description="Field compared: name or date_added.")
    operator: CompareOperator = Field(default=CompareOperator.EQ, description="EQ, NE, GT, GE, LT or LE.")
    value: str = Field(description="Name, or an ISO-8601 date (whole day) or date-time (naive means UTC).")

    @field_validator("operator", mode="before")
    @classmethod
    def _symbols(cls, value: object) -> object:
        if isinstance(value, str):
            return _SYMBOLS.get(value.strip(), value.strip().upper())
        return value

    @field_validator("value", mode="before")
    @classmethod
    def _dates_to_text(cls, value: object) -> object:
        if isinstance(value, datetime | date):
            return value.isoformat()
        return value

    def matches(self, task: Task) -> bool:
        """Whether the task passes this comparison (a task without a date never passes a date filter)."""
        left: object
        right: object
        if self.field == "name":
            left, right = task.name, self.value
        else:
            if task.date_added is None:
                return False
            added = to_utc(task.date_added, what="dateAdded")
            if "T" in self.value or " " in self.value.strip():
                left, right = added, to_utc(self.value, what="date_added filter")
            else:
                left, right = added.date(), to_utc(self.value, what="date_added filter").date()
        return _compare(self.operator, left, right)


def _compare(operator: CompareOperator, left: object, right: object) -> bool:
    if operator is CompareOperator.EQ:
        return left == right
    if operator is CompareOperator.NE:
        return left != right
    if operator is CompareOperator.GT:
        return left > right  # type: ignore[operator]
    if operator is CompareOperator.GE:
        return left >= right  # type: ignore[operator]
    if operator is CompareOperator.LT:
        return left < right  # type: ignore[operator]
    return left <= right  # type: ignore[operator]


@dataclass(frozen=True)
class APIRequest:
    """One v2 request a filter set needs: a collection path, or a single task (``single``)."""

    name: str
    path: str
    single: bool = False


_GROUP_FILTERS: Mapping[str, str] = {
    "adversary_id": "adversaries",
    "campaign_id": "campaigns",
    "document_id": "documents",
    "email_id": "emails",
    "incident_id": "incidents",
    "signature_id": "signatures",
    "threat_id": "threats",
}


class TaskFilter(BaseModel):
    """One filter set: API filters (ANDed), server ``filters=``, and post filters.

    Example:
        ```python
        from prefect_soar.clients.threatconnect_filters import TaskFilter

        phishing = TaskFilter(tag="Phishing", owner=["Org A", "Org B"], status="In Progress")
        amber = TaskFilter(security_label="TLP:AMBER", operator="OR").add_pf_name("Triage", "GE")
        tasks = await client.list_tasks(phishing, amber)   # (phishing) OR (amber and name >= "Triage")
        ```
    """

    model_config = ConfigDict(extra="forbid")

    operator: SetOperator = Field(default=SetOperator.AND, description="How this set combines with the sets before it.")
    id: int | None = Field(default=None, gt=0, description="Task id.")
    adversary_id: int | None = Field(default=None, gt=0, description="Associated adversary id.")
    campaign_id: int | None = Field(default=None, gt=0, description="Associated campaign id.")
    document_id: int | None = Field(default=None, gt=0, description="Associated document id.")
    email_id: int | None = Field(default=None, gt=0, description="Associated email id.")
    incident_id: int | None = Field(default=None, gt=0, description="Associated incident id.")
    indicator: str | None = Field(default=None, description="Associated indicator value.")
    indicator_type: str | None = Field(default=None, description="Indicator type; inferred from the value when empty.")
    owner: str | list[str] | None = Field(default=None, description="Owner name, or several (one request each).")
    security_label: str | None = Field(default=None, description="Applied security label, e.g. TLP:AMBER.")
    signature_id: int | None = Field(default=None, gt=0, description="Associated signature id.")
    tag: str | None = Field(default=None, description="Applied tag.")
    task_id: int | None = Field(default=None, gt=0, description="Associated task id.")
    threat_id: int | None = Field(default=None, gt=0, description="Associated threat id.")
    victim_id: int | None = Field(default=None, gt=0, description="Associated victim id.")
    status: str | None = Field(default=None, description="Server filter: status equals.")
    status_not: str | None = Field(default=None, description="Server filter: status differs from.")
    assignee: str | None = Field(default=None, description="Server filter: assigned to this user name.")
    escalatee: str | None = Field(default=None, description="Server filter: escalated to this user name.")
    overdue: bool | None = Field(default=None, description="Server filter: overdue flag.")
    escalated: bool | None = Field(default=None, description="Server filter: escalated flag.")
    reminded: bool | None = Field(default=None, description="Server filter: reminded flag.")
    due_before: datetime | None = Field(default=None, description="Server filter: due date before.")
    due_after: datetime | None = Field(default=None, description="Server filter: due date after.")
    or_params: bool = Field(default=False, description="OR the server filters instead of AND.")
    post_filters: list[PostFilter] = Field(default_factory=list, description="Client-side name/date_added comparisons.")

    @field_validator("operator", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    # -- SDK-style builders --------------------------------------------------------

    def add_pf_name(self, value: str, operator: CompareOperator | str = CompareOperator.EQ) -> TaskFilter:
        """Add a post filter on the name; returns self for chaining."""
        self.post_filters.append(PostFilter(field="name", operator=operator, value=value))  # type: ignore[arg-type]
        return self

    def add_pf_date_added(
        self, value: datetime | date | str, operator: CompareOperator | str = CompareOperator.EQ
    ) -> TaskFilter:
        """Add a post filter on the date added; returns self for chaining."""
        self.post_filters.append(PostFilter(field="date_added", operator=operator, value=value))  # type: ignore[arg-type]
        return self

    # -- request planning ----------------------------------------------------------

    def owners(self) -> list[str]:
        """The owners of this set, in order, without duplicates."""
        if self.owner is None:
            return []
        names = [self.owner] if isinstance(self.owner, str) else list(self.owner)
        seen: list[str] = []
        for name in names:
            if not str(name).strip():
                raise BadInputError("owner names must not be empty", service=SERVICE)
            if name not in seen:
                seen.append(name)
        return seen

    def api_requests(self) -> list[APIRequest]:
        """The v2 requests of this set's API filters (empty: list ``/v2/tasks``)."""
        requests: list[APIRequest] = []
        if self.id is not None:
            requests.append(APIRequest("id", f"/v2/tasks/{self.id}", single=True))
        for name, group_type in _GROUP_FILTERS.items():
            value = getattr(self, name)
            if value is not None:
                requests.append(APIRequest(name, f"/v2/groups/{group_type}/{value}/tasks"))
        if self.indicator is not None:
            if self.indicator_type:
                kind = indicator_type_path(self.indicator_type)
            else:
                kind = guess_indicator_type(self.indicator)
            value = segment(self.indicator, what="indicator")
            requests.append(APIRequest("indicator", f"/v2/indicators/{segment(kind)}/{value}/tasks"))
        if self.security_label is not None:
            label = segment(self.security_label, what="security label")
            requests.append(APIRequest("security_label", f"/v2/securityLabels/{label}/tasks"))
        if self.tag is not None:
            requests.append(APIRequest("tag", f"/v2/tags/{segment(self.tag, what='tag')}/tasks"))
        if self.task_id is not None:
            requests.append(APIRequest("task_id", f"/v2/tasks/{self.task_id}/tasks"))
        if self.victim_id is not None:
            requests.append(APIRequest("victim_id", f"/v2/victims/{self.victim_id}/tasks"))
        return requests

    def server_filters(self) -> list[str]:
        """The ``filters=`` clauses (``field`` + ``op`` + ``value``) of this set."""
        clauses: list[str] = []
        if self.status is not None:
            clauses.append(f"status={normalize_status(self.status)}")
        if self.status_not is not None:
            clauses.append(f"status!{normalize_status(self.status_not)}")
        if self.assignee is not None:
            clauses.append(f"assignee={self.assignee}")
        if self.escalatee is not None:
            clauses.append(f"escalatee={self.escalatee}")
        for flag in ("overdue", "escalated", "reminded"):
            value = getattr(self, flag)
            if value is not None:
                clauses.append(f"{flag}={'true' if value else 'false'}")
        if self.due_before is not None:
            clauses.append(f"dueDate<{format_date(self.due_before, what='due_before')}")
        if self.due_after is not None:
            clauses.append(f"dueDate>{format_date(self.due_after, what='due_after')}")
        for clause in clauses:
            if "," in clause:
                raise BadInputError(
                    f"server filter {clause!r} contains a comma, which the API uses to separate filters",
                    service=SERVICE,
                )
        return clauses

    def server_params(self) -> list[tuple[str, str]]:
        """Query parameters for the server filters (``filters`` and ``orParams``)."""
        clauses = self.server_filters()
        if not clauses:
            return []
        params = [("filters", ",".join(clauses))]
        if self.or_params:
            params.append(("orParams", "true"))
        return params

    def matches_server_filters(self, task: Task) -> bool:
        """Apply the server filters locally (used for ``id``, whose single GET takes no ``filters=``)."""
        checks: list[bool] = []
        if self.status is not None:
            checks.append(task.status == normalize_status(self.status))
        if self.status_not is not None:
            checks.append(task.status != normalize_status(self.status_not))
        if self.assignee is not None:
            checks.append(any(u.user_name == self.assignee for u in task.assignee))
        if self.escalatee is not None:
            checks.append(any(u.user_name == self.escalatee for u in task.escalatee))
        for flag in ("overdue", "escalated", "reminded"):
            wanted = getattr(self, flag)
            if wanted is not None:
                checks.append(bool(getattr(task, flag)) == wanted)
        due = to_utc(task.due_date, what="dueDate") if task.due_date is not None else None
        if self.due_before is not None:
            checks.append(due is not None and due < to_utc(self.due_before, what="due_before"))
        if self.due_after is not None:
            checks.append(due is not None and due > to_utc(self.due_after, what="due_after"))
        if not checks:
            return True
        return any(checks) if self.or_params else all(checks)

    def matches_post_filters(self, task: Task) -> bool:
        """Whether the task passes every post filter of this set."""
        return all(post.matches(task) for post in self.post_filters)


def combine(results: Iterable[tuple[SetOperator, dict[int, Task]]]) -> dict[int, Task]:
    """Combine per-set results left to right (AND: intersection, OR: union), keeping first-seen order."""
    combined: dict[int, Task] | None = None
    for operator, found in results:
        if combined is None:
            combined = dict(found)
        elif operator is SetOperator.AND:
            combined = {task_id: task for task_id, task in combined.items() if task_id in found}
        else:
            for task_id, task in found.items():
                combined.setdefault(task_id, task)
    return combined or {}


__all__ = [
    "APIRequest",
    "CompareOperator",
    "PostFilter",
    "SetOperator",
    "TaskFilter",
    "combine",
    "format_date",
    "group_type_path",
    "guess_indicator_type",
    "indicator_type_path",
    "normalize_status",
    "segment",
    "to_utc",
]
