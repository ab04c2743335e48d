"""State of the ThreatConnect emulator (v2 Tasks and what they link to), with no HTTP in it.

Moto style: :class:`ThreatConnectBackend` holds owners, users, security labels, tags, groups,
indicators, victims and tasks, seeded deterministically from :class:`ThreatConnectLabSettings`;
its methods validate like the API does and raise
:class:`~prefect_soar.simulators.threatconnect_records.ThreatConnectError` subclasses that the app
renders in the v2 failure envelope.
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from prefect_soar.simulators.threatconnect_records import (
    GROUP_TYPES,
    HASH_FIELDS,
    INDICATOR_TYPES,
    LABEL_DESCRIPTIONS,
    MAX_TAG_LENGTH,
    NOT_FOUND,
    SEED_EPOCH,
    TASK_STATUSES,
    AccessDenied,
    Attribute,
    BadRequest,
    FilterClause,
    Group,
    Indicator,
    IndicatorType,
    NotFound,
    Owner,
    SecurityLabel,
    Tag,
    Task,
    User,
    Victim,
    VictimAsset,
    iso,
    locked,
    parse_date,
    pick,
)


class LabUser(BaseModel):
    """A ThreatConnect user that tasks can be assigned or escalated to."""

    user_name: str = Field(alias="userName")
    first_name: str = Field(default="", alias="firstName")
    last_name: str = Field(default="", alias="lastName")

    model_config = ConfigDict(populate_by_name=True)


class ThreatConnectLabSettings(BaseModel):
    """What the ThreatConnect emulator accepts and how it is seeded.

    Attributes:
        access_id: API user Access ID (HMAC auth).
        secret_key: API user Secret Key (HMAC auth).
        api_token: Token accepted as ``Authorization: TC-Token <token>``.
        owners: Owner names; the first is the API user's organization and the default owner.
        security_labels: Security labels that exist (they are never created on demand).
        attribute_types: Attribute types a task accepts.
        users: Users tasks can be assigned or escalated to.
        seed: Seed of the seeded data set.
        seed_tasks: Number of pre-seeded tasks.
        timestamp_window_seconds: Accepted skew of the HMAC ``Timestamp`` header.
        web_base_url: Root of the ``webLink`` URLs.
        clock: Epoch-seconds clock (default ``time.time``), for auth windows, dates and flags.
    """

    access_id: str = "12345678901234567890"
    secret_key: str = "lab-threatconnect-secret-key"
    api_token: str = "APIV2:1:lab:1893456000:bGFiLXRocmVhdGNvbm5lY3QtdG9rZW4="
    owners: list[str] = Field(default_factory=lambda: ["Lab Org", "Lab Community"], min_length=1)
    security_labels: list[str] = Field(default_factory=lambda: list(LABEL_DESCRIPTIONS))
    attribute_types: list[str] = Field(default_factory=lambda: [
        "Description", "Source", "Additional Analysis and Context", "Comment", "External ID",
        "External Date Created", "External Link", "Title",
    ])
    users: list[LabUser] = Field(default_factory=lambda: [
        LabUser(userName="analyst@lab.example", firstName="Ada", lastName="Analyst"),
        LabUser(userName="responder@lab.example", firstName="Rui", lastName="Responder"),
        LabUser(userName="manager@lab.example", firstName="Mia", lastName="Manager"),
    ])
    seed: int = 0
    seed_tasks: int = Field(default=5, ge=0)
    timestamp_window_seconds: float = Field(default=300, ge=0)
    web_base_url: str = "https://app.threatconnect.com"
    clock: Callable[[], float] | None = Field(default=None, exclude=True)


# ----------------------------------------------------------------------------------------------- backend


_TASK_NAMES = (
    "Triage phishing report", "Block C2 domain at the proxy", "Review sandbox verdict",
    "Contain infected workstation", "Notify legal of data exposure", "Rotate exposed credentials",
    "Hunt for lateral movement", "Collect memory image",
)


class ThreatConnectBackend:
    """Everything the emulator stores; ``reset()`` restores the seeded state.

    Args:
        settings: What to accept and seed.

    Attributes:
        tasks: Task id -> :class:`Task` (tags, attributes, labels, associations, assignees).
    """

    def __init__(self, settings: ThreatConnectLabSettings | None = None) -> None:
        self.settings = settings or ThreatConnectLabSettings()
        self.clock: Callable[[], float] = self.settings.clock or time.time
        self._seed_time: float | None = None
        self._lock = threading.RLock()
        self.reset()

    # -- state ------------------------------------------------------------------------------------

    @locked
    def reset(self) -> None:
        """Drop everything and re-seed."""
        s = self.settings
        self.token_issued_at = float(self.clock())
        self._ids: dict[str, int] = {"task": 1000, "attribute": 5000, "group": 2000, "indicator": 3000,
                                     "victim": 4000, "asset": 4500}
        self.owners = [Owner(i + 1, name, "Organization" if i == 0 else "Community") for i, name in enumerate(s.owners)]
        self.users = [User(i + 1, u.user_name, u.first_name, u.last_name) for i, u in enumerate(s.users)]
        self.labels = {name: SecurityLabel(name, LABEL_DESCRIPTIONS.get(name, f"Security label {name}."), SEED_EPOCH)
                       for name in s.security_labels}
        self.tag_registry: dict[str, Tag] = {}
        self.groups: dict[int, Group] = {}
        self.indicators: dict[int, Indicator] = {}
        self.victims: dict[int, Victim] = {}
        self.tasks: dict[int, Task] = {}
        self._seed_time = SEED_EPOCH  # seeded records are dated deterministically
        try:
            self._seed()
        finally:
            self._seed_time = None

    def now(self) -> float:
        """The emulator's clock, epoch seconds (a fixed date while seeding)."""
        return self._seed_time if self._seed_time is not None else float(self.clock())

    def _next_id(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    def _seed(self) -> None:
        rng = random.Random(self.settings.seed)
        org = self.owners[0]
        for branch in ("adversaries", "campaigns", "documents", "emails", "incidents", "signatures", "threats"):
            for n in (1, 2):
                self.create_group(branch, {"name": f"Lab {GROUP_TYPES[branch][0]} {n}"}, org, when=SEED_EPOCH)
        for n in (1, 2):
            sample = f"prefect-soar lab sample {n}".encode()
            self.create_indicator("files", {"md5": hashlib.md5(sample).hexdigest(),
                                            "sha1": hashlib.sha1(sample).hexdigest(),
                                            "sha256": hashlib.sha256(sample).hexdigest()}, org, when=SEED_EPOCH)
        self.create_indicator("addresses", {"ip": "198.51.100.7"}, org, when=SEED_EPOCH)
        self.create_indicator("hosts", {"hostName": "bad.example.net"}, org, when=SEED_EPOCH)
        self.create_indicator("urls", {"text": "http://bad.example.net/payload.bin"}, org, when=SEED_EPOCH)
        self.create_indicator("emailAddresses", {"address": "phisher@bad.example.net"}, org, when=SEED_EPOCH)
        self.create_victim({"name": "Finance Department", "org": org.name, "suborg": "Finance",
                            "assets": [{"type": "EmailAddress", "name": "finance@victim.example"}]}, org)
        self.create_victim({"name": "Chief Executive", "org": org.name, "workLocation": "HQ",
                            "assets": [{"type": "EmailAddress", "name": "ceo@victim.example"},
                                       {"type": "NetworkAccount", "name": "CORP\\ceo"}]}, org)
        self.create_victim({"name": "Unprofiled Victim", "org": org.name}, org)
        users = [u.user_name for u in self.users]
        for i in range(self.settings.seed_tasks):
            # with three or more seeded tasks, the last one lives in the last owner (owner scoping)
            last = i == self.settings.seed_tasks - 1 and self.settings.seed_tasks >= 3
            owner = self.owners[-1] if last and len(self.owners) > 1 else org
            rounds, index = divmod(i, len(_TASK_NAMES))
            name = _TASK_NAMES[index] + (f" #{rounds + 1}" if rounds else "")
            self._seed_time = SEED_EPOCH + i * 3600
            task = Task(self._next_id("task"), name, owner, self._seed_time, self._seed_time,
                        status=TASK_STATUSES[i % len(TASK_STATUSES)])
            # even tasks are long overdue, odd ones are due far in the future
            task.due_date = SEED_EPOCH + (10 + i) * 86400 if i % 2 == 0 else 4102444800.0 + i * 86400
            if users:
                task.assignees.append(rng.choice(users))
                if i % 3 == 0:
                    task.escalatees.append(users[-1])
                    task.escalation_date = task.due_date + 86400
            self.tasks[task.id] = task
            self.add_tag(task, "Seeded")
            if i == 0:
                self.add_tag(task, "Nation State")
                if "TLP:AMBER" in self.labels:
                    self.add_label(task, "TLP:AMBER")
                self.add_attribute(task, {"type": "Description", "value": "Seeded task", "displayed": True})
                self.associate_group(task, "incidents", self._first_group("incidents").id)
                self.associate_indicator(task, "hosts", "bad.example.net")
                self.associate_victim(task, self._first_victim_with_assets().id)
            if i == 1:
                self.associate_tasks(task.id, task.id - 1)

    def _first_group(self, branch: str) -> Group:
        return next(g for g in self.groups.values() if g.branch == branch)

    def _first_victim_with_assets(self) -> Victim:
        return next(v for v in self.victims.values() if v.assets)

    # -- owners, users, labels, tags ------------------------------------------------------------

    @property
    def default_owner(self) -> Owner:
        """The API user's organization."""
        return self.owners[0]

    def owner(self, name: str | None) -> Owner:
        """The owner named ``name`` (default owner when None), or 403."""
        if name is None:
            return self.default_owner
        found = pick(self.owners, lambda o: o.name == name)
        if found is None:
            raise AccessDenied()
        return found  # type: ignore[no-any-return]

    def user(self, name_or_id: str) -> User:
        """A user by userName (case-insensitive) or numeric id, or 404."""
        key = name_or_id.strip().lower()
        found = pick(self.users, lambda u: u.user_name.lower() == key or str(u.id) == key)
        if found is None:
            raise NotFound(f"User {name_or_id!r} was not found")
        return found  # type: ignore[no-any-return]

    def label(self, name: str) -> SecurityLabel:
        """An existing security label, or 404 (labels are never created on demand)."""
        if name not in self.labels:
            raise NotFound(f"The requested Security Label was not found: {name!r}; labels must already exist")
        return self.labels[name]

    def tag(self, name: str) -> Tag:
        """An existing tag, or 404."""
        if name not in self.tag_registry:
            raise NotFound()
        return self.tag_registry[name]

    def _tag(self, name: str) -> Tag:
        if not name.strip():
            raise BadRequest("Tag name is required")
        if len(name) > MAX_TAG_LENGTH:
            raise BadRequest(f"Tag name exceeds the maximum length of {MAX_TAG_LENGTH} characters")
        if name not in self.tag_registry:
            self.tag_registry[name] = Tag(name, self.now())
        return self.tag_registry[name]

    # -- tasks ------------------------------------------------------------------------------------

    def task(self, owner: Owner, task_id: str | int) -> Task:
        """A task of ``owner`` by id, or 404."""
        try:
            key = int(task_id)
        except (TypeError, ValueError):
            raise NotFound() from None
        task = self.tasks.get(key)
        if task is None or task.owner.id != owner.id:
            raise NotFound()
        return task

    def list_tasks(self, owner: Owner, clauses: Iterable[FilterClause] = (), *, or_params: bool = False,
                   within: Iterable[int] | None = None) -> list[Task]:
        """Tasks of ``owner`` (optionally among ``within`` ids) matching the filter clauses, by id."""
        clauses = list(clauses)
        now = self.now()
        ids = sorted(set(within)) if within is not None else sorted(self.tasks)
        out = []
        for task_id in ids:
            task = self.tasks.get(task_id)
            if task is None or task.owner.id != owner.id:
                continue
            if clauses:
                hits = (c.matches(task, now) for c in clauses)
                if not (any(hits) if or_params else all(hits)):
                    continue
            out.append(task)
        return out

    def find_tasks(self, *, name: str | None = None, name_prefix: str | None = None, owner: str | None = None,
                   tag: str | None = None, attribute: tuple[str, str] | None = None) -> list[Task]:
        """Inspect state (tests): tasks matching every given criterion, in any owner unless ``owner``."""
        out = []
        for task in sorted(self.tasks.values(), key=lambda t: t.id):
            if name is not None and task.name != name:
                continue
            if name_prefix is not None and not task.name.startswith(name_prefix):
                continue
            if owner is not None and task.owner.name != owner:
                continue
            if tag is not None and tag not in task.tags:
                continue
            if attribute is not None and attribute[1] not in task.attribute_values(attribute[0]):
                continue
            out.append(task)
        return out

    def _users_from(self, value: Any, what: str) -> list[str]:
        """Accept ``[{"userName": u}]``, ``{"userName": [u, ...]}`` or ``{"userName": u}``."""
        if value is None:
            return []
        names: list[Any]
        if isinstance(value, list):
            names = [item.get("userName") if isinstance(item, Mapping) else item for item in value]
        elif isinstance(value, Mapping):
            raw = value.get("userName")
            names = raw if isinstance(raw, list) else [raw]
        else:
            raise BadRequest(f"Invalid {what}: expected [{{\"userName\": ...}}]")
        out: list[str] = []
        for name in names:
            if not isinstance(name, str) or not name:
                raise BadRequest(f"Invalid {what}: every entry needs a userName")
            try:
                user = self.user(name)
            except NotFound:
                raise BadRequest(f"Invalid {what}: user {name!r} does not exist") from None
            if user.user_name not in out:
                out.append(user.user_name)
        return out

    def _apply_task_fields(self, task: Task, body: Mapping[str, Any]) -> None:
        if "name" in body:
            name = body["name"]
            if not isinstance(name, str) or not name.strip():
                raise BadRequest("Task name is required and must be a non-empty string")
            task.name = name
        if "status" in body:
            if body["status"] not in TASK_STATUSES:
                raise BadRequest(f"Invalid status {body['status']!r}: expected one of {', '.join(TASK_STATUSES)}")
            task.status = body["status"]
        if "description" in body:
            if body["description"] is not None and not isinstance(body["description"], str):
                raise BadRequest("Invalid description: expected a string")
            task.description = body["description"]
        for key, attr in (("dueDate", "due_date"), ("reminderDate", "reminder_date"),
                          ("escalationDate", "escalation_date")):
            if key in body:
                value = body[key]
                setattr(task, attr, None if value in (None, "") else parse_date(value, key))
        if "assignee" in body:
            task.assignees = self._users_from(body["assignee"], "assignee")
        if "escalatee" in body:
            task.escalatees = self._users_from(body["escalatee"], "escalatee")

    @locked
    def create_task(self, owner: Owner, body: Mapping[str, Any]) -> Task:
        """Create a task from a v2 create body (``name`` required)."""
        if "name" not in body:
            raise BadRequest("Task name is required")
        now = self.now()
        draft = Task(0, "", owner, now, now)
        self._apply_task_fields(draft, body)
        draft.id = self._next_id("task")
        self.tasks[draft.id] = draft
        return draft

    @locked
    def update_task(self, owner: Owner, task_id: str, body: Mapping[str, Any]) -> Task:
        """Apply the changed fields of a v2 update body; all or nothing."""
        task = self.task(owner, task_id)
        draft = Task(**{**task.__dict__, "assignees": list(task.assignees), "escalatees": list(task.escalatees)})
        self._apply_task_fields(draft, body)
        task.__dict__.update({k: v for k, v in draft.__dict__.items()})
        task.last_modified = self.now()
        return task

    @locked
    def delete_task(self, owner: Owner, task_id: str) -> None:
        """Delete a task and its links."""
        task = self.task(owner, task_id)
        del self.tasks[task.id]
        for other in self.tasks.values():
            if task.id in other.tasks:
                other.tasks.remove(task.id)

    def _touch(self, task: Task) -> None:
        task.last_modified = self.now()

    # -- attributes -------------------------------------------------------------------------------

    def attribute(self, task: Task, attribute_id: str | int) -> Attribute:
        """An attribute of the task, or 404."""
        try:
            return task.attributes[int(attribute_id)]
        except (KeyError, ValueError):
            raise NotFound() from None

    @staticmethod
    def _displayed_source(body: Mapping[str, Any]) -> tuple[bool | None, str | None]:
        displayed = body.get("displayed")
        if displayed is not None and not isinstance(displayed, bool):
            raise BadRequest("Invalid displayed: expected true or false")
        source = body.get("source")
        if source is not None and not isinstance(source, str):
            raise BadRequest("Invalid source: expected a string")
        return displayed, source

    @locked
    def add_attribute(self, task: Task, body: Mapping[str, Any]) -> Attribute:
        """Add ``{type, value, displayed?, source?}``; the type must be a known attribute type."""
        type_, value = body.get("type"), body.get("value")
        if not isinstance(type_, str) or not type_:
            raise BadRequest("Attribute type is required")
        if type_ not in self.settings.attribute_types:
            raise BadRequest(f"Invalid attribute type {type_!r} for Task: "
                             f"valid types are {', '.join(self.settings.attribute_types)}")
        if not isinstance(value, str) or not value:
            raise BadRequest("Attribute value is required")
        displayed, source = self._displayed_source(body)
        now = self.now()
        attr = Attribute(self._next_id("attribute"), type_, value, bool(displayed), source, now, now)
        task.attributes[attr.id] = attr
        self._touch(task)
        return attr

    @locked
    def update_attribute(self, task: Task, attribute_id: str, body: Mapping[str, Any]) -> Attribute:
        """Update ``{value, displayed?, source?}`` (value required)."""
        attr = self.attribute(task, attribute_id)
        value = body.get("value")
        if not isinstance(value, str) or not value:
            raise BadRequest("Attribute value is required")
        displayed, source = self._displayed_source(body)
        attr.value = value
        if displayed is not None:
            attr.displayed = displayed
        if source is not None:
            attr.source = source
        attr.last_modified = self.now()
        self._touch(task)
        return attr

    @locked
    def delete_attribute(self, task: Task, attribute_id: str) -> None:
        """Remove an attribute."""
        attr = self.attribute(task, attribute_id)
        del task.attributes[attr.id]
        self._touch(task)

    @locked
    def add_attribute_label(self, task: Task, attribute_id: str, label: str) -> None:
        """Apply an existing security label to an attribute."""
        attr = self.attribute(task, attribute_id)
        self.label(label)
        if label not in attr.labels:
            attr.labels.append(label)

    @locked
    def remove_attribute_label(self, task: Task, attribute_id: str, label: str) -> None:
        """Remove a security label from an attribute (404 when not applied)."""
        attr = self.attribute(task, attribute_id)
        self.label(label)
        if label not in attr.labels:
            raise NotFound()
        attr.labels.remove(label)

    # -- tags and labels --------------------------------------------------------------------------

    @locked
    def add_tag(self, task: Task, name: str) -> Tag:
        """Tag a task; the tag is created on first use."""
        tag = self._tag(name)
        if tag.name not in task.tags:
            task.tags.append(tag.name)
            self._touch(task)
        return tag

    @locked
    def remove_tag(self, task: Task, name: str) -> None:
        """Untag a task (404 when the tag is not applied)."""
        if name not in task.tags:
            raise NotFound()
        task.tags.remove(name)
        self._touch(task)

    def applied_tag(self, task: Task, name: str) -> Tag:
        """A tag applied to the task, or 404."""
        if name not in task.tags:
            raise NotFound()
        return self.tag_registry[name]

    @locked
    def add_label(self, task: Task, name: str) -> None:
        """Apply an existing security label (404 when the label does not exist)."""
        self.label(name)
        if name not in task.labels:
            task.labels.append(name)
            self._touch(task)

    @locked
    def remove_label(self, task: Task, name: str) -> None:
        """Remove a security label (404 when not applied)."""
        self.label(name)
        if name not in task.labels:
            raise NotFound()
        task.labels.remove(name)
        self._touch(task)

    def applied_label(self, task: Task, name: str) -> SecurityLabel:
        """A label applied to the task, or 404."""
        if name not in task.labels:
            raise NotFound()
        return self.labels[name]

    def tasks_with_tag(self, owner: Owner, name: str) -> list[Task]:
        """Tasks of ``owner`` carrying the tag (none for a tag never used)."""
        return [t for t in self.list_tasks(owner) if name in t.tags]

    def tasks_with_label(self, owner: Owner, name: str) -> list[Task]:
        """Tasks of ``owner`` carrying the security label (404 when the label does not exist)."""
        self.label(name)
        return [t for t in self.list_tasks(owner) if name in t.labels]

    # -- assignees and escalatees -----------------------------------------------------------------

    def _people(self, task: Task, role: str) -> list[str]:
        return task.assignees if role == "assignee" else task.escalatees

    def people(self, task: Task, role: str) -> list[User]:
        """Assignees (``role="assignee"``) or escalatees of the task."""
        return [self.user(name) for name in self._people(task, role)]

    def person(self, task: Task, role: str, name_or_id: str) -> User:
        """One assignee/escalatee of the task, or 404."""
        user = self.user(name_or_id)
        if user.user_name not in self._people(task, role):
            raise NotFound()
        return user

    @locked
    def add_person(self, task: Task, role: str, name_or_id: str) -> User:
        """Assign (or make escalatee) an existing user."""
        user = self.user(name_or_id)
        people = self._people(task, role)
        if user.user_name not in people:
            people.append(user.user_name)
            self._touch(task)
        return user

    @locked
    def remove_person(self, task: Task, role: str, name_or_id: str) -> None:
        """Unassign (or remove as escalatee); 404 when not there."""
        user = self.person(task, role, name_or_id)
        self._people(task, role).remove(user.user_name)
        self._touch(task)

    # -- groups -----------------------------------------------------------------------------------

    @staticmethod
    def group_branch(branch: str) -> str:
        """Validate a group path branch (404 when unknown)."""
        if branch not in GROUP_TYPES:
            raise NotFound(f"{NOT_FOUND}: unknown group type {branch!r}")
        return branch

    def group(self, branch: str, group_id: str | int) -> Group:
        """A group by branch and id, or 404."""
        self.group_branch(branch)
        try:
            group = self.groups.get(int(group_id))
        except (TypeError, ValueError):
            group = None
        if group is None or group.branch != branch:
            raise NotFound()
        return group

    @locked
    def create_group(self, branch: str, body: Mapping[str, Any], owner: Owner, *, when: float | None = None) -> Group:
        """Create a group ``{name}`` of the branch's type."""
        self.group_branch(branch)
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise BadRequest("Group name is required")
        group = Group(self._next_id("group"), branch, name, owner, self.now() if when is None else when)
        self.groups[group.id] = group
        return group

    def task_groups(self, task: Task, branch: str | None = None) -> list[Group]:
        """Groups associated with the task, optionally of one branch."""
        if branch is not None:
            self.group_branch(branch)
        return [self.groups[g] for g in task.groups if g in self.groups and branch in (None, self.groups[g].branch)]

    @locked
    def associate_group(self, task: Task, branch: str, group_id: str | int) -> None:
        """Associate a group with the task."""
        group = self.group(branch, group_id)
        if group.id not in task.groups:
            task.groups.append(group.id)
            self._touch(task)

    @locked
    def dissociate_group(self, task: Task, branch: str, group_id: str | int) -> None:
        """Remove a group association (404 when not associated)."""
        group = self.group(branch, group_id)
        if group.id not in task.groups:
            raise NotFound()
        task.groups.remove(group.id)
        self._touch(task)

    def tasks_for_group(self, owner: Owner, branch: str, group_id: str | int) -> list[Task]:
        """Tasks of ``owner`` associated with the group."""
        group = self.group(branch, group_id)
        return [t for t in self.list_tasks(owner) if group.id in t.groups]

    # -- indicators -------------------------------------------------------------------------------

    @staticmethod
    def indicator_type(branch: str) -> IndicatorType:
        """Validate an indicator path branch (404 when unknown)."""
        if branch not in INDICATOR_TYPES:
            raise NotFound(f"{NOT_FOUND}: unknown indicator type {branch!r}")
        return INDICATOR_TYPES[branch]

    def indicator(self, branch: str, value: str) -> Indicator:
        """An indicator by branch and value (any hash of a file), or 404."""
        kind = self.indicator_type(branch)
        found = pick(self.indicators.values(), lambda i: i.kind is kind and i.matches(value))
        if found is None:
            raise NotFound()
        return found  # type: ignore[no-any-return]

    @locked
    def create_indicator(self, branch: str, body: Mapping[str, Any], owner: Owner, *,
                         when: float | None = None) -> Indicator:
        """Create an indicator from its v2 create body (``{"md5": ...}``, ``{"ip": ...}``, ...).

        Creating one that exists (same type and value) updates its rating/confidence and returns it.
        """
        kind = self.indicator_type(branch)
        values: dict[str, str] = {}
        for name in kind.fields:
            raw = body.get(name)
            if raw is not None and (not isinstance(raw, str) or not raw.strip()):
                raise BadRequest(f"Invalid {name}: expected a non-empty string")
            if raw:
                values[name] = raw.strip()
        if kind.any_field:
            if not values:
                raise BadRequest("A File Indicator requires at least one valid hash (md5, sha1 or sha256)")
            for name, value in values.items():
                if HASH_FIELDS.get(len(value)) != name or not re.fullmatch(r"[0-9A-Fa-f]+", value):
                    raise BadRequest(f"Invalid {name} hash {value!r}")
        else:
            missing = [f for f in kind.fields if f not in values]
            if missing:
                raise BadRequest(f"Missing required field(s) for {kind.name} Indicator: {', '.join(missing)}")
        rating, confidence = body.get("rating"), body.get("confidence")
        if rating is not None and (not isinstance(rating, int | float) or not 0 <= rating <= 5):
            raise BadRequest("Invalid rating: expected a number from 0 to 5")
        if confidence is not None and (not isinstance(confidence, int) or not 0 <= confidence <= 100):
            raise BadRequest("Invalid confidence: expected an integer from 0 to 100")
        existing = next((i for i in self.indicators.values()
                         if i.kind is kind and any(i.matches(v) for v in values.values())), None)
        if existing is not None:
            for name, value in values.items():
                existing.values.setdefault(name, value)
            existing.rating = float(rating) if rating is not None else existing.rating
            existing.confidence = confidence if confidence is not None else existing.confidence
            return existing
        indicator = Indicator(self._next_id("indicator"), kind, values, owner, self.now() if when is None else when,
                              float(rating) if rating is not None else None, confidence)
        self.indicators[indicator.id] = indicator
        return indicator

    def task_indicators(self, task: Task, branch: str | None = None) -> list[Indicator]:
        """Indicators associated with the task, optionally of one branch."""
        kind = self.indicator_type(branch) if branch is not None else None
        return [self.indicators[i] for i in task.indicators
                if i in self.indicators and kind in (None, self.indicators[i].kind)]

    @locked
    def associate_indicator(self, task: Task, branch: str, value: str) -> None:
        """Associate an existing indicator with the task."""
        indicator = self.indicator(branch, value)
        if indicator.id not in task.indicators:
            task.indicators.append(indicator.id)
            self._touch(task)

    @locked
    def dissociate_indicator(self, task: Task, branch: str, value: str) -> None:
        """Remove an indicator association (404 when not associated)."""
        indicator = self.indicator(branch, value)
        if indicator.id not in task.indicators:
            raise NotFound()
        task.indicators.remove(indicator.id)
        self._touch(task)

    def tasks_for_indicator(self, owner: Owner, branch: str, value: str) -> list[Task]:
        """Tasks of ``owner`` associated with the indicator."""
        indicator = self.indicator(branch, value)
        return [t for t in self.list_tasks(owner) if indicator.id in t.indicators]

    # -- victims ----------------------------------------------------------------------------------

    def victim(self, victim_id: str | int) -> Victim:
        """A victim by id, or 404."""
        try:
            victim = self.victims.get(int(victim_id))
        except (TypeError, ValueError):
            victim = None
        if victim is None:
            raise NotFound()
        return victim

    @locked
    def create_victim(self, body: Mapping[str, Any], owner: Owner) -> Victim:
        """Create a victim ``{name, org?, suborg?, workLocation?, nationality?, assets?: [{type, name}]}``."""
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise BadRequest("Victim name is required")
        victim = Victim(self._next_id("victim"), name, owner, str(body.get("org") or ""),
                        str(body.get("suborg") or ""), str(body.get("workLocation") or ""),
                        str(body.get("nationality") or ""))
        for asset in body.get("assets") or []:
            if not isinstance(asset, Mapping) or not asset.get("type") or not asset.get("name"):
                raise BadRequest("Every victim asset needs a type and a name")
            victim.assets.append(VictimAsset(self._next_id("asset"), str(asset["type"]), str(asset["name"])))
        self.victims[victim.id] = victim
        return victim

    def task_victims(self, task: Task) -> list[Victim]:
        """Victims associated with the task."""
        return [self.victims[v] for v in task.victims if v in self.victims]

    @locked
    def associate_victim(self, task: Task, victim_id: str | int) -> None:
        """Associate a victim (it needs at least one asset) with the task."""
        victim = self.victim(victim_id)
        if not victim.assets:
            raise BadRequest(f"Victim {victim.id} has no Victim Asset: a Victim needs at least one Victim Asset "
                             "to be associated")
        if victim.id not in task.victims:
            task.victims.append(victim.id)
            self._touch(task)

    @locked
    def dissociate_victim(self, task: Task, victim_id: str | int) -> None:
        """Remove a victim association (404 when not associated)."""
        victim = self.victim(victim_id)
        if victim.id not in task.victims:
            raise NotFound()
        task.victims.remove(victim.id)
        self._touch(task)

    def tasks_for_victim(self, owner: Owner, victim_id: str | int) -> list[Task]:
        """Tasks of ``owner`` associated with the victim."""
        victim = self.victim(victim_id)
        return [t for t in self.list_tasks(owner) if victim.id in t.victims]

    # -- task to task -----------------------------------------------------------------------------

    @locked
    def associate_tasks(self, task_id: int, other_id: int) -> None:
        """Associate two tasks with each other (both directions); 404 when either is missing."""
        if task_id not in self.tasks or other_id not in self.tasks or task_id == other_id:
            raise NotFound()
        for a, b in ((task_id, other_id), (other_id, task_id)):
            if b not in self.tasks[a].tasks:
                self.tasks[a].tasks.append(b)

    # -- rendering --------------------------------------------------------------------------------

    @property
    def web(self) -> str:
        """Root of ``webLink`` URLs."""
        return self.settings.web_base_url.rstrip("/")

    def task_json(self, task: Task, *, single: bool, includes: Iterable[str] = ()) -> dict[str, Any]:
        """A task in the v2 shape: ``owner{}`` when ``single``, ``ownerName`` in lists.

        ``includes`` may hold ``tags``, ``attributes``, ``labels`` and ``additional``.
        """
        include = set(includes)
        now = self.now()
        out: dict[str, Any] = {"id": task.id, "name": task.name}
        if single:
            out["owner"] = task.owner.to_json()
        else:
            out["ownerName"] = task.owner.name
        out["dateAdded"] = iso(task.date_added)
        if single:
            out["lastModified"] = iso(task.last_modified)
        out["webLink"] = f"{self.web}/auth/workflow/task.xhtml?task={task.id}"
        out.update(status=task.status, escalated=task.escalated(now), reminded=task.reminded(now),
                   overdue=task.overdue(now))
        for key, value in (("dueDate", task.due_date), ("reminderDate", task.reminder_date),
                           ("escalationDate", task.escalation_date)):
            if value is not None:
                out[key] = iso(value)
        if task.description is not None and (single or "additional" in include):
            out["description"] = task.description
        if single or "additional" in include:
            if task.assignees:
                out["assignee"] = [u.to_json() for u in self.people(task, "assignee")]
            if task.escalatees:
                out["escalatee"] = [u.to_json() for u in self.people(task, "escalatee")]
        if "tags" in include:
            out["tag"] = [self.tag_registry[t].to_json(self.web, task.owner.name) for t in task.tags]
        if "attributes" in include:
            out["attribute"] = [a.to_json() for a in task.attributes.values()]
        if "labels" in include:
            out["securityLabel"] = [self.labels[name].to_json() for name in task.labels]
        return out
