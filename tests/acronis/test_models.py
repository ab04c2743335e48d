"""Wire models: the docs' example task, exact big ids, tolerance of missing and odd fields."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from prefect_soar.models.acronis import Activity, ResultCode, Task, TaskPage, TaskState, Token

DOCS_TASK = """{"cancelRequested": false, "cancellable": true, "startedAt": "2020-04-22T11:34:03.290396913Z",
 "completedAt": "2020-04-22T11:34:03.290396913Z",
 "context": {"IsProcessRoot": true, "Persistent": {"AgentType": "agent", "ID": "f7358a00-8469-45ae-a0c3-22952e9ed12f",
   "Name": "DESKTOP-GFT9S1R", "OwnerID": "1496265"}, "Specific": "Business", "UserName": "DESKTOP-GFT9S1R\\\\AMS User",
   "isLegacy": true, "title": "Adding agent 'DESKTOP-GFT9S1R' to the management server"},
 "enqueuedAt": "2020-04-22T11:34:03.290396913Z", "id": 944455285181775872, "idString": "944455285181775872",
 "issuer": {"clusterId": "", "id": ""}, "priority": "normal", "queue": "legacySync",
 "result": {"code": "ok", "payload": "MachineManagement::AddAgentResponse"},
 "startedByUser": "DESKTOP-GFT9S1R\\\\AMS User", "state": "completed",
 "tenant": {"id": "1496265", "locator": "/1/1496262/1496265/", "name": "johndoe@mysite.com"},
 "type": "A59E8BF2-39C3-42C4-B667-CB672381A214", "updatedAt": "2020-04-22T11:34:03.294683447Z",
 "uuid": "38045860-8901-426e-b51f-fc6d24d1cbe0"}"""


def test_the_docs_example_task_parses_with_exact_id_and_nanosecond_times_truncated() -> None:
    task = Task.model_validate(json.loads(DOCS_TASK))
    assert task.id == 944455285181775872
    assert task.key == "944455285181775872"
    assert task.state == TaskState.COMPLETED and task.is_completed
    assert task.result_code == ResultCode.OK and task.succeeded and not task.failed
    assert task.completed_at == datetime(2020, 4, 22, 11, 34, 3, 290396, tzinfo=UTC)
    assert task.tenant is not None and task.tenant.id == "1496265"
    assert task.issuer is not None and task.issuer.cluster_id == ""
    assert task.context is not None and task.context["isLegacy"] is True


def test_big_ids_stay_exact_and_id_string_wins_over_a_float_rounded_id() -> None:
    exact = 2**53 + 1
    assert Task.model_validate(json.loads(f'{{"id": {exact}}}')).id == exact
    # an upstream tool went through a float: id lost its last bit, idString did not
    assert Task.model_validate({"id": float(exact), "idString": str(exact)}).id == exact
    assert Task.model_validate({"id": str(exact)}).id == exact
    activity = Activity.model_validate(
        {"id": 1, "idString": str(exact + 2), "taskId": 2.0**53, "taskIdString": str(exact),
         "parentActivityIdString": str(exact + 1)}
    )
    assert (activity.id, activity.task_id, activity.parent_activity_id) == (exact + 2, exact, exact + 1)


def test_tolerant_of_missing_empty_and_unknown_values() -> None:
    task = Task.model_validate(
        {"id": 7, "state": "hibernating", "startedAt": "", "completedAt": None, "updatedAt": "not a time",
         "result": {"code": "exploded"}, "newField": {"x": 1}}
    )
    assert task.state == "hibernating"  # soft enum: kept
    assert task.started_at is None and task.completed_at is None and task.updated_at is None
    assert task.result_code == "exploded"
    assert task.model_extra == {"newField": {"x": 1}}
    assert not task.failed  # not completed


def test_failure_helpers_pick_the_most_specific_error_text() -> None:
    failed = Task.model_validate(
        {"id": 1, "state": "completed", "result": {"code": "error", "error": {
            "domain": "Backup", "code": "NotEnoughSpace", "message": "Backup failed",
            "reason": "Not enough space on the backup location."}}}
    )
    assert failed.failed and not failed.succeeded
    assert failed.error_message == "Not enough space on the backup location."
    top = Task.model_validate({"id": 2, "state": "completed", "result": {"code": "timedout"},
                               "error": {"code": 504, "message": "Agent timed out"}})
    assert top.failed and top.error_message == "Agent timed out"
    warned = Task.model_validate({"id": 3, "state": "completed", "result": {"code": "warning"}})
    assert warned.succeeded and warned.error_message is None


def test_page_reads_cursors_from_paging_or_top_level_and_tolerates_null_items() -> None:
    nested = TaskPage.model_validate({"items": [{"id": 1}], "paging": {"cursors": {"after": "A==", "before": "B=="}},
                                      "size": 1, "timeStamp": "2020-04-22T11:40:00Z"})
    assert (nested.after, nested.before, nested.size, nested.time_stamp) == ("A==", "B==", 1, "2020-04-22T11:40:00Z")
    top = TaskPage.model_validate({"items": None, "cursors": {"after": "C=="}})
    assert top.items == [] and top.after == "C=="
    last = TaskPage.model_validate({"items": [], "paging": {"cursors": {"after": ""}}})
    assert last.after is None and last.before is None
    assert TaskPage.model_validate({}).items == []


def test_token_repr_never_shows_the_token() -> None:
    token = Token.model_validate({"access_token": "eyJsecret-token-value", "expires_on": 1562910964,
                                  "token_type": "bearer", "id_token": "eyJid"})
    assert "eyJ" not in repr(token) and "eyJ" not in str(token)
    assert token.expires_on == 1562910964
