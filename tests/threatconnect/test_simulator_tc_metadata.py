"""ThreatConnect emulator: task metadata (attributes, tags, labels, people, associations) and reverse paths."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sim_fixtures import asgi_client, task_ids

from prefect_soar.simulators.threatconnect import create_app

SUCCESS = {"status": "Success"}
NOT_FOUND = {"status": "Failure", "message": "The requested resource was not found"}

_APP = create_app()


@pytest.fixture
async def lab():
    """One emulator for the module, reset before each test; yields (client, backend, new task id)."""
    _APP.state.lab.reset()
    backend = _APP.state.backend
    async with asgi_client(_APP) as client:
        task_id = (await client.post("/v2/tasks", json={"name": "Metadata target"})).json()["data"]["task"]["id"]
        yield client, backend, task_id


def _group_id(backend, branch: str, n: int = 1) -> int:
    return [g.id for g in backend.groups.values() if g.branch == branch][n - 1]


# -- attributes ---------------------------------------------------------------------------------


async def test_attribute_lifecycle(lab):
    client, backend, tid = lab
    added = await client.post(f"/v2/tasks/{tid}/attributes",
                              json={"type": "Source", "value": "PT Sandbox", "displayed": True, "source": "prefect"})
    assert added.status_code == 201
    attr = added.json()["data"]["attribute"]
    assert attr["type"] == "Source"
    assert attr["value"] == "PT Sandbox"
    assert attr["displayed"] is True
    assert attr["source"] == "prefect"
    assert set(attr) >= {"id", "dateAdded", "lastModified"}

    listed = (await client.get(f"/v2/tasks/{tid}/attributes")).json()["data"]
    assert listed["resultCount"] == 1
    assert listed["attribute"][0]["id"] == attr["id"]

    updated = await client.put(f"/v2/tasks/{tid}/attributes/{attr['id']}",
                               json={"value": "Updated", "displayed": False})
    assert updated.status_code == 200
    assert updated.json()["data"]["attribute"]["value"] == "Updated"
    assert updated.json()["data"]["attribute"]["displayed"] is False
    assert backend.tasks[tid].attribute_values("Source") == ["Updated"]

    single = await client.get(f"/v2/tasks/{tid}/attributes/{attr['id']}")
    assert single.json()["data"]["attribute"]["value"] == "Updated"

    deleted = await client.delete(f"/v2/tasks/{tid}/attributes/{attr['id']}")
    assert deleted.status_code == 200
    assert deleted.json() == SUCCESS
    gone = await client.get(f"/v2/tasks/{tid}/attributes/{attr['id']}")
    assert gone.status_code == 404
    assert gone.json() == NOT_FOUND


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"type": "Not A Type", "value": "x"}, "Invalid attribute type"),
        ({"type": "Description"}, "value is required"),
        ({"value": "x"}, "type is required"),
        ({"type": "Description", "value": "x", "displayed": "yes"}, "displayed"),
    ],
)
async def test_attribute_bad_bodies_are_400(lab, body, fragment):
    client, backend, tid = lab
    response = await client.post(f"/v2/tasks/{tid}/attributes", json=body)
    assert response.status_code == 400
    assert fragment in response.json()["message"]
    assert backend.tasks[tid].attributes == {}


async def test_attribute_update_needs_value(lab):
    client, backend, tid = lab
    attr_id = (await client.post(f"/v2/tasks/{tid}/attributes",
                                 json={"type": "Description", "value": "v"})).json()["data"]["attribute"]["id"]
    response = await client.put(f"/v2/tasks/{tid}/attributes/{attr_id}", json={"displayed": True})
    assert response.status_code == 400
    assert backend.tasks[tid].attributes[attr_id].displayed is False


async def test_attribute_security_labels(lab):
    client, _, tid = lab
    attr_id = (await client.post(f"/v2/tasks/{tid}/attributes",
                                 json={"type": "Description", "value": "v"})).json()["data"]["attribute"]["id"]
    added = await client.post(f"/v2/tasks/{tid}/attributes/{attr_id}/securityLabels/TLP%3AAMBER")
    unknown = await client.post(f"/v2/tasks/{tid}/attributes/{attr_id}/securityLabels/TLP%3APURPLE")
    listed = (await client.get(f"/v2/tasks/{tid}/attributes/{attr_id}/securityLabels")).json()["data"]
    removed = await client.delete(f"/v2/tasks/{tid}/attributes/{attr_id}/securityLabels/TLP%3AAMBER")
    assert added.status_code == 201
    assert unknown.status_code == 404
    assert [s["name"] for s in listed["securityLabel"]] == ["TLP:AMBER"]
    assert removed.status_code == 200


# -- tags -----------------------------------------------------------------------------------------


async def test_tags_created_on_first_use_with_encoded_names(lab):
    client, backend, tid = lab
    before = await client.get("/v2/tags/Brand%20New%20Tag")
    added = await client.post(f"/v2/tasks/{tid}/tags/Brand%20New%20Tag")
    after = await client.get("/v2/tags/Brand%20New%20Tag")
    assert before.status_code == 404
    assert added.status_code == 201
    assert added.json() == SUCCESS
    assert after.status_code == 200
    assert after.json()["data"]["tag"] == {
        "name": "Brand New Tag",
        "webLink": "https://app.threatconnect.com/auth/tags/tag.xhtml?tag=Brand+New+Tag&owner=Lab+Org",
    }
    assert backend.tasks[tid].tags == ["Brand New Tag"]


async def test_tag_list_get_delete(lab):
    client, backend, tid = lab
    for tag in ("Nation State", "a/b: c"):
        assert (await client.post(f"/v2/tasks/{tid}/tags/{quote(tag, safe='')}")).status_code == 201
    again = await client.post(f"/v2/tasks/{tid}/tags/Nation%20State")  # idempotent
    listed = (await client.get(f"/v2/tasks/{tid}/tags")).json()["data"]
    single = await client.get(f"/v2/tasks/{tid}/tags/a%2Fb%3A%20c")
    removed = await client.delete(f"/v2/tasks/{tid}/tags/Nation%20State")
    removed_again = await client.delete(f"/v2/tasks/{tid}/tags/Nation%20State")
    assert again.status_code == 201
    assert listed["resultCount"] == 2
    assert [t["name"] for t in listed["tag"]] == ["Nation State", "a/b: c"]
    assert single.json()["data"]["tag"]["name"] == "a/b: c"
    assert removed.status_code == 200
    assert removed_again.status_code == 404
    assert backend.tasks[tid].tags == ["a/b: c"]


async def test_tag_too_long_is_400(lab):
    client, backend, tid = lab
    response = await client.post(f"/v2/tasks/{tid}/tags/{'x' * 129}")
    assert response.status_code == 400
    assert "128" in response.json()["message"]
    assert backend.tasks[tid].tags == []


# -- security labels -----------------------------------------------------------------------------


async def test_security_labels_must_preexist(lab):
    client, backend, tid = lab
    encoded = await client.post(f"/v2/tasks/{tid}/securityLabels/TLP%3AAMBER")
    raw_colon = await client.post(f"/v2/tasks/{tid}/securityLabels/TLP:RED")
    unknown = await client.post(f"/v2/tasks/{tid}/securityLabels/TLP%3APURPLE")
    catalogue = await client.get("/v2/securityLabels/TLP%3APURPLE")
    assert encoded.status_code == 201
    assert encoded.json() == SUCCESS
    assert raw_colon.status_code == 201
    assert unknown.status_code == 404
    assert unknown.json()["status"] == "Failure"
    assert "TLP:PURPLE" in unknown.json()["message"]
    assert catalogue.status_code == 404  # not created by the attempt
    assert backend.tasks[tid].labels == ["TLP:AMBER", "TLP:RED"]


async def test_security_label_list_get_delete(lab):
    client, backend, tid = lab
    await client.post(f"/v2/tasks/{tid}/securityLabels/TLP%3AGREEN")
    listed = (await client.get(f"/v2/tasks/{tid}/securityLabels")).json()["data"]
    single = await client.get(f"/v2/tasks/{tid}/securityLabels/TLP%3AGREEN")
    not_applied = await client.delete(f"/v2/tasks/{tid}/securityLabels/TLP%3ARED")
    removed = await client.delete(f"/v2/tasks/{tid}/securityLabels/TLP%3AGREEN")
    catalogue = (await client.get("/v2/securityLabels")).json()["data"]
    assert listed["resultCount"] == 1
    assert listed["securityLabel"][0].keys() == {"name", "description", "dateAdded"}
    assert single.json()["data"]["securityLabel"]["name"] == "TLP:GREEN"
    assert not_applied.status_code == 404
    assert removed.status_code == 200
    assert backend.tasks[tid].labels == []
    assert "TLP:AMBER+STRICT" in [s["name"] for s in catalogue["securityLabel"]]


# -- assignees and escalatees --------------------------------------------------------------------


@pytest.mark.parametrize("branch", ["assignees", "escalatees"])
async def test_people_lifecycle(lab, branch):
    client, backend, tid = lab
    added = await client.post(f"/v2/tasks/{tid}/{branch}/analyst@lab.example")
    by_id = await client.post(f"/v2/tasks/{tid}/{branch}/2")  # the overview's /{assigneeId} form
    unknown = await client.post(f"/v2/tasks/{tid}/{branch}/ghost@lab.example")
    listed = (await client.get(f"/v2/tasks/{tid}/{branch}")).json()["data"]
    single = await client.get(f"/v2/tasks/{tid}/{branch}/analyst@lab.example")
    removed = await client.delete(f"/v2/tasks/{tid}/{branch}/analyst@lab.example")
    removed_again = await client.delete(f"/v2/tasks/{tid}/{branch}/analyst@lab.example")
    assert added.status_code == 201
    assert added.json() == SUCCESS
    assert by_id.status_code == 201
    assert unknown.status_code == 404
    assert [u["userName"] for u in listed["user"]] == ["analyst@lab.example", "responder@lab.example"]
    assert single.json()["data"]["user"] == {"userName": "analyst@lab.example", "firstName": "Ada",
                                             "lastName": "Analyst"}
    assert removed.status_code == 200
    assert removed_again.status_code == 404
    people = backend.tasks[tid].assignees if branch == "assignees" else backend.tasks[tid].escalatees
    assert people == ["responder@lab.example"]


# -- group associations -------------------------------------------------------------------------


async def test_group_association_lifecycle(lab):
    client, backend, tid = lab
    gid = _group_id(backend, "incidents", 2)
    added = await client.post(f"/v2/tasks/{tid}/groups/incidents/{gid}")
    all_groups = (await client.get(f"/v2/tasks/{tid}/groups")).json()["data"]
    incidents = (await client.get(f"/v2/tasks/{tid}/groups/incidents")).json()["data"]
    threats = (await client.get(f"/v2/tasks/{tid}/groups/threats")).json()["data"]
    shorthand = (await client.get(f"/v2/tasks/{tid}/incidents")).json()["data"]
    single = await client.get(f"/v2/tasks/{tid}/groups/incidents/{gid}")
    wrong_type = await client.post(f"/v2/tasks/{tid}/groups/threats/{gid}")
    bad_branch = await client.get(f"/v2/tasks/{tid}/groups/widgets")
    removed = await client.delete(f"/v2/tasks/{tid}/groups/incidents/{gid}")
    removed_again = await client.delete(f"/v2/tasks/{tid}/groups/incidents/{gid}")
    assert added.status_code == 201
    assert added.json() == SUCCESS
    assert all_groups["resultCount"] == 1
    group = all_groups["group"][0]
    assert group["id"] == gid
    assert group["type"] == "Incident"
    assert group["ownerName"] == "Lab Org"
    assert group["webLink"] == f"https://app.threatconnect.com/auth/incident/incident.xhtml?incident={gid}"
    assert incidents["group"] == all_groups["group"] == shorthand["group"]
    assert threats == {"resultCount": 0, "group": []}
    assert single.json()["data"]["group"]["id"] == gid
    assert wrong_type.status_code == 404
    assert bad_branch.status_code == 404
    assert removed.status_code == 200
    assert removed_again.status_code == 404
    assert backend.tasks[tid].groups == []


# -- indicator associations ---------------------------------------------------------------------


async def test_create_file_indicator_and_associate_by_any_hash(lab):
    client, backend, tid = lab
    md5, sha256 = "d41d8cd98f00b204e9800998ecf8427e", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    created = await client.post("/v2/indicators/files", json={"md5": md5.upper(), "sha256": sha256, "rating": 3.0})
    assert created.status_code == 201
    entity = created.json()["data"]["file"]
    assert entity["md5"] == md5.upper()
    assert entity["owner"]["name"] == "Lab Org"
    same = await client.post("/v2/indicators/files", json={"md5": md5})
    assert same.json()["data"]["file"]["id"] == entity["id"]  # no duplicate
    added = await client.post(f"/v2/tasks/{tid}/indicators/files/{sha256}")
    listed = (await client.get(f"/v2/tasks/{tid}/indicators/files")).json()["data"]
    by_md5 = await client.get(f"/v2/tasks/{tid}/indicators/files/{md5}")
    assert added.status_code == 201
    assert listed["indicator"][0]["summary"] == f"{md5.upper()} : {sha256}"
    assert listed["indicator"][0]["type"] == "File"
    assert by_md5.json()["data"]["indicator"]["id"] == entity["id"]
    assert backend.tasks[tid].indicators == [entity["id"]]


@pytest.mark.parametrize("body", [{}, {"md5": "xyz"}, {"sha1": "d41d8cd98f00b204e9800998ecf8427e"}])
async def test_bad_file_indicator_is_400(lab, body):
    client, _, _ = lab
    response = await client.post("/v2/indicators/files", json=body)
    assert response.status_code == 400
    assert response.json()["status"] == "Failure"


@pytest.mark.parametrize("safe", ["", "/"])  # fully encoded (XSOAR, quote(safe='')) and tcex-style quote()
async def test_url_indicator_value_is_path_encoded(lab, safe):
    client, backend, tid = lab
    url = "http://bad.example.net/payload.bin"
    encoded = quote(url, safe=safe)
    added = await client.post(f"/v2/tasks/{tid}/indicators/urls/{encoded}")
    reverse = await client.get(f"/v2/indicators/urls/{encoded}/tasks")
    single = await client.get(f"/v2/indicators/urls/{encoded}")
    removed = await client.delete(f"/v2/tasks/{tid}/indicators/urls/{encoded}")
    assert added.status_code == 201, added.text
    assert tid in task_ids(reverse)
    assert single.json()["data"]["url"]["text"] == url
    assert removed.status_code == 200
    assert backend.tasks[tid].indicators == []


async def test_indicator_association_errors(lab):
    client, _, tid = lab
    unknown_value = await client.post(f"/v2/tasks/{tid}/indicators/hosts/nowhere.example")
    unknown_type = await client.post(f"/v2/tasks/{tid}/indicators/gizmos/x")
    not_associated = await client.delete(f"/v2/tasks/{tid}/indicators/hosts/bad.example.net")
    assert unknown_value.status_code == 404
    assert unknown_type.status_code == 404
    assert not_associated.status_code == 404


async def test_task_indicator_lists(lab):
    client, _, tid = lab
    await client.post(f"/v2/tasks/{tid}/indicators/addresses/198.51.100.7")
    await client.post(f"/v2/tasks/{tid}/indicators/hosts/BAD.example.net")  # hosts match case-insensitively
    everything = (await client.get(f"/v2/tasks/{tid}/indicators")).json()["data"]
    hosts = (await client.get(f"/v2/tasks/{tid}/indicators/hosts")).json()["data"]
    assert [i["summary"] for i in everything["indicator"]] == ["198.51.100.7", "bad.example.net"]
    assert [i["type"] for i in hosts["indicator"]] == ["Host"]


# -- victims --------------------------------------------------------------------------------------


async def test_victim_association_needs_an_asset(lab):
    client, backend, tid = lab
    with_assets = next(v.id for v in backend.victims.values() if v.assets)
    without = next(v.id for v in backend.victims.values() if not v.assets)
    added = await client.post(f"/v2/tasks/{tid}/victims/{with_assets}")
    refused = await client.post(f"/v2/tasks/{tid}/victims/{without}")
    unknown = await client.post(f"/v2/tasks/{tid}/victims/99999")
    listed = (await client.get(f"/v2/tasks/{tid}/victims")).json()["data"]
    single = await client.get(f"/v2/tasks/{tid}/victims/{with_assets}")
    removed = await client.delete(f"/v2/tasks/{tid}/victims/{with_assets}")
    assert added.status_code == 201
    assert refused.status_code == 400
    assert "Victim Asset" in refused.json()["message"]
    assert unknown.status_code == 404
    assert listed["victim"][0].keys() >= {"id", "name", "org", "suborg", "workLocation", "nationality", "webLink"}
    assert single.json()["data"]["victim"]["id"] == with_assets
    assert removed.status_code == 200
    assert backend.tasks[tid].victims == []


# -- reverse ("filter by association") paths ----------------------------------------------------


@pytest.mark.parametrize("branch", ["adversaries", "campaigns", "documents", "emails", "incidents", "signatures",
                                    "threats"])
async def test_reverse_group_filter_paths(lab, branch):
    client, backend, tid = lab
    gid = _group_id(backend, branch)
    await client.post(f"/v2/tasks/{tid}/groups/{branch}/{gid}")
    response = await client.get(f"/v2/groups/{branch}/{gid}/tasks")
    single = await client.get(f"/v2/groups/{branch}/{gid}/tasks/{tid}")
    other_group = await client.get(f"/v2/groups/{branch}/{_group_id(backend, branch, 2)}/tasks")
    assert response.status_code == 200
    assert tid in task_ids(response)
    assert response.json()["data"]["task"][-1]["ownerName"] == "Lab Org"
    assert single.json()["data"]["task"]["id"] == tid
    assert tid not in task_ids(other_group)


async def test_reverse_writes_through_the_other_side(lab):
    client, backend, tid = lab
    gid = _group_id(backend, "incidents", 2)
    vid = next(v.id for v in backend.victims.values() if v.assets)
    group = await client.post(f"/v2/groups/incidents/{gid}/tasks/{tid}")
    indicator = await client.post(f"/v2/indicators/addresses/198.51.100.7/tasks/{tid}")
    victim = await client.post(f"/v2/victims/{vid}/tasks/{tid}")
    task = backend.tasks[tid]
    assert (group.status_code, indicator.status_code, victim.status_code) == (201, 201, 201)
    assert task.groups == [gid]
    assert task.victims == [vid]
    assert len(task.indicators) == 1
    assert (await client.delete(f"/v2/groups/incidents/{gid}/tasks/{tid}")).status_code == 200
    assert (await client.delete(f"/v2/indicators/addresses/198.51.100.7/tasks/{tid}")).status_code == 200
    assert (await client.delete(f"/v2/victims/{vid}/tasks/{tid}")).status_code == 200
    assert (task.groups, task.indicators, task.victims) == ([], [], [])


async def test_reverse_tag_label_indicator_victim_task_paths(lab):
    client, backend, tid = lab
    vid = next(v.id for v in backend.victims.values() if v.assets)
    await client.post(f"/v2/tasks/{tid}/tags/Nation%20State")
    await client.post(f"/v2/tasks/{tid}/securityLabels/TLP%3AAMBER")
    await client.post(f"/v2/tasks/{tid}/indicators/hosts/bad.example.net")
    await client.post(f"/v2/tasks/{tid}/victims/{vid}")
    by_tag = await client.get("/v2/tags/Nation%20State/tasks")
    by_label = await client.get("/v2/securityLabels/TLP%3AAMBER/tasks")
    by_indicator = await client.get("/v2/indicators/hosts/bad.example.net/tasks")
    by_victim = await client.get(f"/v2/victims/{vid}/tasks")
    by_task = await client.get("/v2/tasks/1002/tasks")  # task_id filter: tasks associated with task 1002
    by_id = await client.get(f"/v2/tasks/{tid}")
    for response in (by_tag, by_label, by_indicator, by_victim):
        assert task_ids(response) == [1001, tid]  # the seeded task 1001 carries all of these too
    assert task_ids(by_task) == [1001]
    assert by_id.json()["data"]["task"]["id"] == tid
    assert (await client.get(f"/v2/tags/Nation%20State/tasks/{tid}")).json()["data"]["task"]["id"] == tid
    assert (await client.get("/v2/tags/Nation%20State/tasks/1003")).status_code == 404


async def test_reverse_paths_honour_owner_filters_and_paging(lab):
    client, _, tid = lab
    community = (await client.post("/v2/tasks", params={"owner": "Lab Community"},
                                   json={"name": "Community task", "status": "Completed"})).json()["data"]["task"]
    for task_id, owner in ((tid, "Lab Org"), (community["id"], "Lab Community")):
        await client.post(f"/v2/tasks/{task_id}/tags/Shared", params={"owner": owner})
    org = await client.get("/v2/tags/Shared/tasks")
    other = await client.get("/v2/tags/Shared/tasks", params={"owner": "Lab Community"})
    filtered = await client.get("/v2/tags/Shared/tasks", params={"owner": "Lab Community",
                                                                 "filters": "status!Completed"})
    second_page = await client.get("/v2/tags/Seeded/tasks", params={"resultStart": 1, "resultLimit": 2})
    assert task_ids(org) == [tid]
    assert task_ids(other) == [community["id"]]
    assert task_ids(filtered) == []
    assert "resultCount" not in second_page.json()["data"]
    assert task_ids(second_page) == [1002, 1003]


async def test_reverse_paths_for_unknown_things(lab):
    client, _, _ = lab
    unknown_tag = await client.get("/v2/tags/Never%20Used/tasks")
    unknown_label = await client.get("/v2/securityLabels/TLP%3APURPLE/tasks")
    unknown_group = await client.get("/v2/groups/incidents/1/tasks")
    unknown_indicator = await client.get("/v2/indicators/hosts/nowhere.example/tasks")
    unknown_victim = await client.get("/v2/victims/1/tasks")
    assert unknown_tag.json() == {"status": "Success", "data": {"resultCount": 0, "task": []}}
    for response in (unknown_label, unknown_group, unknown_indicator, unknown_victim):
        assert response.status_code == 404
        assert response.json()["status"] == "Failure"


# -- lab helpers and backend inspection ---------------------------------------------------------


async def test_lab_helpers_create_groups_indicators_victims_and_task_links(lab):
    client, backend, tid = lab
    group = await client.post("http://tc.lab/_lab/threatconnect/groups", json={"type": "malware", "name": "LabRat"})
    indicator = await client.post("http://tc.lab/_lab/threatconnect/indicators",
                                  json={"type": "files", "value": "a" * 64})
    victim = await client.post("http://tc.lab/_lab/threatconnect/victims",
                               json={"name": "Branch office", "assets": [{"type": "WebSite", "name": "b.example"}]})
    link = await client.post(f"http://tc.lab/_lab/threatconnect/tasks/{tid}/tasks/1003")
    assert (group.status_code, indicator.status_code, victim.status_code, link.status_code) == (201, 201, 201, 201)
    gid = group.json()["data"]["group"]["id"]
    assert (await client.post(f"/v2/tasks/{tid}/groups/malware/{gid}")).status_code == 201
    assert (await client.post(f"/v2/tasks/{tid}/indicators/files/{'A' * 64}")).status_code == 201
    assert (await client.post(f"/v2/tasks/{tid}/victims/{victim.json()['data']['victim']['id']}")).status_code == 201
    assert task_ids(await client.get(f"/v2/tasks/{tid}/tasks")) == [1003]
    assert backend.find_tasks(name="Metadata target")[0].tasks == [1003]


async def test_backend_find_tasks(lab):
    client, backend, tid = lab
    await client.post(f"/v2/tasks/{tid}/attributes", json={"type": "External ID", "value": "ext-42"})
    await client.post(f"/v2/tasks/{tid}/tags/Marker")
    assert [t.id for t in backend.find_tasks(attribute=("External ID", "ext-42"))] == [tid]
    assert [t.id for t in backend.find_tasks(tag="Marker", owner="Lab Org")] == [tid]
    assert [t.id for t in backend.find_tasks(name_prefix="Metadata")] == [tid]
    assert backend.find_tasks(tag="Marker", owner="Lab Community") == []
