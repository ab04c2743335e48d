"""Typed errors with clear messages: wrong secret, expired timestamp, bad token, 404, non-JSON pages, retries."""

from __future__ import annotations

import time

import pytest
from tc_helpers import ACCESS_ID, BASE_URL, FAST, SECRET, Recorder

from prefect_soar.clients.threatconnect import TaskCommitError, ThreatConnectClient, raise_for_failures
from prefect_soar.errors import (
    AuthenticationError,
    BadRequestError,
    InvalidResponseError,
    NotFoundError,
    ServerError,
)
from prefect_soar.models.threatconnect import CreateTaskResult, StepFailure, Task

# -- against the emulator (real signatures over loopback) ---------------------------------------


async def test_wrong_secret_is_an_authentication_error(lab_credentials: dict[str, str]) -> None:
    async with ThreatConnectClient(**{**lab_credentials, "secret_key": "not-the-secret"}, retry=FAST) as tc:
        with pytest.raises(AuthenticationError) as caught:
            await tc.check_connection()
    error = caught.value
    assert error.status == 401
    assert error.api_message == "Signature Data Did Not Match Expected Result"
    assert "Access ID and Secret Key" in str(error)
    assert "not-the-secret" not in str(error)


async def test_expired_timestamp_is_an_authentication_error(lab_credentials: dict[str, str]) -> None:
    async with ThreatConnectClient(**lab_credentials, clock=lambda: time.time() - 301, retry=FAST) as tc:
        with pytest.raises(AuthenticationError) as caught:
            await tc.list_tasks()
    assert caught.value.api_message == "Timestamp Out of Acceptable Time Range"
    assert "clock" in str(caught.value) and "5-minute" in str(caught.value)


async def test_clock_within_the_window_is_accepted(lab_credentials: dict[str, str]) -> None:
    async with ThreatConnectClient(**lab_credentials, clock=lambda: time.time() - 240) as tc:
        await tc.check_connection()


async def test_wrong_token_is_an_authentication_error(lab_credentials: dict[str, str]) -> None:
    async with ThreatConnectClient(base_url=lab_credentials["base_url"], api_token="APIV2:1:wrong") as tc:
        with pytest.raises(AuthenticationError) as caught:
            await tc.check_connection()
    assert caught.value.api_message == "Unauthorized"
    assert "token may have expired" in str(caught.value)
    assert "APIV2:1:wrong" not in str(caught.value)


async def test_missing_task_is_not_found(lab_client: ThreatConnectClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        await lab_client.get_task(999_999)
    assert caught.value.status == 404
    assert caught.value.api_message == "The requested resource was not found"
    assert "GET" in str(caught.value) and "/api/v2/tasks/999999" in str(caught.value)


async def test_unknown_security_label_is_not_found(lab_client: ThreatConnectClient) -> None:
    task = (await lab_client.create_task("label check")).task
    with pytest.raises(NotFoundError, match="Security Label"):
        await lab_client.add_security_label(task.id, "TLP:NOPE")


# -- with respx ---------------------------------------------------------------------------------------


async def test_404_error_envelope(tc_api: Recorder, tc_client: ThreatConnectClient) -> None:
    tc_api.reply(404, {"status": "Failure", "message": "The requested resource was not found"})
    with pytest.raises(NotFoundError) as caught:
        await tc_client.delete_task(5)
    assert str(caught.value).startswith("[threatconnect] DELETE https://tc.example/api/v2/tasks/5 -> HTTP 404")
    assert "The requested resource was not found" in str(caught.value)


async def test_html_error_page_is_a_server_error(tc_api: Recorder, tc_client: ThreatConnectClient) -> None:
    html = b"<!DOCTYPE html><html><body><h1>500 Internal Server Error</h1></body></html>"
    tc_api.reply(500, content=html, headers={"Content-Type": "text/html"})
    with pytest.raises(ServerError) as caught:
        await tc_client.get_task(5)
    assert "non-JSON (HTML) error page" in str(caught.value)


async def test_plain_text_error_is_quoted(tc_api: Recorder, tc_client: ThreatConnectClient) -> None:
    text = b"Could not find resource for relative : /v2/taskz"
    tc_api.reply(500, content=text, headers={"Content-Type": "text/plain"})
    with pytest.raises(ServerError, match="Could not find resource for relative"):
        await tc_client.get_task(5)


async def test_html_page_with_200_is_an_invalid_response(tc_api: Recorder, tc_client: ThreatConnectClient) -> None:
    tc_api.reply(200, content=b"<html>login</html>", headers={"Content-Type": "text/html"})
    with pytest.raises(InvalidResponseError) as caught:
        await tc_client.get_task(5)
    assert "expected JSON, got text/html" in str(caught.value)
    assert "<html>login</html>" in str(caught.value)


async def test_failure_status_in_a_2xx_answer(tc_api: Recorder, tc_client: ThreatConnectClient) -> None:
    tc_api.reply(200, {"status": "Failure", "message": "Owner not permitted"})
    with pytest.raises(BadRequestError, match="Owner not permitted"):
        await tc_client.add_tag(5, "x")


async def test_missing_entity_is_an_invalid_response(tc_api: Recorder, tc_client: ThreatConnectClient) -> None:
    tc_api.reply(200, {"status": "Success", "data": {"group": {}}})
    with pytest.raises(InvalidResponseError, match=r"no data\.task"):
        await tc_client.get_task(5)


async def test_creating_a_task_is_not_retried(tc_api: Recorder, tc_client: ThreatConnectClient) -> None:
    tc_api.reply(503, {"status": "Failure", "message": "busy"})
    with pytest.raises(ServerError):
        await tc_client.create_task("once")
    assert tc_api.lines() == ["POST /api/v2/tasks"]


async def test_adding_an_attribute_is_not_retried(tc_api: Recorder, tc_client: ThreatConnectClient) -> None:
    tc_api.reply(502, {"status": "Failure", "message": "bad gateway"})
    with pytest.raises(ServerError):
        await tc_client.add_attribute(5, "Description", "x")
    assert len(tc_api.requests) == 1


async def test_idempotent_calls_are_retried(tc_api: Recorder, tc_client: ThreatConnectClient) -> None:
    for _ in range(3):
        tc_api.reply(503, {"status": "Failure", "message": "busy"}).reply(201)
    await tc_client.add_tag(5, "x")
    await tc_client.delete_tag(5, "x")
    await tc_client.associate_victim(5, 3)
    assert tc_api.lines() == [
        "POST /api/v2/tasks/5/tags/x", "POST /api/v2/tasks/5/tags/x",
        "DELETE /api/v2/tasks/5/tags/x", "DELETE /api/v2/tasks/5/tags/x",
        "POST /api/v2/tasks/5/victims/3", "POST /api/v2/tasks/5/victims/3",
    ]


async def test_failed_sub_step_leaves_the_task_unmarked(tc_api: Recorder, tc_client: ThreatConnectClient) -> None:
    tc_api.reply(json={"status": "Success", "data": {"resultCount": 0, "task": []}})
    tc_api.reply(201, {"status": "Success", "data": {"task": {"id": 8, "name": "[m1] x"}}})
    tc_api.reply(400, {"status": "Failure", "message": "Tag rejected"})
    result = await tc_client.find_or_create_task("m1", "x", tags=["other"])
    sent = [line.split("?")[0] for line in tc_api.lines()[1:]]
    assert sent == ["POST /api/v2/tasks", "POST /api/v2/tasks/8/tags/other"]
    assert not result.ok and result.failures[0].step == "tag" and result.failures[0].target == "other"
    assert "ext:m1" not in result.tags, "the commit mark is only added once everything else is in place"
    with pytest.raises(TaskCommitError, match=r"Tag rejected|BadRequestError"):
        raise_for_failures(result)


def test_raise_for_failures() -> None:
    ok = CreateTaskResult(task=Task(id=1, name="x"))
    assert raise_for_failures(ok) is ok
    bad = CreateTaskResult(task=Task(id=1, name="x"), failures=[
        StepFailure(step="security_label", target="TLP:X", error="NotFoundError", message="nope", status=404)])
    with pytest.raises(TaskCommitError, match="task 1 was created but 1 sub-step"):
        raise_for_failures(bad)


def test_errors_pickle_with_their_result() -> None:
    import pickle

    error = TaskCommitError("boom", result=CreateTaskResult(task=Task(id=3, name="x")), service="threatconnect")
    clone = pickle.loads(pickle.dumps(error))
    assert str(clone) == str(error) and clone.result.task.id == 3


def test_secret_registered_for_redaction() -> None:
    from prefect_soar._redact import redact

    ThreatConnectClient(base_url=BASE_URL, access_id=ACCESS_ID, secret_key="registered-secret-xyz")
    assert "registered-secret-xyz" not in redact("value registered-secret-xyz here")
    assert SECRET  # the reference secret is public; nothing to hide
