"""ThreatConnect emulator: v2 Task CRUD, envelopes, status codes, owners, paging and ``filters=``."""

from __future__ import annotations

import pytest
from sim_fixtures import asgi_client, make_app, task_ids

from prefect_soar.simulators.threatconnect import create_app

NOT_FOUND = {"status": "Failure", "message": "The requested resource was not found"}
NOW = 1_750_000_000.0  # 2025-06-15T15:06:40Z


class Clock:
    """A settable clock."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def client():
    async with asgi_client(create_app()) as c:
        yield c


@pytest.fixture
async def empty():
    """An emulator with no seeded tasks and a frozen clock; yields (client, backend, clock)."""
    clock = Clock()
    app = make_app(seed_tasks=0, clock=clock)
    async with asgi_client(app) as c:
        yield c, app.state.backend, clock


async def test_list_envelope_uses_owner_name_and_result_count(client):
    response = await client.get("/v2/tasks")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "Success"
    assert body["data"]["resultCount"] == 4  # the 5th seeded task lives in "Lab Community"
    first = body["data"]["task"][0]
    assert first["ownerName"] == "Lab Org"
    assert "owner" not in first
    assert set(first) >= {"id", "name", "dateAdded", "webLink", "status", "escalated", "reminded", "overdue"}
    assert first["webLink"] == "https://app.threatconnect.com/auth/workflow/task.xhtml?task=1001"


async def test_get_single_envelope_has_owner_object(client):
    response = await client.get("/v2/tasks/1001")
    assert response.status_code == 200
    task = response.json()["data"]["task"]
    assert task["owner"] == {"id": 1, "name": "Lab Org", "type": "Organization"}
    assert "ownerName" not in task
    assert task["dateAdded"] == "2024-01-01T00:00:00Z"
    assert task["assignee"][0].keys() == {"userName", "firstName", "lastName"}


@pytest.mark.parametrize("path", ["/v2/tasks/999999", "/v2/tasks/abc", "/v2/tasks/1005", "/v2/nothing/here"])
async def test_missing_is_404_failure_envelope(client, path):
    response = await client.get(path)
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


async def test_owner_scopes_every_lookup(client):
    other = await client.get("/v2/tasks/1005", params={"owner": "Lab Community"})
    listed = await client.get("/v2/tasks", params={"owner": "Lab Community"})
    unknown = await client.get("/v2/tasks", params={"owner": "Nobody Org"})
    assert other.status_code == 200
    assert other.json()["data"]["task"]["owner"]["type"] == "Community"
    assert task_ids(listed) == [1005]
    assert unknown.status_code == 403
    assert unknown.json() == {"status": "Failure", "message": "Access Denied"}


async def test_create_returns_201_with_the_full_task(empty):
    client, backend, _ = empty
    body = {"name": "Investigate beacon", "status": "In Progress", "description": "From the sandbox",
            "dueDate": "2025-06-20T13:36:53-04:00", "reminderDate": "2025-06-19T00:00:00Z",
            "escalationDate": "2025-06-21", "assignee": [{"userName": "analyst@lab.example"}],
            "escalatee": [{"userName": "manager@lab.example"}]}
    response = await client.post("/v2/tasks", params={"owner": "Lab Org"}, json=body)
    assert response.status_code == 201
    task = response.json()["data"]["task"]
    assert task["id"] == 1001
    assert task["name"] == "Investigate beacon"
    assert task["owner"]["name"] == "Lab Org"
    assert task["status"] == "In Progress"
    assert task["description"] == "From the sandbox"
    assert task["dueDate"] == "2025-06-20T17:36:53Z"  # normalised to UTC
    assert task["escalationDate"] == "2025-06-21T00:00:00Z"
    assert task["dateAdded"] == task["lastModified"] == "2025-06-15T15:06:40Z"
    assert task["assignee"] == [{"userName": "analyst@lab.example", "firstName": "Ada", "lastName": "Analyst"}]
    assert task["escalatee"][0]["userName"] == "manager@lab.example"
    assert (task["overdue"], task["escalated"], task["reminded"]) == (False, False, False)
    assert backend.tasks[1001].assignees == ["analyst@lab.example"]


async def test_create_with_trailing_slash_and_default_status(empty):
    client, _, _ = empty
    response = await client.post("/v2/tasks/", json={"name": "Docs style"})
    assert response.status_code == 201
    assert response.json()["data"]["task"]["status"] == "Not Started"


async def test_create_in_another_owner(empty):
    client, backend, _ = empty
    response = await client.post("/v2/tasks", params={"owner": "Lab Community"}, json={"name": "Shared"})
    assert response.status_code == 201
    assert backend.find_tasks(name="Shared")[0].owner.name == "Lab Community"
    assert task_ids(await client.get("/v2/tasks")) == []


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "name is required"),
        ({"name": ""}, "name is required"),
        ({"name": "x", "status": "Done"}, "Invalid status"),
        ({"name": "x", "dueDate": "tomorrow"}, "dueDate"),
        ({"name": "x", "assignee": [{"userName": "ghost@lab.example"}]}, "ghost@lab.example"),
        ({"name": "x", "escalatee": "manager@lab.example"}, "escalatee"),
    ],
)
async def test_create_rejects_bad_bodies_with_400(empty, body, fragment):
    client, backend, _ = empty
    response = await client.post("/v2/tasks", json=body)
    assert response.status_code == 400
    assert response.json()["status"] == "Failure"
    assert fragment in response.json()["message"]
    assert backend.tasks == {}


@pytest.mark.parametrize("content", [b"not json", b"[1, 2]"])
async def test_create_rejects_non_object_json(empty, content):
    client, _, _ = empty
    response = await client.post("/v2/tasks", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["status"] == "Failure"


async def test_update_changes_only_given_fields(empty):
    client, _, clock = empty
    created = (await client.post("/v2/tasks", json={"name": "Old", "description": "keep",
                                                    "dueDate": "2025-06-01T00:00:00Z"})).json()["data"]["task"]
    assert created["overdue"] is True
    clock.now += 60
    response = await client.put(f"/v2/tasks/{created['id']}",
                                json={"name": "New", "status": "Completed",
                                      "assignee": {"userName": ["responder@lab.example", "analyst@lab.example"]}})
    assert response.status_code == 200
    task = response.json()["data"]["task"]
    assert task["name"] == "New"
    assert task["description"] == "keep"
    assert task["status"] == "Completed"
    assert task["overdue"] is False  # completed tasks are not overdue
    assert task["lastModified"] == "2025-06-15T15:07:40Z"
    assert [a["userName"] for a in task["assignee"]] == ["responder@lab.example", "analyst@lab.example"]


async def test_update_is_all_or_nothing_and_404_for_unknown(empty):
    client, backend, _ = empty
    task_id = (await client.post("/v2/tasks", json={"name": "Keep"})).json()["data"]["task"]["id"]
    bad = await client.put(f"/v2/tasks/{task_id}", json={"name": "Changed", "status": "Nope"})
    missing = await client.put("/v2/tasks/424242", json={"name": "x"})
    assert bad.status_code == 400
    assert backend.tasks[task_id].name == "Keep"
    assert missing.status_code == 404


async def test_delete_then_gone(empty):
    client, backend, _ = empty
    task_id = (await client.post("/v2/tasks", json={"name": "Doomed"})).json()["data"]["task"]["id"]
    deleted = await client.delete(f"/v2/tasks/{task_id}")
    again = await client.delete(f"/v2/tasks/{task_id}")
    fetched = await client.get(f"/v2/tasks/{task_id}")
    assert deleted.status_code == 200
    assert deleted.json() == {"status": "Success"}
    assert again.status_code == 404
    assert fetched.json() == NOT_FOUND
    assert task_id not in backend.tasks


async def test_paging_result_count_only_on_first_page(empty):
    client, _, _ = empty
    for n in range(12):
        await client.post("/v2/tasks", json={"name": f"Task {n:02d}"})
    first = (await client.get("/v2/tasks", params={"resultStart": 0, "resultLimit": 5})).json()["data"]
    second = (await client.get("/v2/tasks", params={"resultStart": 5, "resultLimit": 5})).json()["data"]
    last = (await client.get("/v2/tasks", params={"resultStart": 10, "resultLimit": 5})).json()["data"]
    everything = (await client.get("/v2/tasks", params={"resultLimit": 10000})).json()["data"]
    assert first["resultCount"] == 12
    assert [t["name"] for t in first["task"]] == [f"Task {n:02d}" for n in range(5)]
    assert "resultCount" not in second
    assert [t["name"] for t in second["task"]] == [f"Task {n:02d}" for n in range(5, 10)]
    assert "resultCount" not in last
    assert len(last["task"]) == 2
    assert len(everything["task"]) == 12


async def test_default_page_is_100(empty):
    client, backend, _ = empty
    for n in range(101):
        backend.create_task(backend.default_owner, {"name": f"bulk {n}"})
    data = (await client.get("/v2/tasks")).json()["data"]
    assert data["resultCount"] == 101
    assert len(data["task"]) == 100


@pytest.mark.parametrize("params", [{"resultLimit": 10001}, {"resultLimit": 0}, {"resultStart": -1},
                                    {"resultLimit": "many"}])
async def test_bad_paging_is_400(client, params):
    response = await client.get("/v2/tasks", params=params)
    assert response.status_code == 400
    assert response.json()["status"] == "Failure"


@pytest.fixture
async def filterable(empty):
    """Four tasks with distinct statuses, dates and people; returns (client, {name: id}, clock)."""
    client, _, clock = empty
    specs = [
        {"name": "Alpha one", "status": "Not Started", "dueDate": "2025-06-01T00:00:00Z",
         "assignee": [{"userName": "analyst@lab.example"}], "escalationDate": "2025-06-10T00:00:00Z"},
        {"name": "Alpha two", "status": "In Progress", "dueDate": "2025-07-01T00:00:00Z",
         "assignee": [{"userName": "responder@lab.example"}], "escalatee": [{"userName": "manager@lab.example"}],
         "reminderDate": "2025-06-14T00:00:00Z"},
        {"name": "Beta", "status": "Completed", "dueDate": "2025-05-01T00:00:00Z"},
        {"name": "Gamma", "status": "Deferred"},
    ]
    ids = {}
    for n, spec in enumerate(specs):
        clock.now = NOW - (len(specs) - n) * 86400  # added on successive days
        ids[spec["name"]] = (await client.post("/v2/tasks", json=spec)).json()["data"]["task"]["id"]
    clock.now = NOW
    return client, ids


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ("status=Not Started", ["Alpha one"]),
        ("status!Completed", ["Alpha one", "Alpha two", "Gamma"]),
        ("name=Beta", ["Beta"]),
        ("name^Alpha", ["Alpha one", "Alpha two"]),
        ("dueDate<2025-06-15T00:00:00Z", ["Alpha one", "Beta"]),
        ("dueDate>2025-06-15", ["Alpha two"]),
        ("dateAdded>2025-06-12T20:00:00Z", ["Beta", "Gamma"]),
        ("dateAdded<2025-06-12T20:00:00Z", ["Alpha one", "Alpha two"]),
        ("assignee=analyst@lab.example", ["Alpha one"]),
        ("escalatee=manager@lab.example", ["Alpha two"]),
        ("overdue=true", ["Alpha one"]),
        ("overdue=false", ["Alpha two", "Beta", "Gamma"]),
        ("escalated=true", ["Alpha one"]),
        ("reminded=true", ["Alpha two"]),
        ("name^Alpha,status=In Progress", ["Alpha two"]),
    ],
)
async def test_server_side_filters(filterable, filters, expected):
    client, ids = filterable
    response = await client.get("/v2/tasks", params={"filters": filters})
    assert response.status_code == 200, response.text
    assert task_ids(response) == [ids[name] for name in expected]


async def test_filters_percent_encoded_as_in_the_docs(filterable):
    client, ids = filterable
    response = await client.get("http://tc.lab/api/v2/tasks?resultStart=0&filters=status%3DNot%20Started")
    assert task_ids(response) == [ids["Alpha one"]]


async def test_or_params_ors_the_filters(filterable):
    client, ids = filterable
    response = await client.get("/v2/tasks", params={"filters": "name=Beta,status=Deferred", "orParams": "true"})
    anded = await client.get("/v2/tasks", params={"filters": "name=Beta,status=Deferred"})
    assert task_ids(response) == [ids["Beta"], ids["Gamma"]]
    assert task_ids(anded) == []


@pytest.mark.parametrize("filters", ["colour=red", "status<Completed", "overdue=maybe", "dueDate>soon", "status"])
async def test_bad_filters_are_400(filterable, filters):
    client, _ = filterable
    response = await client.get("/v2/tasks", params={"filters": filters})
    assert response.status_code == 400
    assert response.json()["status"] == "Failure"


async def test_includes_embed_tags_attributes_labels(client):
    plain = (await client.get("/v2/tasks")).json()["data"]["task"][0]
    tagged = (await client.get("/v2/tasks", params={"includeTags": "true"})).json()["data"]["task"][0]
    full = (await client.get("/v2/tasks/1001", params=[("includes", "attributes"), ("includes", "labels"),
                                                        ("includes", "tags")])).json()["data"]["task"]
    assert "tag" not in plain
    assert [t["name"] for t in tagged["tag"]] == ["Seeded", "Nation State"]
    assert full["attribute"][0]["type"] == "Description"
    assert full["securityLabel"][0]["name"] == "TLP:AMBER"
    assert "webLink" in full["tag"][0]


async def test_owners_whoami_and_connection_endpoints(client):
    owners = (await client.get("/v2/owners")).json()["data"]
    mine = (await client.get("/v2/owners/mine")).json()["data"]["owner"]
    whoami = await client.get("/v2/whoami")
    assert owners["resultCount"] == 2
    assert [o["name"] for o in owners["owner"]] == ["Lab Org", "Lab Community"]
    assert mine == {"id": 1, "name": "Lab Org", "type": "Organization"}
    assert whoami.json()["data"]["user"]["role"] == "Api User"


async def test_reset_restores_the_seeded_state():
    app = create_app()
    backend = app.state.backend
    async with asgi_client(app) as client:
        await client.delete("/v2/tasks/1001")
        await client.post("/v2/tasks", json={"name": "Extra"})
        snapshot_names = [t.name for t in backend.tasks.values()]
        reset = await client.post("http://tc.lab/_lab/reset")
    assert reset.status_code == 200
    assert "Extra" in snapshot_names
    assert sorted(backend.tasks) == [1001, 1002, 1003, 1004, 1005]
    assert backend.find_tasks(name="Extra") == []
