"""Retries (503/429 with Retry-After) and the mapping of failures to typed errors."""

from __future__ import annotations

import httpx
import pytest

from prefect_soar.clients.ptsandbox import PTSandboxClient
from prefect_soar.errors import (
    BadRequestError,
    InvalidResponseError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
)

from .helpers import BASE, FAST, LOGIN, PASSWORD, SCAN_ID, mock_login

TASKS = f"{BASE}/api/ui/v2/tasks"
PAGE = {"tasks": [], "currentCursor": "", "nextCursor": ""}


@pytest.fixture
async def client(respx_mock):
    mock_login(respx_mock)
    async with PTSandboxClient(BASE, login=LOGIN, password=PASSWORD, retry=FAST) as sandbox:
        yield sandbox


async def test_get_is_retried_on_503_and_429_honouring_retry_after(client, respx_mock):
    route = respx_mock.get(TASKS).mock(
        side_effect=[
            httpx.Response(503, headers={"Retry-After": "0"}),
            httpx.Response(429, headers={"Retry-After": "0.01"}),
            httpx.Response(200, json=PAGE),
        ]
    )
    page = await client.get_tasks()
    assert page.tasks == [] and route.call_count == 3
    assert {c.request.headers["Authorization"] for c in route.calls} == {"Bearer tok-1"}


async def test_a_retry_after_beyond_the_cap_fails_at_once(client, respx_mock):
    route = respx_mock.get(TASKS).mock(return_value=httpx.Response(429, headers={"Retry-After": "3600"}))
    with pytest.raises(RateLimitedError) as info:
        await client.get_tasks()
    assert route.call_count == 1 and info.value.retry_after == 3600


async def test_retries_are_bounded(client, respx_mock):
    route = respx_mock.get(TASKS).mock(return_value=httpx.Response(503, json={"message": "maintenance"}))
    with pytest.raises(ServerError, match="maintenance"):
        await client.get_tasks()
    assert route.call_count == FAST.max_attempts


async def test_404_is_not_found_with_the_api_message(client, respx_mock):
    respx_mock.get(f"{TASKS}/{SCAN_ID}/summary").mock(
        return_value=httpx.Response(404, json={"errors": [{"type": "NOT_FOUND", "message": "task does not exist"}]})
    )
    with pytest.raises(NotFoundError, match="task does not exist") as info:
        await client.get_task_summary(SCAN_ID)
    assert info.value.method == "GET" and info.value.url == f"{TASKS}/{SCAN_ID}/summary"


async def test_400_carries_the_query_language_message(client, respx_mock):
    respx_mock.get(TASKS).mock(
        return_value=httpx.Response(400, json={"message": "unexpected token 'AND' at position 0"})
    )
    with pytest.raises(BadRequestError, match="unexpected token 'AND' at position 0") as info:
        await client.get_tasks("AND AND")
    assert info.value.status == 400


async def test_an_html_error_page_is_summarised(client, respx_mock):
    respx_mock.get(TASKS).mock(
        return_value=httpx.Response(502, text="<!DOCTYPE html><html><body>Bad gateway</body></html>")
    )
    with pytest.raises(ServerError, match="non-JSON \\(HTML\\) error page"):
        await client.get_tasks()


async def test_an_html_page_with_200_is_an_invalid_response(client, respx_mock):
    respx_mock.get(TASKS).mock(
        return_value=httpx.Response(200, text="<html>login portal</html>", headers={"content-type": "text/html"})
    )
    with pytest.raises(InvalidResponseError, match="expected JSON") as info:
        await client.get_tasks()
    assert "login portal" in info.value.body_excerpt


async def test_truncated_json_is_an_invalid_response(client, respx_mock):
    respx_mock.get(TASKS).mock(return_value=httpx.Response(200, content=b'{"tasks": [{"id": "7c9e'))
    with pytest.raises(InvalidResponseError, match="expected JSON"):
        await client.get_tasks()


async def test_a_body_of_the_wrong_shape_is_an_invalid_response(client, respx_mock):
    respx_mock.get(TASKS).mock(return_value=httpx.Response(200, json={"tasks": [{"name": "no id"}]}))
    with pytest.raises(InvalidResponseError, match=r"TasksPage: tasks\.0\.id"):
        await client.get_tasks()


async def test_public_api_without_envelope_is_an_invalid_response(respx_mock):
    respx_mock.post(f"{BASE}/api/v1/analysis/report").mock(return_value=httpx.Response(200, json={"scan_id": SCAN_ID}))
    async with PTSandboxClient(BASE, api_key="ak-0123456789abcdef", retry=FAST) as client:
        with pytest.raises(InvalidResponseError, match="envelope"):
            await client.get_report(SCAN_ID)


async def test_connection_errors_are_retried_then_typed(client, respx_mock):
    route = respx_mock.get(TASKS).mock(side_effect=httpx.ConnectError("connection refused"))
    with pytest.raises(TransportError, match="connection refused"):
        await client.get_tasks()
    assert route.call_count == FAST.max_attempts
