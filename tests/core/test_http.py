"""The shared HTTP core: retries, Retry-After, error mapping, token refresh, TLS options."""

from __future__ import annotations

import email.utils
import pickle
import time

import httpx
import pytest

from prefect_soar._http import HTTPConfig, HTTPCore, RetryPolicy, TokenAuth, parse_retry_after, poll_until
from prefect_soar.errors import (
    AuthenticationError,
    BadInputError,
    BadRequestError,
    InvalidResponseError,
    NotFoundError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    TransportError,
    WaitTimeoutError,
)

BASE = "https://svc.test/api"
FAST = RetryPolicy(max_attempts=4, backoff_base=0.001, backoff_max=0.002)


@pytest.fixture
async def core():
    http = HTTPCore("svc", HTTPConfig(BASE, retry=FAST))
    yield http
    await http.aclose()


async def test_get_retries_429_503_and_connect_errors_then_succeeds(core, respx_mock):
    route = respx_mock.get(f"{BASE}/items", params__eq={"q": "x"}).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "0"}),
            httpx.Response(503),
            httpx.ConnectError("refused"),
            httpx.Response(200, json={"ok": True}),
        ]
    )
    assert await core.get_json("/items", params={"q": "x"}) == {"ok": True}
    assert route.call_count == 4
    sent = route.calls.last.request
    assert sent.method == "GET"
    assert sent.headers["User-Agent"].startswith("prefect-soar/")


async def test_retries_are_bounded_and_end_in_typed_error(core, respx_mock):
    route = respx_mock.get(f"{BASE}/down").mock(return_value=httpx.Response(502, json={"message": "bad gateway"}))
    with pytest.raises(ServerError) as info:
        await core.request("GET", "/down")
    assert route.call_count == FAST.max_attempts
    assert info.value.status == 502
    assert "bad gateway" in str(info.value)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_post_is_not_retried_when_it_may_have_been_processed(core, respx_mock, status):
    route = respx_mock.post(f"{BASE}/create").mock(return_value=httpx.Response(status))
    with pytest.raises(ServerError):
        await core.request("POST", "/create", json={"a": 1})
    assert route.call_count == 1


@pytest.mark.parametrize("status", [429])
async def test_post_is_retried_when_refused_unprocessed(core, respx_mock, status):
    route = respx_mock.post(f"{BASE}/create").mock(
        side_effect=[httpx.Response(status, headers={"Retry-After": "0"}), httpx.Response(201, json={"id": 1})]
    )
    assert (await core.request("POST", "/create", json={"a": 1})).status_code == 201
    assert route.call_count == 2


async def test_post_is_retried_when_it_never_left(core, respx_mock):
    route = respx_mock.post(f"{BASE}/create").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(201, json={"id": 1})]
    )
    response = await core.request("POST", "/create", json={"a": 1})
    assert response.status_code == 201
    assert route.call_count == 2


async def test_post_not_retried_after_read_error(core, respx_mock):
    route = respx_mock.post(f"{BASE}/create").mock(side_effect=httpx.ReadError("reset"))
    with pytest.raises(TransportError):
        await core.request("POST", "/create", json={})
    assert route.call_count == 1


async def test_post_marked_idempotent_is_retried(core, respx_mock):
    route = respx_mock.post(f"{BASE}/report").mock(side_effect=[httpx.Response(504), httpx.Response(200, json={})])
    await core.request("POST", "/report", json={}, idempotent=True)
    assert route.call_count == 2


async def test_retry_after_is_honoured(core, respx_mock, monkeypatch):
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr("prefect_soar._http.asyncio.sleep", fake_sleep)
    respx_mock.get(f"{BASE}/slow").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json={})]
    )
    await core.request("GET", "/slow")
    assert len(slept) == 1 and 7 <= slept[0] <= 7.1


async def test_retry_after_too_long_raises_rate_limited_at_once(core, respx_mock):
    route = respx_mock.get(f"{BASE}/slow").mock(return_value=httpx.Response(429, headers={"Retry-After": "3600"}))
    with pytest.raises(RateLimitedError) as info:
        await core.request("GET", "/slow")
    assert route.call_count == 1
    assert info.value.retry_after == 3600


def test_parse_retry_after_seconds_and_http_date():
    assert parse_retry_after("5") == 5
    assert parse_retry_after("-3") == 0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert 28 <= parse_retry_after(date, now=now) <= 31  # type: ignore[operator]


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, NotFoundError),
        (409, BadRequestError),
        (422, BadRequestError),
        (500, ServerError),
    ],
)
async def test_status_codes_map_to_typed_errors(core, respx_mock, status, error):
    respx_mock.delete(f"{BASE}/x/1").mock(return_value=httpx.Response(status, json={"message": "the api says no"}))
    with pytest.raises(error) as info:
        await core.request("DELETE", "/x/1")
    assert info.value.status == status
    assert info.value.method == "DELETE"
    assert info.value.api_message == "the api says no"
    assert "/x/1" in str(info.value)


async def test_html_error_page_is_described_not_dumped(core, respx_mock):
    respx_mock.get(f"{BASE}/x").mock(return_value=httpx.Response(502, text="<!DOCTYPE html><html>proxy</html>"))
    with pytest.raises(ServerError, match="HTML"):
        await core.request("GET", "/x")


async def test_invalid_json_gives_excerpt(core, respx_mock):
    respx_mock.get(f"{BASE}/x").mock(return_value=httpx.Response(200, text='{"tasks": [1, 2'))
    with pytest.raises(InvalidResponseError) as info:
        await core.get_json("/x")
    assert '{"tasks": [1, 2' in info.value.body_excerpt
    assert info.value.status == 200


async def test_timeout_maps_to_request_timeout(core, respx_mock):
    respx_mock.get(f"{BASE}/x").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(RequestTimeoutError):
        await core.request("GET", "/x")


async def test_secrets_in_urls_are_redacted_in_errors(core, respx_mock):
    respx_mock.get(f"{BASE}/x").mock(return_value=httpx.Response(404))
    with pytest.raises(NotFoundError) as info:
        await core.request("GET", "/x", params={"api_key": "hunter2-secret", "page": "1"})
    assert "hunter2-secret" not in str(info.value)
    assert "page=1" in str(info.value)


async def test_errors_survive_pickling(core, respx_mock):
    respx_mock.get(f"{BASE}/x").mock(return_value=httpx.Response(429, headers={"Retry-After": "9999"}))
    with pytest.raises(RateLimitedError) as info:
        await core.request("GET", "/x")
    clone = pickle.loads(pickle.dumps(info.value))
    assert type(clone) is RateLimitedError
    assert str(clone) == str(info.value)
    assert clone.retry_after == 9999


class CountingAuth(TokenAuth):
    def __init__(self, lifetime: float = 3600) -> None:
        super().__init__()
        self.fetched = 0
        self.lifetime = lifetime

    async def fetch_token(self) -> tuple[str, float]:
        self.fetched += 1
        return f"token-number-{self.fetched}", self.lifetime


async def test_token_auth_refreshes_once_on_401(respx_mock):
    auth = CountingAuth()
    http = HTTPCore("svc", HTTPConfig(BASE, retry=FAST), auth=auth)
    route = respx_mock.get(f"{BASE}/me").mock(side_effect=[httpx.Response(401), httpx.Response(200, json={})])
    await http.request("GET", "/me")
    assert auth.fetched == 2
    assert route.calls[0].request.headers["Authorization"] == "Bearer token-number-1"
    assert route.calls[1].request.headers["Authorization"] == "Bearer token-number-2"
    await http.aclose()


async def test_token_auth_gives_up_after_second_401(respx_mock):
    auth = CountingAuth()
    http = HTTPCore("svc", HTTPConfig(BASE, retry=FAST), auth=auth)
    respx_mock.get(f"{BASE}/me").mock(return_value=httpx.Response(401, json={"message": "bad creds"}))
    with pytest.raises(AuthenticationError, match="bad creds"):
        await http.request("GET", "/me")
    assert auth.fetched == 2
    await http.aclose()


async def test_token_auth_refreshes_before_expiry(respx_mock, monkeypatch):
    auth = CountingAuth(lifetime=40)  # the margin is 30 s, but at most a quarter of the lifetime: 10 s
    http = HTTPCore("svc", HTTPConfig(BASE, retry=FAST), auth=auth)
    respx_mock.get(f"{BASE}/me").mock(return_value=httpx.Response(200, json={}))
    start, offset = time.monotonic(), [0.0]
    monkeypatch.setattr("prefect_soar._http.time.monotonic", lambda: start + offset[0])
    for offset[0] in (0, 1, 29):  # issued at 0, reused at 1 and 29: a short-lived token is not refreshed every time
        await http.request("GET", "/me")
    assert auth.fetched == 1
    offset[0] = 31  # within 10 s of the expiry: refreshed
    await http.request("GET", "/me")
    assert auth.fetched == 2
    await http.aclose()


async def test_token_reused_while_fresh(respx_mock):
    auth = CountingAuth(lifetime=3600)
    http = HTTPCore("svc", HTTPConfig(BASE, retry=FAST), auth=auth)
    respx_mock.get(f"{BASE}/me").mock(return_value=httpx.Response(200, json={}))
    for _ in range(3):
        await http.request("GET", "/me")
    assert auth.fetched == 1
    await http.aclose()


def test_missing_ca_bundle_is_bad_input(tmp_path):
    with pytest.raises(BadInputError, match="CA bundle"):
        HTTPCore("svc", HTTPConfig(BASE, verify=str(tmp_path / "nope.pem")))


def test_timeout_must_be_positive():
    with pytest.raises(BadInputError, match="timeout"):
        HTTPCore("svc", HTTPConfig(BASE, timeout=0))


async def test_stream_yields_body_in_chunks(core, respx_mock):
    payload = b"x" * 100_000
    respx_mock.get(f"{BASE}/blob").mock(side_effect=[httpx.Response(503), httpx.Response(200, content=payload)])
    received = bytearray()
    async with core.stream("GET", "/blob") as response:
        async for chunk in response.aiter_bytes():
            received += chunk
    assert bytes(received) == payload


async def test_stream_errors_are_typed(core, respx_mock):
    respx_mock.get(f"{BASE}/blob").mock(return_value=httpx.Response(404, json={"message": "gone"}))
    with pytest.raises(NotFoundError, match="gone"):
        async with core.stream("GET", "/blob"):
            pass


async def test_poll_until_returns_value_and_times_out():
    calls = {"n": 0}

    async def ready_on_third() -> tuple[bool, int]:
        calls["n"] += 1
        return calls["n"] >= 3, calls["n"]

    assert await poll_until(ready_on_third, timeout=5, poll=0.001, what="job", service="svc") == 3

    async def never() -> tuple[bool, None]:
        return False, None

    with pytest.raises(WaitTimeoutError, match="job 42 was not ready"):
        await poll_until(never, timeout=0.05, poll=0.01, what="job 42", service="svc")


async def test_ok_statuses_are_returned_not_raised(core, respx_mock):
    respx_mock.get(f"{BASE}/result").mock(return_value=httpx.Response(404, json={"message": "expired"}))
    response = await core.request("GET", "/result", ok={404})
    assert response.status_code == 404


def test_retry_policy_backoff_is_bounded_and_jittered():
    policy = RetryPolicy(backoff_base=1, backoff_max=4)
    values = [policy.backoff(n) for n in range(1, 8)]
    assert all(0 < v <= 4 for v in values)
    assert 0.5 <= policy.backoff(1) <= 1

