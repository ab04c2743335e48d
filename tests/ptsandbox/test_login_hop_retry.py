"""The login dance's redirect hops: a 429 is retried, not taken for the page (found by the chaos run)."""

from __future__ import annotations

import httpx

from prefect_soar.clients.ptsandbox import PTSandboxClient

from .helpers import BASE, FAST, LOGIN, PASSWORD, mock_login

EMPTY_PAGE = {"tasks": [], "currentCursor": "", "nextCursor": ""}


async def test_rate_limited_hop_is_retried_so_the_refresh_cookie_is_set(respx_mock):
    routes = mock_login(respx_mock)
    assert routes.location is not None and routes.callback is not None
    redirect = routes.location.return_value
    assert redirect is not None
    routes.location.mock(side_effect=[httpx.Response(429, headers={"Retry-After": "0"}), redirect])
    tasks = respx_mock.get(f"{BASE}/api/ui/v2/tasks").mock(return_value=httpx.Response(200, json=EMPTY_PAGE))

    async with PTSandboxClient(BASE, login=LOGIN, password=PASSWORD, retry=FAST) as client:
        await client.get_tasks()

    assert routes.location.call_count == 2, "the 429 hop was sent again"
    assert routes.callback.called, "the redirect after the retried hop was followed"
    assert "refresh_token=rt1" in routes.token.calls.last.request.headers["Cookie"]
    assert tasks.calls.last.request.headers["Authorization"] == "Bearer tok-1"
