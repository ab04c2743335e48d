"""Async client for ThreatConnect v2 Tasks: CRUD, filtering, metadata and idempotent creation.

Example:
    ```python
    from prefect_soar.clients.threatconnect import ThreatConnectClient, TaskFilter

    async with ThreatConnectClient(access_id="...", secret_key="...", default_owner="Example Org") as tc:
        result = await tc.find_or_create_task(
            "ptsandbox:4f1c", "Investigate sample 4f1c", tags=["Malware"], security_labels=["TLP:AMBER"]
        )
        open_tasks = await tc.list_tasks(TaskFilter(tag="Malware", status_not="Completed"))
    ```

**Create semantics (build, then commit).** :meth:`ThreatConnectClient.create_task` first creates
the task (``POST /v2/tasks``; if that fails it raises and nothing exists), then adds every
attribute, tag, security label and association. A failing sub-step does **not** raise: the
returned :class:`CreateTaskResult` lists it in ``failures`` (``result.ok`` is False) so the caller
can retry just that step; callers that prefer an exception pass the result to
:func:`raise_for_failures`, which raises :class:`TaskCommitError` carrying the result.

**Idempotency.** :meth:`find_or_create_task` puts the marker in the task's name as a prefix,
``[<marker>] <name>``, so the marker exists from the very request that creates the task, and
finds it again with ONE request, ``GET /v2/tasks?filters=name^[<marker>]&includeTags=true``,
checking the prefix exactly. The tag ``ext:<marker>`` is the *commit mark*: it is added last,
only once every attribute, tag, label and association is in place. A task found without it
was left half-built by an interrupted run (a crash, a lost response, a failed sub-step); the
next call completes it: idempotent adds are re-sent, attributes already present (same type
and value) are skipped, and the commit mark is added. So a run killed at any point, then
re-run, ends with exactly one complete task per marker. Calls with the same marker are
serialised by a per-marker ``asyncio.Lock`` of the client instance, so concurrent calls in one
process (``asyncio.gather``, :meth:`upsert_tasks`) create one task. Across processes or client
instances nothing is locked: two workers racing on the same marker can still both create.
Serialise such flows (a deployment ``concurrency_limit`` or a Prefect global concurrency limit)
when that matters.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from pydantic import ValidationError

from prefect_soar.clients.threatconnect_core import (
    DEFAULT_PAGE_SIZE,
    SERVICE,
    check_id,
    check_page_size,
    is_v2_failure,
    str_list,
)
from prefect_soar.clients.threatconnect_filters import (
    APIRequest,
    CompareOperator,
    PostFilter,
    SetOperator,
    TaskFilter,
    combine,
    format_date,
    group_type_path,
    guess_indicator_type,
    indicator_type_path,
    normalize_status,
)
from prefect_soar.clients.threatconnect_metadata import MAX_TAG_LENGTH, ThreatConnectMetadata, check_tag
from prefect_soar.errors import BadInputError, SoarError
from prefect_soar.models.threatconnect import (
    Attribute,
    AttributeSpec,
    CreateTaskResult,
    GroupRef,
    IndicatorRef,
    StepFailure,
    Task,
    TaskSpec,
    TaskUpsertResult,
)

logger = logging.getLogger("prefect_soar.threatconnect")

MARKER_TAG_PREFIX = "ext:"
SUBSTEP_CONCURRENCY = 4
T = TypeVar("T")

DateLike = datetime | date | str
AttributeLike = AttributeSpec | Mapping[str, Any] | tuple[Any, ...]
GroupLike = GroupRef | Mapping[str, Any] | tuple[str, int]
IndicatorLike = IndicatorRef | Mapping[str, Any] | tuple[str, str] | str


class TaskCommitError(SoarError):
    """A task was created but a required sub-step of the commit failed.

    Attributes:
        result: What was done, with ``failures`` naming the failed sub-steps.
    """

    hint = "Fix the failed sub-steps (they are listed) and apply them again; the task id is in the result"

    def __init__(self, message: str, *, result: CreateTaskResult | None = None, **kwargs: Any) -> None:
        self.result = result
        super().__init__(message, **kwargs)


def raise_for_failures(result: CreateTaskResult) -> CreateTaskResult:
    """Return the result when every sub-step succeeded, else raise :class:`TaskCommitError`."""
    if result.failures:
        steps = ", ".join(f"{f.step} {f.target!r} ({f.error})" for f in result.failures)
        raise TaskCommitError(
            f"task {result.task.id} was created but {len(result.failures)} sub-step(s) failed: {steps}",
            result=result, service=SERVICE,
        )
    return result


def marker_prefix(marker: str) -> str:
    """The task-name prefix that carries a marker: ``[<marker>] ``."""
    marker_tag(marker)
    if any(ch in marker for ch in ",[]"):
        raise BadInputError("marker must not contain commas or square brackets", service=SERVICE)
    return f"[{marker}] "


def marker_tag(marker: str) -> str:
    """The tag that marks a task with an external id: ``ext:<marker>`` (at most 128 characters)."""
    if not isinstance(marker, str) or not marker.strip():
        raise BadInputError(f"marker must be a non-empty string, got {marker!r}", service=SERVICE)
    if any(ord(ch) < 32 for ch in marker):
        raise BadInputError("marker must not contain control characters", service=SERVICE)
    tag = f"{MARKER_TAG_PREFIX}{marker}"
    if len(tag) > MAX_TAG_LENGTH:
        raise BadInputError(
            f"marker is too long: the tag {MARKER_TAG_PREFIX}<marker> may have at most {MAX_TAG_LENGTH} characters",
            service=SERVICE,
        )
    return tag


@dataclass
class _Step:
    kind: str
    target: str
    run: Callable[[int], Awaitable[Any]]


async def _bounded(calls: Sequence[Callable[[], Awaitable[T]]], limit: int) -> list[T]:
    """Run the calls with at most ``limit`` in flight; results in call order."""
    semaphore = asyncio.Semaphore(max(1, limit))

    async def one(call: Callable[[], Awaitable[T]]) -> T:
        async with semaphore:
            return await call()

    return list(await asyncio.gather(*(one(call) for call in calls)))


def _on_task(method: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Callable[[int], Awaitable[Any]]:
    """A sub-step that calls ``method(task_id, *args, **kwargs)`` once the task exists."""

    async def run(task_id: int) -> Any:
        return await method(task_id, *args, **kwargs)

    return run


def _failure(kind: str, target: str, exc: SoarError) -> StepFailure:
    return StepFailure(step=kind, target=target, error=type(exc).__name__, message=str(exc), status=exc.status)


class ThreatConnectClient(ThreatConnectMetadata):
    """Async client for ThreatConnect v2 Tasks (use as ``async with``).

    Args:
        base_url: The API root including ``/api`` (default ``https://app.threatconnect.com/api``).
        access_id: HMAC Access ID (with ``secret_key``).
        secret_key: HMAC Secret Key.
        api_token: API token (``TC-Token``), instead of the HMAC pair.
        default_owner: Owner used when a call names none; empty means the API user's organization.
        verify: TLS verification: ``True``, ``False`` (lab only) or a CA bundle path.
        timeout: Seconds for connect, read and write.
        proxy: Proxy URL.
        retry: Retry policy.
        transport: An injected httpx transport (tests).
        max_concurrency: Requests in flight when fanning out (owners, filter paths).
        clock: Unix-time source for HMAC timestamps (tests).
    """

    # -- single task ------------------------------------------------------------------

    async def get_task(self, task_id: int, *, owner: str | None = None, includes: Sequence[str] = ()) -> Task:
        """One task (``GET /v2/tasks/{id}``).

        Args:
            task_id: The task id.
            owner: Owner to read from (default: the client's default owner, if any).
            includes: Extra data: ``additional``, ``attributes``, ``labels``, ``tags`` (repeated ``includes=``).
        """
        params = [*self._owner_params(self._owner(owner)), *(("includes", str(i)) for i in includes)]
        envelope, response = await self._v2("GET", f"/v2/tasks/{check_id(task_id, 'task_id')}", params=params)
        return self._entity(envelope, response, "task", Task)

    async def delete_task(self, task_id: int, *, owner: str | None = None) -> None:
        """Delete a task (``DELETE /v2/tasks/{id}``); ``owner`` is the task's owner."""
        path = f"/v2/tasks/{check_id(task_id, 'task_id')}"
        await self._v2("DELETE", path, params=self._owner_params(self._owner(owner)))

    async def update_task(
        self,
        task_id: int,
        *,
        name: str | None = None,
        status: str | None = None,
        due_date: DateLike | None = None,
        reminder_date: DateLike | None = None,
        escalation_date: DateLike | None = None,
        description: str | None = None,
        owner: str | None = None,
    ) -> Task:
        """Change a task's fields (``PUT /v2/tasks/{id}`` with the changed fields only).

        Assignees and escalatees are changed with :meth:`add_assignee` / :meth:`delete_assignee`
        (and the escalatee twins): the docs disagree on their shape in a PUT body.

        Returns:
            The updated task.
        """
        body = _task_body(
            name=name, status=status, due_date=due_date, reminder_date=reminder_date,
            escalation_date=escalation_date, description=description,
        )
        if name is not None and not name.strip():
            raise BadInputError("name must not be empty", service=SERVICE)
        if not body:
            raise BadInputError("update_task needs at least one field to change", service=SERVICE)
        path = f"/v2/tasks/{check_id(task_id, 'task_id')}"
        envelope, response = await self._v2(
            "PUT", path, params=self._owner_params(self._owner(owner)), json_body=body
        )
        return self._entity(envelope, response, "task", Task)

    # -- listing ----------------------------------------------------------------------

    async def list_tasks_page(
        self,
        task_filter: TaskFilter | None = None,
        *,
        owner: str | None = None,
        result_start: int = 0,
        result_limit: int = DEFAULT_PAGE_SIZE,
    ) -> tuple[list[Task], int | None]:
        """One raw page of ``GET /v2/tasks`` (``resultStart``/``resultLimit``) with the set's server filters.

        Returns:
            The page's tasks and ``resultCount`` (only reported for ``result_start=0``).
        """
        check_page_size(result_limit)
        if result_start < 0:
            raise BadInputError("result_start must not be negative", service=SERVICE)
        params = [
            *self._owner_params(self._owner(owner)),
            ("resultStart", result_start), ("resultLimit", result_limit), ("createActivityLog", "false"),
            *(task_filter.server_params() if task_filter else []),
        ]
        envelope, response = await self._v2("GET", "/v2/tasks", params=params)
        count = (envelope.data or {}).get("resultCount")
        return self._entities(envelope, response, "task", Task), count if isinstance(count, int) else None

    async def iter_tasks(
        self,
        *filters: TaskFilter,
        page_size: int = DEFAULT_PAGE_SIZE,
        max_items: int | None = None,
        **criteria: Any,
    ) -> AsyncIterator[Task]:
        """Yield matching tasks, at most ``max_items``.

        With one filter set that needs at most one API path, pages are fetched lazily (owner by
        owner, in the server's order) and fetching stops at the cap; otherwise every set is
        evaluated and combined first, and the result is ordered by task id.

        Args:
            *filters: Filter sets (:class:`TaskFilter`); none means every task of the default owner.
            page_size: ``resultLimit`` per request (1 to 10,000).
            max_items: Stop after this many tasks.
            **criteria: Instead of ``filters``: the fields of one :class:`TaskFilter` (``tag=...``).
        """
        sets = _filter_sets(filters, criteria)
        check_page_size(page_size)
        cap = _check_cap(max_items)
        if cap == 0:
            return
        yielded = 0
        if len(sets) == 1 and len(sets[0].api_requests()) <= 1:
            only = sets[0]
            request = (only.api_requests() or [APIRequest("owner", "/v2/tasks")])[0]
            seen: set[int] = set()
            for owner in self._set_owners(only):
                async for task in self._stream(request, owner, only, page_size):
                    if task.id in seen or not only.matches_post_filters(task):
                        continue
                    seen.add(task.id)
                    yield task
                    yielded += 1
                    if cap is not None and yielded >= cap:
                        return
            return
        for task in (await self._evaluate(sets, page_size)).values():
            yield task
            yielded += 1
            if cap is not None and yielded >= cap:
                return

    async def list_tasks(
        self,
        *filters: TaskFilter,
        page_size: int = DEFAULT_PAGE_SIZE,
        max_items: int | None = None,
        **criteria: Any,
    ) -> list[Task]:
        """Matching tasks, filter sets combined like the SDK's filter-set operator.

        Several owners in one set are fetched concurrently, one owner per request (bounded by
        ``max_concurrency``); several filter sets or API filters are combined by task id, and
        such a combined result is ordered by task id (a single request keeps the server's order).

        Args:
            *filters: Filter sets (:class:`TaskFilter`); none means every task of the default owner.
            page_size: ``resultLimit`` per request (1 to 10,000).
            max_items: Return at most this many tasks.
            **criteria: Instead of ``filters``: the fields of one :class:`TaskFilter` (``tag=...``).

        Example:
            ``await tc.list_tasks(tag="Phishing", owner=["Org A", "Org B"], status="In Progress")``
        """
        sets = _filter_sets(filters, criteria)
        check_page_size(page_size)
        cap = _check_cap(max_items)
        if cap == 0:
            return []
        if len(sets) == 1 and len(sets[0].api_requests()) <= 1:
            only = sets[0]
            request = (only.api_requests() or [APIRequest("owner", "/v2/tasks")])[0]
            owners = self._set_owners(only)
            per_owner = await _bounded(
                [lambda o=owner: self._gather_request(request, o, only, page_size, cap) for owner in owners],  # type: ignore[misc]
                self.max_concurrency,
            )
            found: dict[int, Task] = {}
            for tasks in per_owner:
                for task in tasks:
                    found.setdefault(task.id, task)
            result = list(found.values())
        else:
            result = list((await self._evaluate(sets, page_size)).values())
        return result[:cap] if cap is not None else result

    def _set_owners(self, task_filter: TaskFilter) -> list[str | None]:
        owners: list[str | None] = list(task_filter.owners())
        return owners or [self.default_owner]

    async def _stream(
        self, request: APIRequest, owner: str | None, task_filter: TaskFilter, page_size: int
    ) -> AsyncIterator[Task]:
        """The tasks one API request returns for one owner (server filters applied)."""
        if request.single:
            response = await self._send("GET", request.path, params=self._owner_params(owner), ok={404})
            if response.status_code == 404:
                if is_v2_failure(response):
                    return
                raise self._http.status_error(response)
            task = self._entity(self._envelope(response), response, "task", Task)
            if task_filter.matches_server_filters(task):
                yield task
            return
        missing_ok = request.path != "/v2/tasks"
        async for items, _ in self._pages(
            request.path, "task", Task, owner=owner, page_size=page_size,
            extra=task_filter.server_params(), missing_ok=missing_ok,
        ):
            for task in items:
                yield task

    async def _gather_request(
        self, request: APIRequest, owner: str | None, task_filter: TaskFilter, page_size: int, cap: int | None
    ) -> list[Task]:
        found: dict[int, Task] = {}
        async for task in self._stream(request, owner, task_filter, page_size):
            if task.id in found or not task_filter.matches_post_filters(task):
                continue
            found[task.id] = task
            if cap is not None and len(found) >= cap:
                break
        return list(found.values())

    async def _evaluate_set(self, task_filter: TaskFilter, page_size: int) -> dict[int, Task]:
        requests = task_filter.api_requests() or [APIRequest("owner", "/v2/tasks")]
        owners = self._set_owners(task_filter)
        calls = []
        for request in requests:
            for owner in owners:
                calls.append(lambda r=request, o=owner: self._collect_stream(r, o, task_filter, page_size))
        results = await _bounded(calls, self.max_concurrency)
        per_request: list[dict[int, Task]] = []
        for index in range(len(requests)):
            united: dict[int, Task] = {}
            for tasks in results[index * len(owners):(index + 1) * len(owners)]:
                for task in tasks:
                    united.setdefault(task.id, task)
            per_request.append(united)
        matched = combine((SetOperator.AND, found) for found in per_request)
        return {task_id: task for task_id, task in matched.items() if task_filter.matches_post_filters(task)}

    async def _collect_stream(
        self, request: APIRequest, owner: str | None, task_filter: TaskFilter, page_size: int
    ) -> list[Task]:
        return [task async for task in self._stream(request, owner, task_filter, page_size)]

    async def _evaluate(self, sets: Sequence[TaskFilter], page_size: int) -> dict[int, Task]:
        results = await _bounded(
            [lambda f=task_filter: self._evaluate_set(f, page_size) for task_filter in sets],  # type: ignore[misc]
            self.max_concurrency,
        )
        combined = combine((task_filter.operator, found) for task_filter, found in zip(sets, results, strict=True))
        return dict(sorted(combined.items()))

    # -- create -----------------------------------------------------------------------

    async def create_task(
        self,
        name: str,
        status: str | None = None,
        due_date: DateLike | None = None,
        reminder_date: DateLike | None = None,
        escalation_date: DateLike | None = None,
        description: str | None = None,
        assignees: Sequence[str] | str | None = None,
        escalatees: Sequence[str] | str | None = None,
        attributes: Sequence[AttributeLike] | None = None,
        tags: Sequence[str] | None = None,
        security_labels: Sequence[str] | None = None,
        owner: str | None = None,
        *,
        groups: Sequence[GroupLike] | None = None,
        indicators: Sequence[IndicatorLike] | None = None,
        victims: Sequence[int] | None = None,
    ) -> CreateTaskResult:
        """Create a task, then add its attributes, tags, labels and associations (build, then commit).

        Every input is validated before anything is sent. The task is created with
        ``POST /v2/tasks?owner=...`` (its failure raises); each sub-step failure is reported
        in the result's ``failures`` instead of raising (see :func:`raise_for_failures`).

        Args:
            name: Task name.
            status: ``Not Started``, ``In Progress``, ``Completed``, ``Waiting on Someone`` or ``Deferred``.
            due_date: Due date (datetime, date or ISO string; naive means UTC).
            reminder_date: Reminder date.
            escalation_date: Escalation date.
            description: Description.
            assignees: User names to assign.
            escalatees: User names to escalate to.
            attributes: :class:`AttributeSpec`, ``{"type","value","displayed","source"}`` or ``(type, value)``.
            tags: Tags (created on first use).
            security_labels: Existing security labels (``TLP:AMBER``...).
            owner: Owner to create in (default: the client's default owner).
            groups: Groups to associate: :class:`GroupRef` or ``(type, id)``.
            indicators: Indicators to associate: :class:`IndicatorRef`, ``(type, value)`` or a value to infer.
            victims: Victim ids to associate.

        Returns:
            The created task, what was added, and the failed sub-steps.
        """
        owner = self._owner(owner)
        body, steps = self._plan_create(
            name=name, status=status, due_date=due_date, reminder_date=reminder_date,
            escalation_date=escalation_date, description=description, assignees=assignees, escalatees=escalatees,
            attributes=attributes, tags=tags, security_labels=security_labels, groups=groups,
            indicators=indicators, victims=victims, owner=owner,
        )
        return await self._commit(body, steps, owner=owner)

    def _plan_create(
        self, *, name: str, status: str | None, due_date: DateLike | None, reminder_date: DateLike | None,
        escalation_date: DateLike | None, description: str | None, assignees: Sequence[str] | str | None,
        escalatees: Sequence[str] | str | None, attributes: Sequence[AttributeLike] | None,
        tags: Sequence[str] | None, security_labels: Sequence[str] | None, groups: Sequence[GroupLike] | None,
        indicators: Sequence[IndicatorLike] | None, victims: Sequence[int] | None, owner: str | None,
    ) -> tuple[dict[str, Any], list[_Step]]:
        if not isinstance(name, str) or not name.strip():
            raise BadInputError("name must be a non-empty string", service=SERVICE)
        body: dict[str, Any] = {"name": name}
        body.update(
            _task_body(
                status=status, due_date=due_date, reminder_date=reminder_date,
                escalation_date=escalation_date, description=description,
            )
        )
        assigned = str_list(assignees, "assignees")
        if assigned:
            body["assignee"] = [{"userName": user} for user in assigned]
        escalated = str_list(escalatees, "escalatees")
        if escalated:
            body["escalatee"] = [{"userName": user} for user in escalated]

        steps: list[_Step] = []
        for spec in (_attribute_spec(a) for a in attributes or ()):
            steps.append(_Step("attribute", f"{spec.type}={spec.value}", self._attribute_step(spec, owner)))
        for tag in dict.fromkeys(check_tag(t) for t in tags or ()):
            steps.append(_Step("tag", tag, _on_task(self.add_tag, tag, owner=owner)))
        for label in dict.fromkeys(str_list(list(security_labels or ()), "security_labels")):
            steps.append(_Step("security_label", label, _on_task(self.add_security_label, label, owner=owner)))
        for group in (_group_ref(g) for g in groups or ()):
            kind = group_type_path(group.type)
            run = _on_task(self.associate_group, kind, group.id, owner=owner)
            steps.append(_Step("group", f"groups/{kind}/{group.id}", run))
        for indicator in (_indicator_ref(i) for i in indicators or ()):
            kind = indicator_type_path(indicator.type)
            target = f"indicators/{kind}/{indicator.value}"
            run = _on_task(self.associate_indicator, kind, indicator.value, owner=owner)
            steps.append(_Step("indicator", target, run))
        for victim in victims or ():
            check_id(victim, "victim id")
            steps.append(_Step("victim", f"victims/{victim}", _on_task(self.associate_victim, victim, owner=owner)))
        return body, steps

    def _attribute_step(self, spec: AttributeSpec, owner: str | None) -> Callable[[int], Awaitable[Attribute]]:
        async def run(task_id: int) -> Attribute:
            return await self.add_attribute(
                task_id, spec.type, spec.value, displayed=spec.displayed, source=spec.source, owner=owner
            )

        return run

    async def _commit(
        self, body: dict[str, Any], steps: list[_Step], *, owner: str | None, commit_mark: _Step | None = None
    ) -> CreateTaskResult:
        envelope, response = await self._v2("POST", "/v2/tasks", params=self._owner_params(owner), json_body=body)
        task = self._entity(envelope, response, "task", Task)
        return await self._apply_steps(CreateTaskResult(task=task, created=True), steps, commit_mark)

    async def _apply_steps(
        self, result: CreateTaskResult, steps: list[_Step], commit_mark: _Step | None
    ) -> CreateTaskResult:
        """Run the sub-steps on ``result.task``; add the commit mark last, only when all succeeded."""
        task = result.task

        async def attempt(step: _Step) -> tuple[_Step, Any, SoarError | None]:
            try:
                return step, await step.run(task.id), None
            except SoarError as exc:
                return step, None, exc

        outcomes = await _bounded([lambda s=step: attempt(s) for step in steps], SUBSTEP_CONCURRENCY)  # type: ignore[misc]
        for step, value, error in outcomes:
            if error is not None:
                result.failures.append(_failure(step.kind, step.target, error))
            elif step.kind == "attribute":
                result.attributes.append(value)
            elif step.kind == "tag":
                result.tags.append(step.target)
            elif step.kind == "security_label":
                result.security_labels.append(step.target)
            else:
                result.associations.append(step.target)
        if result.failures:
            logger.warning("task %s: %d sub-step(s) failed; it stays unmarked", task.id, len(result.failures))
        elif commit_mark is not None:
            _, _, error = await attempt(commit_mark)
            if error is not None:
                result.failures.append(_failure(commit_mark.kind, commit_mark.target, error))
            else:
                result.tags.append(commit_mark.target)
        return result

    # -- idempotency ------------------------------------------------------------------

    async def find_task_by_marker(self, marker: str, *, owner: str | None = None) -> Task | None:
        """The task whose name starts with ``[<marker>]``, or ``None``.

        One request: ``GET /v2/tasks?filters=name^[<marker>]&includeTags=true``; candidates are
        then checked for the exact prefix. When several tasks carry it, the lowest id wins.
        """
        prefix = marker_prefix(marker)
        owner = self._owner(owner)
        candidates: list[Task] = []
        async for items, _ in self._pages(
            "/v2/tasks", "task", Task, owner=owner, page_size=DEFAULT_PAGE_SIZE,
            extra=[("filters", f"name^{prefix.rstrip()}"), ("includeTags", "true")],
        ):
            candidates.extend(items)
        exact = [t for t in candidates if t.name == prefix.rstrip() or (t.name or "").startswith(prefix)]
        if len(exact) > 1:
            logger.warning("marker %s carried by %d tasks; using the lowest id", marker, len(exact))
        return min(exact, key=lambda t: t.id) if exact else None

    @asynccontextmanager
    async def _marker_lock(self, key: tuple[str, str]) -> AsyncIterator[None]:
        entry = self._marker_locks.get(key)
        if entry is None:
            entry = self._marker_locks[key] = [asyncio.Lock(), 0]
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                self._marker_locks.pop(key, None)

    async def find_or_create_task(
        self,
        marker: str,
        name: str,
        status: str | None = None,
        due_date: DateLike | None = None,
        reminder_date: DateLike | None = None,
        escalation_date: DateLike | None = None,
        description: str | None = None,
        assignees: Sequence[str] | str | None = None,
        escalatees: Sequence[str] | str | None = None,
        attributes: Sequence[AttributeLike] | None = None,
        tags: Sequence[str] | None = None,
        security_labels: Sequence[str] | None = None,
        owner: str | None = None,
        *,
        groups: Sequence[GroupLike] | None = None,
        indicators: Sequence[IndicatorLike] | None = None,
        victims: Sequence[int] | None = None,
    ) -> CreateTaskResult:
        """Return the task marked with ``marker``, or create it (marked) with everything given.

        A found task is returned as is (``created=False``): its fields and metadata are not
        changed. See the module docs for the concurrency guarantees.

        Args:
            marker: The external id, e.g. ``ptsandbox:<scan id>``; stored as the tag ``ext:<marker>``.
            name: Task name, used when it is created. The other arguments are those of :meth:`create_task`.

        Returns:
            The task, ``created`` telling whether this call created it; ``failures`` lists sub-steps that
            failed (the task then stays without its commit mark and the next call completes it).
        """
        tag = marker_tag(marker)
        prefix = marker_prefix(marker)
        owner = self._owner(owner)
        full_name = name if name.startswith(prefix) else f"{prefix}{name}"
        body, steps = self._plan_create(
            name=full_name, status=status, due_date=due_date, reminder_date=reminder_date,
            escalation_date=escalation_date, description=description, assignees=assignees, escalatees=escalatees,
            attributes=attributes, tags=[t for t in tags or () if t != tag], security_labels=security_labels,
            groups=groups, indicators=indicators, victims=victims, owner=owner,
        )
        commit_mark = _Step("tag", tag, _on_task(self.add_tag, tag, owner=owner))
        async with self._marker_lock((owner or "", marker)):
            found = await self.find_task_by_marker(marker, owner=owner)
            if found is None:
                return await self._commit(body, steps, owner=owner, commit_mark=commit_mark)
            if tag in {t.name for t in found.tag or ()}:
                return CreateTaskResult(task=found, created=False)
            logger.info("task %s for marker %s is incomplete; completing it", found.id, marker)
            existing = {(a.type, a.value) for a in await self.list_attributes(found.id, owner=owner)}
            pending = [
                step for step in steps
                if not (step.kind == "attribute" and tuple(step.target.split("=", 1)) in existing)
            ]
            result = await self._apply_steps(CreateTaskResult(task=found, created=False), pending, commit_mark)
            return result

    async def upsert_tasks(
        self, specs: Sequence[TaskSpec | Mapping[str, Any]], *, concurrency: int = 8
    ) -> list[TaskUpsertResult]:
        """Find-or-create many tasks with bounded concurrency; one result per spec, in order.

        A spec that fails (bad input, the create call failing) gets ``error`` set; the others
        go on. Specs sharing a marker yield one task (the later ones report ``created=False``).

        Args:
            specs: The tasks, each with its marker, fields, tags, attributes, labels and associations.
            concurrency: Specs in flight at once.
        """
        if concurrency < 1:
            raise BadInputError("concurrency must be at least 1", service=SERVICE)
        parsed: list[TaskSpec | BadInputError] = []
        for index, spec in enumerate(specs):
            try:
                parsed.append(spec if isinstance(spec, TaskSpec) else TaskSpec.model_validate(spec))
            except ValidationError as exc:
                parsed.append(BadInputError(f"spec #{index} is invalid: {exc.errors()[0].get('msg')}", service=SERVICE))

        async def one(index: int) -> TaskUpsertResult:
            item = parsed[index]
            if isinstance(item, BadInputError):
                raw = specs[index]
                marker = str(raw.get("marker", "")) if isinstance(raw, Mapping) else ""
                return TaskUpsertResult(marker=marker, error=str(item))
            try:
                result = await self.find_or_create_task(
                    item.marker, item.name, status=item.status, due_date=item.due_date,
                    reminder_date=item.reminder_date, escalation_date=item.escalation_date,
                    description=item.description, assignees=item.assignees, escalatees=item.escalatees,
                    attributes=item.attributes, tags=item.tags, security_labels=item.security_labels,
                    owner=item.owner, groups=item.groups, indicators=item.indicators, victims=item.victims,
                )
            except SoarError as exc:
                return TaskUpsertResult(marker=item.marker, error=str(exc), error_type=type(exc).__name__)
            return TaskUpsertResult(
                marker=item.marker, task_id=result.task.id, created=result.created, failures=result.failures
            )

        return await _bounded([lambda i=index: one(i) for index in range(len(parsed))], concurrency)  # type: ignore[misc]


# -- helpers ----------------------------------------------------------------------------


def _task_body(
    *, name: str | None = None, status: str | None = None, due_date: DateLike | None = None,
    reminder_date: DateLike | None = None, escalation_date: DateLike | None = None, description: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if name is not None:
        body["name"] = name
    if status is not None:
        body["status"] = normalize_status(status)
    if due_date is not None:
        body["dueDate"] = format_date(due_date, what="due_date")
    if reminder_date is not None:
        body["reminderDate"] = format_date(reminder_date, what="reminder_date")
    if escalation_date is not None:
        body["escalationDate"] = format_date(escalation_date, what="escalation_date")
    if description is not None:
        body["description"] = description
    return body


def _filter_sets(filters: Sequence[TaskFilter], criteria: Mapping[str, Any]) -> list[TaskFilter]:
    if filters and criteria:
        raise BadInputError("pass TaskFilter objects or keyword criteria, not both", service=SERVICE)
    if criteria:
        try:
            return [TaskFilter(**criteria)]
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise BadInputError(f"invalid filter {where}: {first.get('msg')}", service=SERVICE) from exc
    for item in filters:
        if not isinstance(item, TaskFilter):
            raise BadInputError(f"filters must be TaskFilter objects, got {type(item).__name__}", service=SERVICE)
    return list(filters) or [TaskFilter()]


def _check_cap(max_items: int | None) -> int | None:
    if max_items is None:
        return None
    if isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 0:
        raise BadInputError(f"max_items must be a non-negative integer, got {max_items!r}", service=SERVICE)
    return max_items


def _invalid(what: str, value: Any, exc: Exception) -> BadInputError:
    return BadInputError(f"invalid {what} {value!r}: {exc}", service=SERVICE)


def _attribute_spec(value: AttributeLike) -> AttributeSpec:
    try:
        if isinstance(value, AttributeSpec):
            spec = value
        elif isinstance(value, Mapping):
            spec = AttributeSpec.model_validate(value)
        else:
            keys = ("type", "value", "displayed", "source")
            spec = AttributeSpec.model_validate(dict(zip(keys, value, strict=False)))
    except (ValidationError, TypeError) as exc:
        raise _invalid("attribute", value, exc) from exc
    if not spec.type.strip() or spec.value == "":
        raise BadInputError(f"attribute {value!r} needs a type and a value", service=SERVICE)
    return spec


def _group_ref(value: GroupLike) -> GroupRef:
    try:
        if isinstance(value, GroupRef):
            ref = value
        elif isinstance(value, Mapping):
            ref = GroupRef.model_validate(value)
        else:
            ref = GroupRef(type=value[0], id=value[1])
    except (ValidationError, TypeError, IndexError) as exc:
        raise _invalid("group", value, exc) from exc
    check_id(ref.id, "group id")
    group_type_path(ref.type)
    return ref


def _indicator_ref(value: IndicatorLike) -> IndicatorRef:
    try:
        if isinstance(value, IndicatorRef):
            ref = value
        elif isinstance(value, str):
            ref = IndicatorRef(type=guess_indicator_type(value), value=value)
        elif isinstance(value, Mapping):
            ref = IndicatorRef.model_validate(value)
        else:
            ref = IndicatorRef(type=value[0], value=value[1])
    except (ValidationError, TypeError, IndexError) as exc:
        raise _invalid("indicator", value, exc) from exc
    if not ref.value.strip():
        raise BadInputError("indicator value must not be empty", service=SERVICE)
    return ref


__all__ = [
    "MARKER_TAG_PREFIX",
    "CompareOperator",
    "CreateTaskResult",
    "PostFilter",
    "SetOperator",
    "TaskCommitError",
    "TaskFilter",
    "TaskSpec",
    "TaskUpsertResult",
    "ThreatConnectClient",
    "marker_tag",
    "raise_for_failures",
]
