"""The real client against the ThreatConnect emulator over loopback HTTP (HMAC signatures included)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tc_helpers import FAST

from prefect_soar.clients.threatconnect import TaskFilter, ThreatConnectClient
from prefect_soar.errors import BadRequestError, NotFoundError
from prefect_soar.models.threatconnect import AttributeSpec, GroupRef, IndicatorRef, TaskSpec
from prefect_soar.simulators._lab import LabServer

GROUP_FILTERS = {
    "adversary_id": "adversaries", "campaign_id": "campaigns", "document_id": "documents", "email_id": "emails",
    "incident_id": "incidents", "signature_id": "signatures", "threat_id": "threats",
}
ODD_URL = "http://evil.example/a b/c?d=e&f=g:h"


def backend(tc_lab: LabServer) -> Any:
    return tc_lab.app.state.backend


def first_group(tc_lab: LabServer, branch: str) -> int:
    return next(g.id for g in backend(tc_lab).groups.values() if g.branch == branch)


def victim_with_assets(tc_lab: LabServer) -> int:
    return next(v.id for v in backend(tc_lab).victims.values() if v.assets)


async def test_round_trip(lab_client: ThreatConnectClient, tc_lab: LabServer) -> None:
    """create -> tag -> attribute -> label -> associate -> list by every filter -> disassociate -> delete."""
    lab = backend(tc_lab)
    lab.create_indicator("urls", {"text": ODD_URL}, lab.default_owner)
    due = datetime.now(UTC) + timedelta(days=3)
    created = await lab_client.create_task(
        "Round trip", status="In Progress", due_date=due, description="end to end",
        assignees=["analyst@lab.example"], escalatees=["manager@lab.example"],
    )
    assert created.ok
    task = created.task
    tid = task.id
    assert (task.name, task.status, task.owner_label, task.description) == (
        "Round trip", "In Progress", "Lab Org", "end to end")
    assert [u.user_name for u in task.assignee] == ["analyst@lab.example"]

    await lab_client.add_tag(tid, "Nation State")
    attribute = await lab_client.add_attribute(tid, "Description", "first", displayed=True, source="lab")
    await lab_client.add_security_label(tid, "TLP:AMBER")
    groups = {name: first_group(tc_lab, branch) for name, branch in GROUP_FILTERS.items()}
    for name, branch in GROUP_FILTERS.items():
        await lab_client.associate_group(tid, branch, groups[name])
    await lab_client.associate_indicator(tid, "urls", ODD_URL)
    await lab_client.associate_indicator(tid, "Host", "bad.example.net")
    victim = victim_with_assets(tc_lab)
    await lab_client.associate_victim(tid, victim)
    other = (await lab_client.create_task("Linked")).task
    lab.associate_tasks(tid, other.id)

    by_filter: dict[str, dict[str, Any]] = {
        "id": {"id": tid}, "owner": {"owner": "Lab Org"}, "tag": {"tag": "Nation State"},
        "security_label": {"security_label": "TLP:AMBER"}, "indicator": {"indicator": ODD_URL},
        "indicator_typed": {"indicator": "bad.example.net", "indicator_type": "hosts"},
        "victim_id": {"victim_id": victim}, "task_id": {"task_id": other.id},
        **{name: {name: gid} for name, gid in groups.items()},
        "status": {"status": "In Progress"}, "assignee": {"assignee": "analyst@lab.example"},
        "escalatee": {"escalatee": "manager@lab.example"}, "overdue": {"overdue": False},
        "due": {"due_after": due - timedelta(hours=1), "due_before": due + timedelta(hours=1)},
        "post_name": {"post_filters": [{"field": "name", "operator": "EQ", "value": "Round trip"}]},
    }
    for label, criteria in by_filter.items():
        found = [t.id for t in await lab_client.list_tasks(**criteria)]
        assert tid in found, label
    assert len(by_filter) >= 15

    assert [t.name for t in await lab_client.list_tags(tid)] == ["Nation State"]
    [attr] = await lab_client.list_attributes(tid)
    assert (attr.id, attr.type, attr.value, attr.displayed, attr.source) == (
        attribute.id, "Description", "first", True, "lab")
    assert [s.name for s in await lab_client.list_security_labels(tid)] == ["TLP:AMBER"]
    assert {g.id for g in await lab_client.list_associated_groups(tid)} == set(groups.values())
    assert [g.id for g in await lab_client.list_associated_groups(tid, "incidents")] == [groups["incident_id"]]
    indicators = await lab_client.list_associated_indicators(tid)
    assert {i.summary for i in indicators} == {ODD_URL, "bad.example.net"}
    assert [i.summary for i in await lab_client.list_associated_indicators(tid, "urls")] == [ODD_URL]
    assert [v.id for v in await lab_client.list_associated_victims(tid)] == [victim]
    assert [u.user_name for u in await lab_client.list_assignees(tid)] == ["analyst@lab.example"]
    assert [u.user_name for u in await lab_client.list_escalatees(tid)] == ["manager@lab.example"]

    updated_attr = await lab_client.update_attribute(tid, attribute.id, "second", displayed=False)
    assert (updated_attr.value, updated_attr.displayed) == ("second", False)
    updated = await lab_client.update_task(tid, name="Round trip (done)", status="Completed")
    assert (updated.name, updated.status) == ("Round trip (done)", "Completed")
    await lab_client.add_assignee(tid, "responder@lab.example")
    await lab_client.add_escalatee(tid, "analyst@lab.example")
    assert {u.user_name for u in await lab_client.list_assignees(tid)} == {"analyst@lab.example",
                                                                          "responder@lab.example"}

    for name, branch in GROUP_FILTERS.items():
        await lab_client.disassociate_group(tid, branch, groups[name])
    await lab_client.disassociate_indicator(tid, "urls", ODD_URL)
    await lab_client.disassociate_indicator(tid, "hosts", "bad.example.net")
    await lab_client.disassociate_victim(tid, victim)
    await lab_client.delete_tag(tid, "Nation State")
    await lab_client.delete_security_label(tid, "TLP:AMBER")
    await lab_client.delete_attribute(tid, attribute.id)
    for user in ("analyst@lab.example", "responder@lab.example"):
        await lab_client.delete_assignee(tid, user)
    for user in ("manager@lab.example", "analyst@lab.example"):
        await lab_client.delete_escalatee(tid, user)
    assert await lab_client.list_associated_groups(tid) == []
    assert await lab_client.list_associated_indicators(tid) == []
    assert await lab_client.list_associated_victims(tid) == []
    assert await lab_client.list_tags(tid) == [] and await lab_client.list_attributes(tid) == []
    assert await lab_client.list_security_labels(tid) == []
    assert await lab_client.list_assignees(tid) == [] and await lab_client.list_escalatees(tid) == []
    assert tid not in [t.id for t in await lab_client.list_tasks(tag="Nation State")]
    assert tid not in [t.id for t in await lab_client.list_tasks(incident_id=groups["incident_id"])]

    await lab_client.delete_task(tid)
    with pytest.raises(NotFoundError):
        await lab_client.get_task(tid)
    assert tid not in lab.tasks


async def test_create_task_with_everything_in_one_call(lab_client: ThreatConnectClient, tc_lab: LabServer) -> None:
    incident = first_group(tc_lab, "incidents")
    result = await lab_client.create_task(
        "Built then committed", attributes=[AttributeSpec(type="Source", value="PT Sandbox", displayed=True)],
        tags=["Malware", "ext:x"], security_labels=["TLP:GREEN", "TLP:NOPE"],
        groups=[GroupRef(type="incidents", id=incident)],
        indicators=[IndicatorRef(type="addresses", value="198.51.100.7")],
        victims=[victim_with_assets(tc_lab)],
    )
    assert [f.target for f in result.failures] == ["TLP:NOPE"]
    stored = backend(tc_lab).tasks[result.task.id]
    assert stored.tags == ["Malware", "ext:x"] and stored.labels == ["TLP:GREEN"]
    assert [a.value for a in stored.attributes.values()] == ["PT Sandbox"]
    assert stored.groups == [incident] and len(stored.indicators) == 1 and len(stored.victims) == 1


async def test_victim_without_asset_is_a_reported_failure(lab_client: ThreatConnectClient, tc_lab: LabServer) -> None:
    bare = next(v.id for v in backend(tc_lab).victims.values() if not v.assets)
    result = await lab_client.create_task("Victim check", victims=[bare])
    assert [(f.step, f.error) for f in result.failures] == [("victim", "BadRequestError")]
    with pytest.raises(BadRequestError, match="Victim Asset"):
        await lab_client.associate_victim(result.task.id, bare)


async def test_find_or_create_makes_one_task_sequentially(lab_client: ThreatConnectClient, tc_lab: LabServer) -> None:
    first = await lab_client.find_or_create_task("ptsandbox:seq-1", "Sample seq-1", tags=["Malware"])
    second = await lab_client.find_or_create_task("ptsandbox:seq-1", "Sample seq-1 (again)")
    assert first.created and not second.created
    assert first.task.id == second.task.id
    assert len(backend(tc_lab).find_tasks(tag="ext:ptsandbox:seq-1")) == 1
    assert (await lab_client.find_task_by_marker("ptsandbox:seq-1")).id == first.task.id  # type: ignore[union-attr]
    assert await lab_client.find_task_by_marker("ptsandbox:SEQ-1") is None
    assert await lab_client.find_task_by_marker("ptsandbox:never") is None


async def test_find_or_create_makes_one_task_concurrently(lab_client: ThreatConnectClient, tc_lab: LabServer) -> None:
    results = await asyncio.gather(
        *(lab_client.find_or_create_task("ptsandbox:conc-1", f"Sample conc-1 #{n}") for n in range(8)),
        *(lab_client.find_or_create_task("ptsandbox:conc-2", "Sample conc-2") for _ in range(4)),
    )
    assert sum(r.created for r in results) == 2
    assert len({r.task.id for r in results[:8]}) == 1 and len({r.task.id for r in results[8:]}) == 1
    assert len(backend(tc_lab).find_tasks(tag="ext:ptsandbox:conc-1")) == 1
    assert len(backend(tc_lab).find_tasks(tag="ext:ptsandbox:conc-2")) == 1
    assert lab_client._marker_locks == {}


async def test_find_or_create_completes_a_task_left_half_built(
    lab_client: ThreatConnectClient, tc_lab: LabServer
) -> None:
    # An interrupted run: the task was created (marker in its name) and one attribute added, then the process died.
    half = await lab_client.create_task(
        "[ptsandbox:crash-1] Sample crash-1", attributes=[("Description", "verdict DANGEROUS")]
    )
    result = await lab_client.find_or_create_task(
        "ptsandbox:crash-1", "Sample crash-1", tags=["Malware"], security_labels=["TLP:AMBER"],
        attributes=[("Description", "verdict DANGEROUS"), ("Source", "lab")],
    )
    assert not result.created and result.ok and result.task.id == half.task.id
    [stored] = backend(tc_lab).find_tasks(name_prefix="[ptsandbox:crash-1]")
    assert set(stored.tags) == {"Malware", "ext:ptsandbox:crash-1"}
    assert stored.labels == ["TLP:AMBER"]
    assert stored.attribute_values("Description") == ["verdict DANGEROUS"], "no duplicate attribute"
    assert stored.attribute_values("Source") == ["lab"]
    again = await lab_client.find_or_create_task("ptsandbox:crash-1", "Sample crash-1", tags=["Malware"])
    assert not again.created and again.task.id == half.task.id


async def test_upsert_tasks_batch(lab_client: ThreatConnectClient, tc_lab: LabServer) -> None:
    specs = [
        TaskSpec(marker=f"batch:{n % 5}", name=f"Batch {n % 5}", tags=["Batch"], security_labels=["TLP:AMBER"],
                 attributes=[AttributeSpec(type="External ID", value=f"batch:{n % 5}")])
        for n in range(10)
    ]
    specs.append(TaskSpec(marker="batch:bad", name="Bad", status="Finished"))
    results = await lab_client.upsert_tasks(specs, concurrency=4)
    assert sum(r.created for r in results) == 5
    assert all(r.ok for r in results[:10])
    assert results[10].error is not None and "unknown task status" in results[10].error
    for n in range(5):
        [stored] = backend(tc_lab).find_tasks(tag=f"ext:batch:{n}")
        assert stored.labels == ["TLP:AMBER"] and "Batch" in stored.tags
        assert stored.attribute_values("External ID") == [f"batch:{n}"]
    again = await lab_client.upsert_tasks(specs[:10], concurrency=4)
    assert not any(r.created for r in again)
    assert len(backend(tc_lab).find_tasks(tag="Batch")) == 5


async def test_owner_fan_out_and_owner_scoping(lab_client: ThreatConnectClient, tc_lab: LabServer) -> None:
    lab = backend(tc_lab)
    org_ids = {t.id for t in lab.tasks.values() if t.owner.name == "Lab Org"}
    community_ids = {t.id for t in lab.tasks.values() if t.owner.name == "Lab Community"}
    assert org_ids and community_ids
    assert {t.id for t in await lab_client.list_tasks()} == org_ids
    both = await lab_client.list_tasks(owner=["Lab Org", "Lab Community"])
    assert {t.id for t in both} == org_ids | community_ids
    created = await lab_client.create_task("In the community", owner="Lab Community", tags=["Shared"])
    assert created.ok and created.task.owner_label == "Lab Community"
    tid = created.task.id
    with pytest.raises(NotFoundError):
        await lab_client.get_task(tid)
    assert (await lab_client.get_task(tid, owner="Lab Community")).id == tid
    assert [t.name for t in await lab_client.list_tags(tid, owner="Lab Community")] == ["Shared"]
    assert [t.id for t in await lab_client.list_tasks(tag="Shared", owner=["Lab Org", "Lab Community"])] == [tid]


async def test_paging_and_caps_against_the_emulator(lab_client: ThreatConnectClient) -> None:
    for n in range(7):
        await lab_client.create_task(f"Paged {n}", tags=["Paged"])
    names = [t.name for t in await lab_client.list_tasks(tag="Paged", page_size=3)]
    assert names == [f"Paged {n}" for n in range(7)]
    first_page, count = await lab_client.list_tasks_page(result_limit=2)
    assert len(first_page) == 2 and count is not None and count >= 7
    second_page, no_count = await lab_client.list_tasks_page(result_start=2, result_limit=2)
    assert len(second_page) == 2 and no_count is None
    capped = [t.name async for t in lab_client.iter_tasks(TaskFilter(tag="Paged"), page_size=2, max_items=5)]
    assert capped == [f"Paged {n}" for n in range(5)]


async def test_filter_sets_and_post_filters_against_the_emulator(lab_client: ThreatConnectClient) -> None:
    ids = {}
    for name, tags in (("A only", ["A"]), ("A and B", ["A", "B"]), ("B only", ["B"]), ("C", ["C"])):
        ids[name] = (await lab_client.create_task(name, tags=tags)).task.id
    a, b = TaskFilter(tag="A"), TaskFilter(tag="B")
    assert [t.id for t in await lab_client.list_tasks(a, b)] == [ids["A and B"]]
    either = await lab_client.list_tasks(a, TaskFilter(tag="B", operator="OR"))
    assert [t.id for t in either] == [ids["A only"], ids["A and B"], ids["B only"]]
    c_or = await lab_client.list_tasks(a, b, TaskFilter(tag="C", operator="OR"))
    assert [t.id for t in c_or] == [ids["A and B"], ids["C"]]
    for op, expected in {"EQ": ["B only"], "NE": ["A only", "A and B"], "GT": [], "GE": ["B only"],
                         "LT": ["A only", "A and B"], "LE": ["A only", "A and B", "B only"]}.items():
        found = await lab_client.list_tasks(TaskFilter(tag="A", operator="OR").add_pf_name("B only", op),
                                            TaskFilter(tag="B", operator="OR").add_pf_name("B only", op))
        assert sorted(t.name for t in found) == sorted(expected), op
    today = datetime.now(UTC).date()
    for op, hit in {"EQ": True, "NE": False, "GT": False, "GE": True, "LT": False, "LE": True}.items():
        found = await lab_client.list_tasks(TaskFilter(tag="C").add_pf_date_added(today, op))
        assert bool(found) is hit, op
    not_completed = await lab_client.list_tasks(tag="A", status_not="Completed")
    assert len(not_completed) == 2
    assert await lab_client.list_tasks(tag="A", status="Completed") == []


async def test_token_auth_against_the_emulator(lab_credentials: dict[str, str]) -> None:
    from prefect_soar.simulators.threatconnect import LAB_CREDENTIALS

    async with ThreatConnectClient(base_url=lab_credentials["base_url"], api_token=LAB_CREDENTIALS["api_token"],
                                   retry=FAST) as tc:
        await tc.check_connection()
        assert [o.name for o in await tc.list_owners()] == ["Lab Org", "Lab Community"]
        assert (await tc.create_task("Via token", tags=["Nation State"])).ok
