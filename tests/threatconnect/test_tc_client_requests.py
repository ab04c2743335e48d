"""The exact request (method, raw path + query, headers, body) of every ThreatConnect client method."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import respx
from tc_helpers import ACCESS_ID, HOST, SECRET, VECTOR_TS, Recorder, body_of, page, task_json

from prefect_soar.clients.threatconnect import ThreatConnectClient, marker_prefix, marker_tag
from prefect_soar.clients.threatconnect_auth import hmac_signature
from prefect_soar.errors import BadInputError
from prefect_soar.models.threatconnect import AttributeSpec, GroupRef, IndicatorRef, TaskSpec

TASK = {"id": 54321, "name": "Test Task", "owner": {"id": 1, "name": "Example Org", "type": "Organization"},
        "dateAdded": "2017-07-13T17:50:17Z", "status": "Not Started", "escalated": False, "reminded": False,
        "overdue": False, "dueDate": "2017-07-13T13:36:53-04:00",
        "assignee": [{"userName": "johndoe@example.com", "firstName": "John", "lastName": "Doe"}]}
ATTRIBUTE = {"id": 77, "type": "Description", "dateAdded": "2017-07-13T17:50:17Z",
             "lastModified": "2017-07-13T17:50:17Z", "displayed": True, "value": "Test Description"}
PAGING = "resultStart=0&resultLimit=100&createActivityLog=false"


def signed(request: Any) -> None:
    """Assert the request carries a valid HMAC over its raw path as sent."""
    expected = hmac_signature(SECRET, request.url.raw_path.decode(), request.method, VECTOR_TS)
    assert request.headers["Authorization"] == f"TC {ACCESS_ID}:{expected}"
    assert request.headers["Timestamp"] == str(VECTOR_TS)


# -- connectivity and tasks ----------------------------------------------------------------


async def test_check_connection(tc_api: Recorder, tc_client: ThreatConnectClient) -> None:
    tc_api.reply(json={"status": "Success", "data": {"resultCount": 1, "owner": [{"id": 1, "name": "O"}]}})
    await tc_client.check_connection()
    request = tc_api.one()
    assert (request.method, request.url.raw_path) == ("GET", b"/api/v2/owners")
    assert request.headers["Accept"] == "application/json"
    signed(request)


async def test_get_task_with_owner_and_includes(tc_api: Recorder, owner_client: ThreatConnectClient) -> None:
    tc_api.reply(json={"status": "Success", "data": {"task": TASK}})
    task = await owner_client.get_task(54321, includes=["tags", "attributes"])
    request = tc_api.one()
    assert request.method == "GET"
    assert request.url.raw_path == b"/api/v2/tasks/54321?owner=Example+Org&includes=tags&includes=attributes"
    signed(request)
    assert task.id == 54321 and task.owner_label == "Example Org"
    assert task.assignee[0].user_name == "johndoe@example.com"
    assert task.due_date == datetime(2017, 7, 13, 17, 36, 53, tzinfo=UTC)


async def test_get_task_without_owner(tc_api: Recorder, tc_client: ThreatConnectClient) -> None:
    tc_api.reply(json={"status": "Success", "data": {"task": TASK}})
    await tc_client.get_task(54321)
    assert tc_api.lines() == ["GET /api/v2/tasks/54321"]


async def test_create_task_body_and_owner(tc_api: Recorder, owner_client: ThreatConnectClient) -> None:
    tc_api.reply(201, {"status": "Success", "data": {"task": TASK}})
    result = await owner_client.create_task(
        "Test Task", status="not started", due_date="2017-07-13T13:36:53-04:00",
        reminder_date=datetime(2017, 7, 12, 17, 36, 53), escalation_date="2017-07-14",
        description="Investigate", assignees=["johndoe@example.com"], escalatees="janedoe@example.com",
    )
    request = tc_api.one()
    assert (request.method, request.url.raw_path) == ("POST", b"/api/v2/tasks?owner=Example+Org")
    assert request.headers["Content-Type"] == "application/json"
    assert body_of(request) == {
        "name": "Test Task", "status": "Not Started", "dueDate": "2017-07-13T17:36:53Z",
        "reminderDate": "2017-07-12T17:36:53Z", "escalationDate": "2017-07-14T00:00:00Z",
        "description": "Investigate", "assignee": [{"userName": "johndoe@example.com"}],
        "escalatee": [{"userName": "janedoe@example.com"}],
    }
    signed(request)
    assert result.ok and result.created and result.task.id == 54321


async def test_create_task_commits_every_sub_step(tc_api: Recorder, tc_client: ThreatConnectClient) -> None:
    tc_api.on("POST", "/api/v2/tasks", 201, {"status": "Success", "data": {"task": TASK}})
    tc_api.on("POST", "/api/v2/tasks/54321/attributes", 201, {"status": "Success", "data": {"attribute": ATTRIBUTE}})
    for path in ("tags/Nation%20State", "tags/Phishing", "securityLabels/TLP%3AAMBER", "groups/incidents/12",
                 "indicators/urls/http%3A%2F%2Fexample.com%2Fa%3Fb%3D1", "indicators/addresses/1.2.3.4",
                 "victims/333"):
        tc_api.on("POST", f"/api/v2/tasks/54321/{path}", 201)
    result = await tc_client.create_task(
        "Test Task",
        attributes=[AttributeSpec(type="Description", value="Test Description", displayed=True, source="sandbox")],
        tags=["Nation State", "Phishing", "Phishing"], security_labels=["TLP:AMBER"],
        groups=[GroupRef(type="Incident", id=12)],
        indicators=[IndicatorRef(type="URL", value="http://example.com/a?b=1"), "1.2.3.4"], victims=[333],
    )
    lines = tc_api.lines()
    assert lines[0] == "POST /api/v2/tasks"
    assert sorted(lines[1:]) == sorted([
        "POST /api/v2/tasks/54321/attributes", "POST /api/v2/tasks/54321/tags/Nation%20State",
        "POST /api/v2/tasks/54321/tags/Phishing", "POST /api/v2/tasks/54321/securityLabels/TLP%3AAMBER",
        "POST /api/v2/tasks/54321/groups/incidents/12",
        "POST /api/v2/tasks/54321/indicators/urls/http%3A%2F%2Fexample.com%2Fa%3Fb%3D1",
        "POST /api/v2/tasks/54321/indicators/addresses/1.2.3.4", "POST /api/v2/tasks/54321/victims/333",
    ])
    attribute_request = next(r for r in tc_api.requests if r.url.path.endswith("/attributes"))
    assert body_of(attribute_request) == {"type": "Description", "value": "Test Description", "displayed": True,
                                          "source": "sandbox"}
    for request in tc_api.requests:
        signed(request)
    assert result.ok
    assert result.tags == ["Nation State", "Phishing"] and result.security_labels == ["TLP:AMBER"]
    assert result.attributes[0].id == 77
    assert sorted(result.associations) == sorted([
        "groups/incidents/12", "indicators/urls/http://example.com/a?b=1", "indicators/addresses/1.2.3.4",
        "victims/333"])


async def test_create_task_reports_failed_sub_steps(tc_api: Recorder, tc_client: ThreatConnectClient) -> None:
    tc_api.on("POST", "/api/v2/tasks", 201, {"status": "Success", "data": {"task": TASK}})
    tc_api.on("POST", "/api/v2/tasks/54321/tags/ok", 201)
    tc_api.on("POST", "/api/v2/tasks/54321/securityLabels/TLP%3ANOPE", 404,
              {"status": "Failure", "message": "The requested Security Label was not found"})
    result = await tc_client.create_task("Test Task", tags=["ok"], security_labels=["TLP:NOPE"])
    assert not result.ok and result.tags == ["ok"]
    [failure] = result.failures
    assert (failure.step, failure.target, failure.error, failure.status) == (
        "security_label", "TLP:NOPE", "NotFoundError", 404)
    assert "Security Label was not found" in failure.message


async def test_update_task_sends_changed_fields_only(tc_api: Recorder, tc_client: ThreatConnectClient) -> None:
    tc_api.reply(json={"status": "Success", "data": {"task": {**TASK, "status": "Completed"}}})
    task = await tc_client.update_task(54321, status="completed", due_date="2024-05-01T10:00:00+02:00")
    request = tc_api.one()
    assert (request.method, request.url.raw_path) == ("PUT", b"/api/v2/tasks/54321")
    assert body_of(request) == {"status": "Completed", "dueDate": "2024-05-01T08:00:00Z"}
    signed(request)
    assert task.status == "Completed"


async def test_delete_task(tc_api: Recorder, owner_client: ThreatConnectClient) -> None:
    tc_api.reply()
    await owner_client.delete_task(54321)
    request = tc_api.one()
    assert (request.method, request.url.raw_path) == ("DELETE", b"/api/v2/tasks/54321?owner=Example+Org")
    assert request.content == b""
    signed(request)


@pytest.mark.parametrize(
    ("call", "kwargs", "message"),
    [
        ("create_task", {"name": ""}, "name"),
        ("create_task", {"name": "x", "status": "Done"}, "unknown task status"),
        ("create_task", {"name": "x", "due_date": "tomorrow"}, "ISO-8601"),
        ("create_task", {"name": "x", "tags": ["t" * 129]}, "129 characters"),
        ("create_task", {"name": "x", "groups": [("galaxies", 1)]}, "unknown group type"),
        ("create_task", {"name": "x", "indicators": ["???"]}, "cannot infer"),
        ("create_task", {"name": "x", "attributes": [("Description",)]}, "invalid attribute"),
        ("create_task", {"name": "x", "victims": [0]}, "positive integer"),
        ("update_task", {"task_id": 1}, "at least one field"),
        ("get_task", {"task_id": -1}, "positive integer"),
        ("add_tag", {"task_id": 1, "tag": ".."}, "cannot be used"),
        ("list_tasks", {"page_size": 10_001}, "1 to 10000"),
        ("list_tasks", {"bogus": 1}, "invalid filter"),
        ("find_or_create_task", {"marker": "", "name": "x"}, "marker"),
        ("find_or_create_task", {"marker": "m" * 125, "name": "x"}, "too long"),
    ],
)
async def test_bad_input_sends_nothing(
    tc_client: ThreatConnectClient, call: str, kwargs: dict[str, Any], message: str
) -> None:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        route = router.route(host=HOST)
        with pytest.raises(BadInputError, match=message):
            await getattr(tc_client, call)(**kwargs)
    assert not route.called


# -- metadata ------------------------------------------------------------------------------------


async def _run(client: ThreatConnectClient, name: str, *args: Any) -> Any:
    return await getattr(client, name)(*args)


LIST_CASES = [
    ("list_associated_groups", (5,), "/api/v2/tasks/5/groups", "group",
     [{"id": 12, "name": "Incident 12", "type": "Incident", "ownerName": "Example Org"}]),
    ("list_associated_groups", (5, "Adversary"), "/api/v2/tasks/5/groups/adversaries", "group",
     [{"id": 3, "name": "APT", "type": "Adversary"}]),
    ("list_associated_indicators", (5,), "/api/v2/tasks/5/indicators", "indicator",
     [{"id": 9, "type": "URL", "summary": "http://example.com/", "rating": 3.0, "confidence": 50}]),
    ("list_associated_indicators", (5, "Host"), "/api/v2/tasks/5/indicators/hosts", "indicator",
     [{"id": 10, "type": "Host", "summary": "bad.example"}]),
    ("list_associated_victims", (5,), "/api/v2/tasks/5/victims", "victim",
     [{"id": 333, "name": "CEO", "org": "Example", "suborg": "Board", "workLocation": "HQ"}]),
    ("list_attributes", (5,), "/api/v2/tasks/5/attributes", "attribute", [ATTRIBUTE]),
    ("list_security_labels", (5,), "/api/v2/tasks/5/securityLabels", "securityLabel",
     [{"name": "TLP:AMBER", "description": "Limited", "dateAdded": "2016-08-31T00:00:00Z"}]),
    ("list_tags", (5,), "/api/v2/tasks/5/tags", "tag", [{"name": "Nation State", "webLink": "https://x/tag"}]),
    ("list_assignees", (5,), "/api/v2/tasks/5/assignees", "user",
     [{"userName": "a@x.com", "firstName": "A", "lastName": "B"}]),
    ("list_escalatees", (5,), "/api/v2/tasks/5/escalatees", "user", [{"userName": "e@x.com"}]),
]


@pytest.mark.parametrize(("method", "args", "path", "key", "items"), LIST_CASES)
async def test_metadata_lists(
    tc_api: Recorder, tc_client: ThreatConnectClient, method: str, args: tuple[Any, ...], path: str, key: str,
    items: list[dict[str, Any]],
) -> None:
    tc_api.reply(json={"status": "Success", "data": {"resultCount": len(items), key: items}})
    found = await _run(tc_client, method, *args)
    request = tc_api.one()
    assert (request.method, request.url.raw_path.decode()) == ("GET", f"{path}?{PAGING}")
    signed(request)
    assert len(found) == len(items)
    first = found[0].model_dump(by_alias=True, exclude_none=True, exclude_defaults=True)
    for field, value in items[0].items():
        if field != "dateAdded" and field != "lastModified":
            assert first[field] == value


ACTION_CASES = [
    ("associate_group", (5, "incidents", 12), "POST", "/api/v2/tasks/5/groups/incidents/12"),
    ("disassociate_group", (5, "Incident", 12), "DELETE", "/api/v2/tasks/5/groups/incidents/12"),
    ("associate_indicator", (5, "urls", "http://example.com/a b?c=d&e=f:g"), "POST",
     "/api/v2/tasks/5/indicators/urls/http%3A%2F%2Fexample.com%2Fa%20b%3Fc%3Dd%26e%3Df%3Ag"),
    ("disassociate_indicator", (5, "Address", "1.2.3.4"), "DELETE", "/api/v2/tasks/5/indicators/addresses/1.2.3.4"),
    ("associate_victim", (5, 333), "POST", "/api/v2/tasks/5/victims/333"),
    ("disassociate_victim", (5, 333), "DELETE", "/api/v2/tasks/5/victims/333"),
    ("delete_attribute", (5, 77), "DELETE", "/api/v2/tasks/5/attributes/77"),
    ("add_security_label", (5, "TLP:AMBER"), "POST", "/api/v2/tasks/5/securityLabels/TLP%3AAMBER"),
    ("delete_security_label", (5, "TLP:AMBER+STRICT"), "DELETE", "/api/v2/tasks/5/securityLabels/TLP%3AAMBER%2BSTRICT"),
    ("add_tag", (5, "Nation State"), "POST", "/api/v2/tasks/5/tags/Nation%20State"),
    ("delete_tag", (5, "a/b:c"), "DELETE", "/api/v2/tasks/5/tags/a%2Fb%3Ac"),
    ("add_assignee", (5, "a@x.com"), "POST", "/api/v2/tasks/5/assignees/a%40x.com"),
    ("delete_assignee", (5, "a@x.com"), "DELETE", "/api/v2/tasks/5/assignees/a%40x.com"),
    ("add_escalatee", (5, "e@x.com"), "POST", "/api/v2/tasks/5/escalatees/e%40x.com"),
    ("delete_escalatee", (5, "e@x.com"), "DELETE", "/api/v2/tasks/5/escalatees/e%40x.com"),
]


@pytest.mark.parametrize(("method", "args", "verb", "path"), ACTION_CASES)
async def test_metadata_actions(
    tc_api: Recorder, tc_client: ThreatConnectClient, method: str, args: tuple[Any, ...], verb: str, path: str
) -> None:
    tc_api.reply(201 if verb == "POST" else 200)
    assert await _run(tc_client, method, *args) is None
    request = tc_api.one()
    assert (request.method, request.url.raw_path.decode()) == (verb, path)
    assert request.content == b""
    signed(request)


async def test_metadata_actions_carry_the_owner(tc_api: Recorder, owner_client: ThreatConnectClient) -> None:
    tc_api.reply(201).reply(201)
    await owner_client.add_tag(5, "x")
    await owner_client.add_tag(5, "x", owner="Other Org")
    assert tc_api.lines() == [
        "POST /api/v2/tasks/5/tags/x?owner=Example+Org", "POST /api/v2/tasks/5/tags/x?owner=Other+Org"]


async def test_add_attribute(tc_api: Recorder, tc_client: ThreatConnectClient) -> None:
    tc_api.reply(201, {"status": "Success", "data": {"attribute": ATTRIBUTE}})
    added = await tc_client.add_attribute(5, "Description", "Test Description", displayed=True, source="PT Sandbox")
    request = tc_api.one()
    assert (request.method, request.url.raw_path) == ("POST", b"/api/v2/tasks/5/attributes")
    assert body_of(request) == {"type": "Description", "value": "Test Description", "displayed": True,
                                "source": "PT Sandbox"}
    signed(request)
    assert added.id == 77 and added.displayed is True


async def test_update_attribute(tc_api: Recorder, tc_client: ThreatConnectClient) -> None:
    tc_api.reply(json={"status": "Success", "data": {"attribute": {**ATTRIBUTE, "value": "New"}}})
    updated = await tc_client.update_attribute(5, 77, "New", displayed=False)
    request = tc_api.one()
    assert (request.method, request.url.raw_path) == ("PUT", b"/api/v2/tasks/5/attributes/77")
    assert body_of(request) == {"value": "New", "displayed": False}
    signed(request)
    assert updated.value == "New"


# -- idempotency -----------------------------------------------------------------------------------


MARKER_PATH = (
    f"/api/v2/tasks?owner=Example+Org&{PAGING}&filters=name%5E%5Bptsandbox%3Aabc%5D&includeTags=true"
)
MARKED = [{"name": "ext:ptsandbox:abc"}]


async def test_find_task_by_marker_is_one_request(tc_api: Recorder, owner_client: ThreatConnectClient) -> None:
    tc_api.reply(json=page([
        task_json(7, name="[ptsandbox:abcd] other"),  # a prefix match of another marker
        task_json(3, name="[ptsandbox:abc] Sample"),
        task_json(5, name="[ptsandbox:abc] Newer duplicate"),
    ], 3))
    found = await owner_client.find_task_by_marker("ptsandbox:abc")
    assert tc_api.lines() == [f"GET {MARKER_PATH}"]
    assert found is not None and found.id == 3
    assert marker_tag("ptsandbox:abc") == "ext:ptsandbox:abc"
    assert marker_prefix("ptsandbox:abc") == "[ptsandbox:abc] "


async def test_find_or_create_creates_task_and_marks_it_last(
    tc_api: Recorder, owner_client: ThreatConnectClient
) -> None:
    tc_api.reply(json=page([], 0))
    tc_api.reply(201, {"status": "Success", "data": {"task": TASK}})
    tc_api.reply(201)  # other tag
    tc_api.reply(201)  # commit mark
    result = await owner_client.find_or_create_task("ptsandbox:abc", "Test Task", tags=["Malware"])
    assert tc_api.lines() == [
        f"GET {MARKER_PATH}",
        "POST /api/v2/tasks?owner=Example+Org",
        "POST /api/v2/tasks/54321/tags/Malware?owner=Example+Org",
        "POST /api/v2/tasks/54321/tags/ext%3Aptsandbox%3Aabc?owner=Example+Org",
    ]
    assert body_of(tc_api.requests[1]) == {"name": "[ptsandbox:abc] Test Task"}
    assert result.created and result.tags == ["Malware", "ext:ptsandbox:abc"]


async def test_find_or_create_returns_existing(tc_api: Recorder, owner_client: ThreatConnectClient) -> None:
    tc_api.reply(json=page([task_json(9, name="[ptsandbox:abc] Test Task", tag=MARKED)], 1))
    result = await owner_client.find_or_create_task("ptsandbox:abc", "Test Task", tags=["Malware"])
    assert tc_api.lines() == [f"GET {MARKER_PATH}"]
    assert not result.created and result.task.id == 9


async def test_find_or_create_completes_a_half_built_task(
    tc_api: Recorder, owner_client: ThreatConnectClient
) -> None:
    tc_api.reply(json=page([task_json(9, name="[ptsandbox:abc] Test Task", tag=[{"name": "Malware"}])], 1))
    tc_api.reply(json={"status": "Success", "data": {"resultCount": 1, "attribute": [
        {"id": 1, "type": "Description", "value": "seen"}]}})
    tc_api.on("POST", "/api/v2/tasks/9/tags/Malware?owner=Example+Org", 201)  # idempotent re-add
    tc_api.on("POST", "/api/v2/tasks/9/attributes?owner=Example+Org", 201, {"status": "Success", "data": {
        "attribute": {"id": 2, "type": "Source", "value": "lab"}}})
    tc_api.reply(201)  # commit mark
    result = await owner_client.find_or_create_task(
        "ptsandbox:abc", "Test Task", tags=["Malware"],
        attributes=[("Description", "seen"), ("Source", "lab")],
    )
    lines = tc_api.lines()
    assert lines[0] == f"GET {MARKER_PATH}"
    assert lines[1].startswith("GET /api/v2/tasks/9/attributes?owner=Example+Org")
    assert sorted(lines[2:4]) == [
        "POST /api/v2/tasks/9/attributes?owner=Example+Org",
        "POST /api/v2/tasks/9/tags/Malware?owner=Example+Org",
    ]
    assert body_of(next(r for r in tc_api.requests if r.url.path.endswith("/attributes") and r.method == "POST")) == {
        "type": "Source", "value": "lab"}
    assert lines[4] == "POST /api/v2/tasks/9/tags/ext%3Aptsandbox%3Aabc?owner=Example+Org"
    assert not result.created and result.ok


async def test_upsert_tasks_reports_per_item(tc_api: Recorder, owner_client: ThreatConnectClient) -> None:
    tc_api.on("GET", MARKER_PATH, json=page([task_json(9, name="[ptsandbox:abc] A", tag=MARKED)], 1))
    tc_api.on("GET", f"/api/v2/tasks?owner=Example+Org&{PAGING}&filters=name%5E%5Bnew%5D&includeTags=true",
              json=page([], 0))
    tc_api.on("POST", "/api/v2/tasks?owner=Example+Org", 201, {"status": "Success", "data": {"task": TASK}})
    tc_api.on("POST", "/api/v2/tasks/54321/tags/ext%3Anew?owner=Example+Org", 201)
    results = await owner_client.upsert_tasks(
        [TaskSpec(marker="ptsandbox:abc", name="A"), {"marker": "new", "name": "B"}, {"marker": "bad"}],
        concurrency=2,
    )
    assert [(r.marker, r.task_id, r.created) for r in results] == [
        ("ptsandbox:abc", 9, False), ("new", 54321, True), ("bad", None, False)]
    assert results[2].error is not None and "spec #2" in results[2].error
    assert results[0].ok and results[1].ok and not results[2].ok


# -- indicators -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value", "body", "entity"),
    [
        ("files", "AB" * 32, {"sha256": "ab" * 32}, "file"),
        ("File", "ab" * 16, {"md5": "ab" * 16}, "file"),
        ("addresses", "198.51.100.7", {"ip": "198.51.100.7"}, "address"),
        ("hosts", "bad.example.net", {"hostName": "bad.example.net"}, "host"),
        ("urls", "http://bad.example.net/a b", {"text": "http://bad.example.net/a b"}, "url"),
    ],
)
async def test_create_indicator_exact_request(
    tc_api: Recorder, owner_client: ThreatConnectClient, kind: str, value: str, body: dict[str, str], entity: str
) -> None:
    tc_api.reply(201, {"status": "Success", "data": {entity: {"id": 77, **body}}})
    created = await owner_client.create_indicator(kind, value, rating=3, confidence=60)
    path = {"File": "files"}.get(kind, kind)
    assert tc_api.lines() == [f"POST /api/v2/indicators/{path}?owner=Example+Org"]
    assert body_of(tc_api.one()) == {**body, "rating": 3, "confidence": 60}
    assert created.id == 77


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [("files", "xyz", "not an MD5"), ("files", "g" * 64, "not an MD5"), ("hosts", " ", "non-empty"),
     ("registryKeys", "HKLM\\x", "full create body")],
)
async def test_create_indicator_rejects_bad_values_before_sending(
    tc_client: ThreatConnectClient, kind: str, value: str, message: str
) -> None:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        route = router.route(host=HOST)
        with pytest.raises(BadInputError, match=message):
            await tc_client.create_indicator(kind, value)
    assert not route.called
