"""The ThreatConnect Prefect tasks, run inside flows against the emulator."""

from __future__ import annotations

from typing import Any

import pytest
from prefect import flow
from prefect.states import Failed

from prefect_soar.blocks.threatconnect import ThreatConnectCredentials
from prefect_soar.clients.threatconnect import TaskCommitError, TaskFilter
from prefect_soar.errors import AuthenticationError, BadInputError, NotFoundError, ServerError, TransportError
from prefect_soar.models.threatconnect import AttributeSpec, GroupRef, IndicatorRef, TaskSpec
from prefect_soar.simulators._lab import LabServer
from prefect_soar.tasks import threatconnect as tc


def _ids(lab: LabServer) -> tuple[int, int]:
    backend = lab.app.state.backend
    incident = next(g.id for g in backend.groups.values() if g.branch == "incidents")
    victim = next(v.id for v in backend.victims.values() if v.assets)
    return incident, victim


@pytest.mark.usefixtures("prefect_harness")
async def test_every_task_in_a_flow(lab_credentials: dict[str, str], tc_lab: LabServer) -> None:
    incident, victim = _ids(tc_lab)

    @flow
    async def playbook(creds: ThreatConnectCredentials) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": await tc.check_connection(creds)}
        created = await tc.create_task(
            creds, "Flow task", status="In Progress", due_date="2030-01-01T00:00:00Z", description="from a flow",
            assignees=["analyst@lab.example"], attributes=[AttributeSpec(type="Description", value="d1")],
            tags=["Flow"], security_labels=["TLP:AMBER"], groups=[GroupRef(type="incidents", id=incident)],
            indicators=[IndicatorRef(type="hosts", value="bad.example.net")], victims=[victim],
        )
        tid = created.task.id
        out["created"] = created
        out["get"] = await tc.get_task(creds, tid, includes=["tags"])
        out["listed"] = await tc.list_tasks(creds, filters=[TaskFilter(tag="Flow"), TaskFilter(status="In Progress")])
        out["updated"] = await tc.update_task(creds, tid, status="Completed", name="Flow task (done)")
        out["groups"] = await tc.list_associated_groups(creds, tid)
        out["indicators"] = await tc.list_associated_indicators(creds, tid, "hosts")
        out["victims"] = await tc.list_associated_victims(creds, tid)
        await tc.disassociate_group(creds, tid, "incidents", incident)
        await tc.associate_group(creds, tid, "incidents", incident)
        await tc.disassociate_indicator(creds, tid, "hosts", "bad.example.net")
        await tc.associate_indicator(creds, tid, "addresses", "198.51.100.7")
        await tc.disassociate_victim(creds, tid, victim)
        await tc.associate_victim(creds, tid, victim)
        attribute = await tc.add_attribute(creds, tid, "Source", "lab", displayed=True, source="flow")
        out["attribute"] = await tc.update_attribute(creds, tid, attribute.id, "lab2")
        out["attributes"] = await tc.list_attributes(creds, tid)
        await tc.delete_attribute(creds, tid, attribute.id)
        await tc.add_security_label(creds, tid, "TLP:RED")
        out["labels"] = await tc.list_security_labels(creds, tid)
        await tc.delete_security_label(creds, tid, "TLP:AMBER")
        await tc.add_tag(creds, tid, "Nation State")
        out["tags"] = await tc.list_tags(creds, tid)
        await tc.delete_tag(creds, tid, "Flow")
        await tc.add_assignee(creds, tid, "responder@lab.example")
        out["assignees"] = await tc.list_assignees(creds, tid)
        await tc.delete_assignee(creds, tid, "analyst@lab.example")
        await tc.add_escalatee(creds, tid, "manager@lab.example")
        out["escalatees"] = await tc.list_escalatees(creds, tid)
        await tc.delete_escalatee(creds, tid, "manager@lab.example")
        out["first"] = await tc.find_or_create_task(creds, "flow:1", "Marked", tags=["Flow"])
        out["second"] = await tc.find_or_create_task(creds, "flow:1", "Marked")
        out["found"] = await tc.find_task_by_marker(creds, "flow:1")
        out["missing"] = await tc.find_task_by_marker(creds, "flow:none")
        out["upserted"] = await tc.upsert_tasks(
            creds, [TaskSpec(marker=f"flow:batch:{n % 3}", name=f"Batch {n % 3}", tags=["Batch"]) for n in range(6)],
            concurrency=3,
        )
        out["deleted"] = await tc.delete_task(creds, tid)
        out["final"] = tc_lab.app.state.backend.tasks.get(tid)
        return out

    out = await playbook(ThreatConnectCredentials(**lab_credentials))  # type: ignore[arg-type]
    created = out["created"]
    assert out["ok"] == "ok" and created.ok and created.task.name == "Flow task"
    assert out["get"].id == created.task.id and [t.name for t in out["get"].tag] == ["Flow"]
    assert [t.id for t in out["listed"]] == [created.task.id]
    assert (out["updated"].status, out["updated"].name) == ("Completed", "Flow task (done)")
    assert [g.id for g in out["groups"]] == [incident]
    assert [i.summary for i in out["indicators"]] == ["bad.example.net"]
    assert [v.id for v in out["victims"]] == [victim]
    assert out["attribute"].value == "lab2"
    assert sorted(a.value for a in out["attributes"]) == ["d1", "lab2"]
    assert sorted(s.name for s in out["labels"]) == ["TLP:AMBER", "TLP:RED"]
    assert sorted(t.name for t in out["tags"]) == ["Flow", "Nation State"]
    assert sorted(u.user_name for u in out["assignees"]) == ["analyst@lab.example", "responder@lab.example"]
    assert [u.user_name for u in out["escalatees"]] == ["manager@lab.example"]
    assert out["first"].created and not out["second"].created
    assert out["first"].task.id == out["second"].task.id == out["found"].id
    assert out["missing"] is None
    assert sum(r.created for r in out["upserted"]) == 3 and len({r.task_id for r in out["upserted"]}) == 3
    assert out["deleted"] == created.task.id and out["final"] is None


@pytest.mark.usefixtures("prefect_harness")
async def test_partial_commit_can_fail_the_run(lab_credentials: dict[str, str], tc_lab: LabServer) -> None:
    @flow
    async def strict(creds: ThreatConnectCredentials) -> Any:
        return await tc.create_task(creds, "Strict", security_labels=["TLP:NOPE"], fail_on_partial=True)

    state = await strict(ThreatConnectCredentials(**lab_credentials), return_state=True)  # type: ignore[arg-type]
    assert state.is_failed()
    with pytest.raises(TaskCommitError, match="TLP:NOPE"):
        await state.result()
    # the task exists: build-then-commit created it before the label failed
    assert tc_lab.app.state.backend.find_tasks(name="Strict")


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (TransportError("reset", service="threatconnect"), True),
        (ServerError("bad gateway", service="threatconnect", status=502), True),
        (AuthenticationError("no", service="threatconnect", status=401), False),
        (NotFoundError("gone", service="threatconnect", status=404), False),
        (BadInputError("bad", service="threatconnect"), False),
        (ValueError("bug"), False),
    ],
)
def test_retry_condition_only_retries_transient_failures(error: Exception, retry: bool) -> None:
    assert tc.transient_failure(None, None, Failed(data=error)) is retry  # type: ignore[arg-type]


def test_every_client_operation_has_a_task() -> None:
    from prefect_soar.clients.threatconnect import ThreatConnectClient

    operations = {
        name for name in dir(ThreatConnectClient)
        if not name.startswith("_") and callable(getattr(ThreatConnectClient, name))
        and name not in {"aclose", "iter_tasks", "list_tasks_page", "list_owners"}
    }
    missing = {name for name in operations if not hasattr(tc, name)}
    assert missing == set()
    for name in operations:
        task = getattr(tc, name)
        assert task.name == f"threatconnect-{name.replace('_', '-')}"
        assert "Args:" in (task.fn.__doc__ or "") and "credentials:" in task.fn.__doc__
