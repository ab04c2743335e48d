"""HTTP routes of the ThreatConnect emulator: thin v2 handlers over the backend, plus lab helpers.

Every v2 route lives under ``/api/v2``. Handlers parse the request (owner, paging, includes,
body), call :class:`~prefect_soar.simulators.threatconnect_backend.ThreatConnectBackend` and render
the v2 envelopes: ``{"status": "Success", "data": {"resultCount": N, "<key>": [...]}}`` for lists
(``resultCount`` only on the first page), ``{"status": "Success", "data": {"<key>": {...}}}`` for
one object, ``{"status": "Success"}`` for actions. Errors are raised and rendered by the app.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from prefect_soar.simulators.threatconnect_backend import ThreatConnectBackend
from prefect_soar.simulators.threatconnect_records import (
    GROUP_TYPES,
    HASH_FIELDS,
    BadRequest,
    NotFound,
    Owner,
    Task,
    parse_filters,
)

MAX_RESULT_LIMIT = 10_000
DEFAULT_RESULT_LIMIT = 100
SUCCESS = {"status": "Success"}

T = TypeVar("T")


# ----------------------------------------------------------------------------------------------- parsing


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"Invalid {name} {raw!r}: expected an integer") from None


def paging(request: Request) -> tuple[int, int]:
    """``(resultStart, resultLimit)``: defaults 0 and 100, limit at most 10,000."""
    start = _int_param(request, "resultStart", 0)
    limit = _int_param(request, "resultLimit", DEFAULT_RESULT_LIMIT)
    if start < 0:
        raise BadRequest(f"Invalid resultStart {start}: must be 0 or more")
    if not 1 <= limit <= MAX_RESULT_LIMIT:
        raise BadRequest(f"Invalid resultLimit {limit}: must be between 1 and {MAX_RESULT_LIMIT}")
    return start, limit


def includes(request: Request) -> set[str]:
    """What to embed in tasks: ``includes=tags|attributes|labels|additional``, ``includeTags``, ...."""
    params = request.query_params
    out = set(params.getlist("includes"))
    if _truthy(params.get("includeTags")):
        out.add("tags")
    if _truthy(params.get("includeAttributes")):
        out.add("attributes")
    if _truthy(params.get("includeSecurityLabels")):
        out.add("labels")
    if _truthy(params.get("includeAdditional")):
        out.add("additional")
    return out


async def json_body(request: Request) -> dict[str, Any]:
    """The JSON object body, or 400."""
    raw = await request.body()
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        raise BadRequest("The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object")
    return body


# ----------------------------------------------------------------------------------------------- rendering


def ok(content: Any = None, status_code: int = 200) -> JSONResponse:
    """A success response (``{"status": "Success"}`` by default)."""
    return JSONResponse(SUCCESS if content is None else content, status_code=status_code)


def single(key: str, obj: dict[str, Any], status_code: int = 200) -> JSONResponse:
    """``{"status": "Success", "data": {key: obj}}``."""
    return ok({"status": "Success", "data": {key: obj}}, status_code)


def listing(request: Request, key: str, items: Sequence[T], render: Callable[[T], dict[str, Any]]) -> JSONResponse:
    """One page of a list; ``resultCount`` (the total) only when ``resultStart`` is 0."""
    start, limit = paging(request)
    data: dict[str, Any] = {}
    if start == 0:
        data["resultCount"] = len(items)
    data[key] = [render(item) for item in items[start:start + limit]]
    return ok({"status": "Success", "data": data})


# ----------------------------------------------------------------------------------------------- v2 API


def build_v2_router(backend: ThreatConnectBackend) -> APIRouter:
    """The ``/api/v2`` routes."""
    b = backend
    r = APIRouter(prefix="/api/v2")
    web = b.web

    def owner_of(request: Request) -> Owner:
        return b.owner(request.query_params.get("owner"))

    def task_of(request: Request, task_id: str) -> Task:
        return b.task(owner_of(request), task_id)

    def tasks_page(request: Request, tasks: Iterable[Task]) -> JSONResponse:
        params = request.query_params
        owner = owner_of(request)
        chosen = b.list_tasks(owner, parse_filters(params.get("filters")), or_params=_truthy(params.get("orParams")),
                              within=[t.id for t in tasks])
        inc = includes(request)
        return listing(request, "task", chosen, lambda t: b.task_json(t, single=False, includes=inc))

    def one_of(request: Request, tasks: Iterable[Task], task_id: str) -> JSONResponse:
        task = task_of(request, task_id)
        if task.id not in {t.id for t in tasks}:
            raise_not_found()
        return single("task", b.task_json(task, single=False, includes=includes(request)))

    # -- owners, user, labels, tags, types --------------------------------------------------------

    @r.get("/owners")
    async def list_owners(request: Request) -> JSONResponse:
        return listing(request, "owner", b.owners, lambda o: o.to_json())

    @r.get("/owners/mine")
    async def my_owner(request: Request) -> JSONResponse:
        return single("owner", b.default_owner.to_json())

    @r.get("/whoami")
    async def whoami(request: Request) -> JSONResponse:
        user = {"userName": b.settings.access_id, "firstName": "Lab", "lastName": "API User",
                "pseudonym": "lab-api", "role": "Api User"}
        return single("user", user)

    @r.get("/securityLabels")
    async def list_labels(request: Request) -> JSONResponse:
        owner_of(request)
        return listing(request, "securityLabel", list(b.labels.values()), lambda s: s.to_json())

    @r.get("/securityLabels/{label:path}/tasks/{task_id}")
    async def label_task(request: Request, label: str, task_id: str) -> JSONResponse:
        return one_of(request, b.tasks_with_label(owner_of(request), label), task_id)

    @r.get("/securityLabels/{label:path}/tasks")
    async def label_tasks(request: Request, label: str) -> JSONResponse:
        return tasks_page(request, b.tasks_with_label(owner_of(request), label))

    @r.get("/securityLabels/{label:path}")
    async def get_label(request: Request, label: str) -> JSONResponse:
        return single("securityLabel", b.label(label).to_json())

    @r.get("/tags")
    @r.get("/tags/")
    async def list_tags(request: Request) -> JSONResponse:
        owner = owner_of(request)
        return listing(request, "tag", list(b.tag_registry.values()), lambda t: t.to_json(web, owner.name))

    @r.get("/tags/{tag:path}/tasks/{task_id}")
    async def tag_task(request: Request, tag: str, task_id: str) -> JSONResponse:
        return one_of(request, b.tasks_with_tag(owner_of(request), tag), task_id)

    @r.get("/tags/{tag:path}/tasks")
    async def tag_tasks(request: Request, tag: str) -> JSONResponse:
        return tasks_page(request, b.tasks_with_tag(owner_of(request), tag))

    @r.get("/tags/{tag:path}")
    async def get_tag(request: Request, tag: str) -> JSONResponse:
        return single("tag", b.tag(tag).to_json(web, owner_of(request).name))

    @r.get("/types/attributeTypes")
    async def attribute_types(request: Request) -> JSONResponse:
        types = [{"name": name, "description": f"{name} attribute", "errorMessage": "Please enter a valid value.",
                  "maxSize": 65500, "allowMarkdown": name == "Description"} for name in b.settings.attribute_types]
        return listing(request, "attributeType", types, lambda t: t)

    # -- groups -----------------------------------------------------------------------------------

    @r.get("/groups/{branch}")
    async def list_groups(request: Request, branch: str) -> JSONResponse:
        b.group_branch(branch)
        owner = owner_of(request)
        groups = [g for g in b.groups.values() if g.branch == branch and g.owner.id == owner.id]
        return listing(request, "group", groups, lambda g: g.to_json(web))

    @r.post("/groups/{branch}")
    async def create_group(request: Request, branch: str) -> JSONResponse:
        group = b.create_group(branch, await json_body(request), owner_of(request))
        return single(_group_entity(branch), {**group.to_json(web), "owner": group.owner.to_json()}, 201)

    @r.get("/groups/{branch}/{group_id}")
    async def get_group(request: Request, branch: str, group_id: str) -> JSONResponse:
        group = b.group(branch, group_id)
        return single(_group_entity(branch), {**group.to_json(web), "owner": group.owner.to_json()})

    @r.get("/groups/{branch}/{group_id}/tasks")
    async def group_tasks(request: Request, branch: str, group_id: str) -> JSONResponse:
        return tasks_page(request, b.tasks_for_group(owner_of(request), branch, group_id))

    @r.get("/groups/{branch}/{group_id}/tasks/{task_id}")
    async def group_task(request: Request, branch: str, group_id: str, task_id: str) -> JSONResponse:
        return one_of(request, b.tasks_for_group(owner_of(request), branch, group_id), task_id)

    @r.post("/groups/{branch}/{group_id}/tasks/{task_id}")
    async def group_task_add(request: Request, branch: str, group_id: str, task_id: str) -> JSONResponse:
        b.associate_group(task_of(request, task_id), branch, group_id)
        return ok(status_code=201)

    @r.delete("/groups/{branch}/{group_id}/tasks/{task_id}")
    async def group_task_remove(request: Request, branch: str, group_id: str, task_id: str) -> JSONResponse:
        b.dissociate_group(task_of(request, task_id), branch, group_id)
        return ok()

    # -- indicators -------------------------------------------------------------------------------

    @r.get("/indicators/{branch}")
    async def list_indicators(request: Request, branch: str) -> JSONResponse:
        kind = b.indicator_type(branch)
        owner = owner_of(request)
        found = [i for i in b.indicators.values() if i.kind is kind and i.owner.id == owner.id]
        return listing(request, kind.entity, found, lambda i: i.to_entity_json(web))

    @r.post("/indicators/{branch}")
    async def create_indicator(request: Request, branch: str) -> JSONResponse:
        indicator = b.create_indicator(branch, await json_body(request), owner_of(request))
        return single(indicator.kind.entity, indicator.to_entity_json(web), 201)

    @r.get("/indicators/{branch}/{value:path}/tasks/{task_id}")
    async def indicator_task(request: Request, branch: str, value: str, task_id: str) -> JSONResponse:
        return one_of(request, b.tasks_for_indicator(owner_of(request), branch, value), task_id)

    @r.post("/indicators/{branch}/{value:path}/tasks/{task_id}")
    async def indicator_task_add(request: Request, branch: str, value: str, task_id: str) -> JSONResponse:
        b.associate_indicator(task_of(request, task_id), branch, value)
        return ok(status_code=201)

    @r.delete("/indicators/{branch}/{value:path}/tasks/{task_id}")
    async def indicator_task_remove(request: Request, branch: str, value: str, task_id: str) -> JSONResponse:
        b.dissociate_indicator(task_of(request, task_id), branch, value)
        return ok()

    @r.get("/indicators/{branch}/{value:path}/tasks")
    async def indicator_tasks(request: Request, branch: str, value: str) -> JSONResponse:
        return tasks_page(request, b.tasks_for_indicator(owner_of(request), branch, value))

    @r.get("/indicators/{branch}/{value:path}")
    async def get_indicator(request: Request, branch: str, value: str) -> JSONResponse:
        indicator = b.indicator(branch, value)
        return single(indicator.kind.entity, indicator.to_entity_json(web))

    # -- victims ----------------------------------------------------------------------------------

    @r.get("/victims")
    async def list_victims(request: Request) -> JSONResponse:
        owner = owner_of(request)
        return listing(request, "victim", [v for v in b.victims.values() if v.owner.id == owner.id],
                       lambda v: v.to_json(web))

    @r.get("/victims/{victim_id}")
    async def get_victim(request: Request, victim_id: str) -> JSONResponse:
        return single("victim", b.victim(victim_id).to_json(web))

    @r.get("/victims/{victim_id}/tasks")
    async def victim_tasks(request: Request, victim_id: str) -> JSONResponse:
        return tasks_page(request, b.tasks_for_victim(owner_of(request), victim_id))

    @r.get("/victims/{victim_id}/tasks/{task_id}")
    async def victim_task(request: Request, victim_id: str, task_id: str) -> JSONResponse:
        return one_of(request, b.tasks_for_victim(owner_of(request), victim_id), task_id)

    @r.post("/victims/{victim_id}/tasks/{task_id}")
    async def victim_task_add(request: Request, victim_id: str, task_id: str) -> JSONResponse:
        b.associate_victim(task_of(request, task_id), victim_id)
        return ok(status_code=201)

    @r.delete("/victims/{victim_id}/tasks/{task_id}")
    async def victim_task_remove(request: Request, victim_id: str, task_id: str) -> JSONResponse:
        b.dissociate_victim(task_of(request, task_id), victim_id)
        return ok()

    # -- tasks ------------------------------------------------------------------------------------

    @r.get("/tasks")
    @r.get("/tasks/")
    async def list_tasks(request: Request) -> JSONResponse:
        return tasks_page(request, b.tasks.values())

    @r.post("/tasks")
    @r.post("/tasks/")
    async def create_task(request: Request) -> JSONResponse:
        task = b.create_task(owner_of(request), await json_body(request))
        return single("task", b.task_json(task, single=True, includes=includes(request)), 201)

    @r.get("/tasks/{task_id}")
    async def get_task(request: Request, task_id: str) -> JSONResponse:
        return single("task", b.task_json(task_of(request, task_id), single=True, includes=includes(request)))

    @r.put("/tasks/{task_id}")
    async def update_task(request: Request, task_id: str) -> JSONResponse:
        task = b.update_task(owner_of(request), task_id, await json_body(request))
        return single("task", b.task_json(task, single=True, includes=includes(request)))

    @r.delete("/tasks/{task_id}")
    async def delete_task(request: Request, task_id: str) -> JSONResponse:
        b.delete_task(owner_of(request), task_id)
        return ok()

    # attributes
    @r.get("/tasks/{task_id}/attributes")
    async def list_attributes(request: Request, task_id: str) -> JSONResponse:
        task = task_of(request, task_id)
        return listing(request, "attribute", list(task.attributes.values()), lambda a: a.to_json())

    @r.post("/tasks/{task_id}/attributes")
    async def add_attribute(request: Request, task_id: str) -> JSONResponse:
        task = task_of(request, task_id)
        return single("attribute", b.add_attribute(task, await json_body(request)).to_json(), 201)

    @r.get("/tasks/{task_id}/attributes/{attribute_id}")
    async def get_attribute(request: Request, task_id: str, attribute_id: str) -> JSONResponse:
        return single("attribute", b.attribute(task_of(request, task_id), attribute_id).to_json())

    @r.put("/tasks/{task_id}/attributes/{attribute_id}")
    async def update_attribute(request: Request, task_id: str, attribute_id: str) -> JSONResponse:
        task = task_of(request, task_id)
        return single("attribute", b.update_attribute(task, attribute_id, await json_body(request)).to_json())

    @r.delete("/tasks/{task_id}/attributes/{attribute_id}")
    async def delete_attribute(request: Request, task_id: str, attribute_id: str) -> JSONResponse:
        b.delete_attribute(task_of(request, task_id), attribute_id)
        return ok()

    @r.get("/tasks/{task_id}/attributes/{attribute_id}/securityLabels")
    async def attribute_labels(request: Request, task_id: str, attribute_id: str) -> JSONResponse:
        attr = b.attribute(task_of(request, task_id), attribute_id)
        return listing(request, "securityLabel", [b.labels[n] for n in attr.labels], lambda s: s.to_json())

    @r.post("/tasks/{task_id}/attributes/{attribute_id}/securityLabels/{label:path}")
    async def attribute_label_add(request: Request, task_id: str, attribute_id: str, label: str) -> JSONResponse:
        b.add_attribute_label(task_of(request, task_id), attribute_id, label)
        return ok(status_code=201)

    @r.delete("/tasks/{task_id}/attributes/{attribute_id}/securityLabels/{label:path}")
    async def attribute_label_remove(request: Request, task_id: str, attribute_id: str, label: str) -> JSONResponse:
        b.remove_attribute_label(task_of(request, task_id), attribute_id, label)
        return ok()

    # tags
    @r.get("/tasks/{task_id}/tags")
    async def list_task_tags(request: Request, task_id: str) -> JSONResponse:
        task = task_of(request, task_id)
        tags = [b.tag_registry[t] for t in task.tags]
        return listing(request, "tag", tags, lambda t: t.to_json(web, task.owner.name))

    @r.get("/tasks/{task_id}/tags/{tag:path}")
    async def get_task_tag(request: Request, task_id: str, tag: str) -> JSONResponse:
        task = task_of(request, task_id)
        return single("tag", b.applied_tag(task, tag).to_json(web, task.owner.name))

    @r.post("/tasks/{task_id}/tags/{tag:path}")
    async def add_task_tag(request: Request, task_id: str, tag: str) -> JSONResponse:
        b.add_tag(task_of(request, task_id), tag)
        return ok(status_code=201)

    @r.delete("/tasks/{task_id}/tags/{tag:path}")
    async def remove_task_tag(request: Request, task_id: str, tag: str) -> JSONResponse:
        b.remove_tag(task_of(request, task_id), tag)
        return ok()

    # security labels
    @r.get("/tasks/{task_id}/securityLabels")
    async def list_task_labels(request: Request, task_id: str) -> JSONResponse:
        task = task_of(request, task_id)
        return listing(request, "securityLabel", [b.labels[n] for n in task.labels], lambda s: s.to_json())

    @r.get("/tasks/{task_id}/securityLabels/{label:path}")
    async def get_task_label(request: Request, task_id: str, label: str) -> JSONResponse:
        return single("securityLabel", b.applied_label(task_of(request, task_id), label).to_json())

    @r.post("/tasks/{task_id}/securityLabels/{label:path}")
    async def add_task_label(request: Request, task_id: str, label: str) -> JSONResponse:
        b.add_label(task_of(request, task_id), label)
        return ok(status_code=201)

    @r.delete("/tasks/{task_id}/securityLabels/{label:path}")
    async def remove_task_label(request: Request, task_id: str, label: str) -> JSONResponse:
        b.remove_label(task_of(request, task_id), label)
        return ok()

    # group associations
    @r.get("/tasks/{task_id}/groups")
    async def list_task_groups(request: Request, task_id: str) -> JSONResponse:
        return listing(request, "group", b.task_groups(task_of(request, task_id)), lambda g: g.to_json(web))

    @r.get("/tasks/{task_id}/groups/{branch}")
    async def list_task_groups_of(request: Request, task_id: str, branch: str) -> JSONResponse:
        return listing(request, "group", b.task_groups(task_of(request, task_id), branch), lambda g: g.to_json(web))

    @r.get("/tasks/{task_id}/groups/{branch}/{group_id}")
    async def get_task_group(request: Request, task_id: str, branch: str, group_id: str) -> JSONResponse:
        task = task_of(request, task_id)
        group = b.group(branch, group_id)
        if group.id not in task.groups:
            raise_not_found()
        return single("group", group.to_json(web))

    @r.post("/tasks/{task_id}/groups/{branch}/{group_id}")
    async def add_task_group(request: Request, task_id: str, branch: str, group_id: str) -> JSONResponse:
        b.associate_group(task_of(request, task_id), branch, group_id)
        return ok(status_code=201)

    @r.delete("/tasks/{task_id}/groups/{branch}/{group_id}")
    async def remove_task_group(request: Request, task_id: str, branch: str, group_id: str) -> JSONResponse:
        b.dissociate_group(task_of(request, task_id), branch, group_id)
        return ok()

    # indicator associations
    @r.get("/tasks/{task_id}/indicators")
    async def list_task_indicators(request: Request, task_id: str) -> JSONResponse:
        return listing(request, "indicator", b.task_indicators(task_of(request, task_id)), lambda i: i.to_json(web))

    @r.get("/tasks/{task_id}/indicators/{branch}")
    async def list_task_indicators_of(request: Request, task_id: str, branch: str) -> JSONResponse:
        found = b.task_indicators(task_of(request, task_id), branch)
        return listing(request, "indicator", found, lambda i: i.to_json(web))

    @r.get("/tasks/{task_id}/indicators/{branch}/{value:path}")
    async def get_task_indicator(request: Request, task_id: str, branch: str, value: str) -> JSONResponse:
        task = task_of(request, task_id)
        indicator = b.indicator(branch, value)
        if indicator.id not in task.indicators:
            raise_not_found()
        return single("indicator", indicator.to_json(web))

    @r.post("/tasks/{task_id}/indicators/{branch}/{value:path}")
    async def add_task_indicator(request: Request, task_id: str, branch: str, value: str) -> JSONResponse:
        b.associate_indicator(task_of(request, task_id), branch, value)
        return ok(status_code=201)

    @r.delete("/tasks/{task_id}/indicators/{branch}/{value:path}")
    async def remove_task_indicator(request: Request, task_id: str, branch: str, value: str) -> JSONResponse:
        b.dissociate_indicator(task_of(request, task_id), branch, value)
        return ok()

    # victim associations
    @r.get("/tasks/{task_id}/victims")
    async def list_task_victims(request: Request, task_id: str) -> JSONResponse:
        return listing(request, "victim", b.task_victims(task_of(request, task_id)), lambda v: v.to_json(web))

    @r.get("/tasks/{task_id}/victims/{victim_id}")
    async def get_task_victim(request: Request, task_id: str, victim_id: str) -> JSONResponse:
        task = task_of(request, task_id)
        victim = b.victim(victim_id)
        if victim.id not in task.victims:
            raise_not_found()
        return single("victim", victim.to_json(web))

    @r.post("/tasks/{task_id}/victims/{victim_id}")
    async def add_task_victim(request: Request, task_id: str, victim_id: str) -> JSONResponse:
        b.associate_victim(task_of(request, task_id), victim_id)
        return ok(status_code=201)

    @r.delete("/tasks/{task_id}/victims/{victim_id}")
    async def remove_task_victim(request: Request, task_id: str, victim_id: str) -> JSONResponse:
        b.dissociate_victim(task_of(request, task_id), victim_id)
        return ok()

    # task to task
    @r.get("/tasks/{task_id}/tasks")
    async def list_task_tasks(request: Request, task_id: str) -> JSONResponse:
        task = task_of(request, task_id)
        return tasks_page(request, [b.tasks[i] for i in task.tasks if i in b.tasks])

    @r.get("/tasks/{task_id}/tasks/{other_id}")
    async def get_task_task(request: Request, task_id: str, other_id: str) -> JSONResponse:
        task = task_of(request, task_id)
        return one_of(request, [b.tasks[i] for i in task.tasks if i in b.tasks], other_id)

    # assignees and escalatees
    for role, branch in (("assignee", "assignees"), ("escalatee", "escalatees")):
        _add_people_routes(r, b, task_of, role, branch)

    # documented shorthand: /v2/tasks/{id}/{groupType}[/{groupId}]
    @r.get("/tasks/{task_id}/{branch}")
    async def list_task_groups_short(request: Request, task_id: str, branch: str) -> JSONResponse:
        return await list_task_groups_of(request, task_id, branch)

    @r.get("/tasks/{task_id}/{branch}/{group_id}")
    async def get_task_group_short(request: Request, task_id: str, branch: str, group_id: str) -> JSONResponse:
        return await get_task_group(request, task_id, branch, group_id)

    return r


def _add_people_routes(r: APIRouter, b: ThreatConnectBackend, task_of: Callable[[Request, str], Task],
                       role: str, branch: str) -> None:
    async def list_people(request: Request, task_id: str) -> JSONResponse:
        return listing(request, "user", b.people(task_of(request, task_id), role), lambda u: u.to_json())

    async def get_person(request: Request, task_id: str, user: str) -> JSONResponse:
        return single("user", b.person(task_of(request, task_id), role, user).to_json())

    async def add_person(request: Request, task_id: str, user: str) -> JSONResponse:
        b.add_person(task_of(request, task_id), role, user)
        return ok(status_code=201)

    async def remove_person(request: Request, task_id: str, user: str) -> JSONResponse:
        b.remove_person(task_of(request, task_id), role, user)
        return ok()

    r.add_api_route(f"/tasks/{{task_id}}/{branch}", list_people, methods=["GET"], name=f"list_{branch}")
    r.add_api_route(f"/tasks/{{task_id}}/{branch}/{{user}}", get_person, methods=["GET"], name=f"get_{role}")
    r.add_api_route(f"/tasks/{{task_id}}/{branch}/{{user}}", add_person, methods=["POST"], name=f"add_{role}")
    r.add_api_route(f"/tasks/{{task_id}}/{branch}/{{user}}", remove_person, methods=["DELETE"],
                    name=f"remove_{role}")


def _group_entity(branch: str) -> str:
    ThreatConnectBackend.group_branch(branch)
    return GROUP_TYPES[branch][1]


def raise_not_found() -> NoReturn:
    """Raise the API's 404."""
    raise NotFound()


# ----------------------------------------------------------------------------------------------- lab helpers


def build_admin_router(backend: ThreatConnectBackend, prefix: str) -> APIRouter:
    """Unauthenticated lab helpers to create what tasks link to and to inspect state."""
    b = backend
    r = APIRouter(prefix=prefix, tags=["threatconnect lab"])

    @r.get("/tasks")
    async def dump_tasks() -> JSONResponse:
        out = []
        for task in sorted(b.tasks.values(), key=lambda t: t.id):
            item = b.task_json(task, single=True, includes={"tags", "attributes", "labels"})
            item.update(groups=list(task.groups), indicators=list(task.indicators), victims=list(task.victims),
                        tasks=list(task.tasks))
            out.append(item)
        return ok({"status": "Success", "data": {"resultCount": len(out), "task": out}})

    @r.post("/groups")
    async def add_group(request: Request) -> JSONResponse:
        body = await json_body(request)
        group = b.create_group(str(body.get("type", "")), body, b.owner(body.get("owner")))
        return single("group", group.to_json(b.web), 201)

    @r.post("/indicators")
    async def add_indicator(request: Request) -> JSONResponse:
        body = await json_body(request)
        kind = b.indicator_type(str(body.get("type", "")))
        fields = dict(body)
        value = body.get("value")
        if isinstance(value, str) and value:
            if kind.any_field:
                fields.setdefault(HASH_FIELDS.get(len(value), "md5"), value)
            else:
                fields.update(zip(kind.fields, value.split(" : "), strict=False))
        indicator = b.create_indicator(kind.branch, fields, b.owner(body.get("owner")))
        return single("indicator", indicator.to_json(b.web), 201)

    @r.post("/victims")
    async def add_victim(request: Request) -> JSONResponse:
        body = await json_body(request)
        victim = b.create_victim(body, b.owner(body.get("owner")))
        return single("victim", {**victim.to_json(b.web), "assets": [a.__dict__ for a in victim.assets]}, 201)

    @r.post("/tasks/{task_id}/tasks/{other_id}")
    async def link_tasks(task_id: int, other_id: int) -> JSONResponse:
        b.associate_tasks(task_id, other_id)
        return ok(status_code=201)

    return r

