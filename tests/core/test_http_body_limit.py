"""HTTPCore reads buffered bodies up to ``max_body_bytes`` and explains undecodable JSON precisely."""

from __future__ import annotations

import gzip

import httpx
import pytest
import respx

from prefect_soar._http import MAX_BODY_BYTES, HTTPConfig, HTTPCore, RetryPolicy
from prefect_soar.errors import BadRequestError, InvalidResponseError

BASE = "https://svc.test"
FAST = RetryPolicy(max_attempts=2, backoff_base=0.001, backoff_max=0.002)


class Chunks(httpx.AsyncByteStream):
    """A chunked body (no Content-Length) that counts what was pulled."""

    def __init__(self, count: int, size: int) -> None:
        self.count, self.size, self.sent = count, size, 0

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        for _ in range(self.count):
            self.sent += 1
            yield b"x" * self.size


def core(limit: int | None = 1024) -> HTTPCore:
    return HTTPCore("svc", HTTPConfig(BASE, retry=FAST, max_body_bytes=limit))


def test_the_default_limit_is_64_mib():
    assert HTTPConfig(BASE).max_body_bytes == MAX_BODY_BYTES == 64 * 1024 * 1024


async def test_a_body_at_the_limit_is_read(respx_mock: respx.MockRouter):
    respx_mock.get(f"{BASE}/items").mock(return_value=httpx.Response(200, content=b"[" + b" " * 1022 + b"]"))
    http = core()
    assert await http.get_json("/items") == []
    await http.aclose()


async def test_a_declared_length_over_the_limit_is_refused_unread(respx_mock: respx.MockRouter):
    body = Chunks(1, 10)
    route = respx_mock.get(f"{BASE}/items").mock(
        return_value=httpx.Response(200, stream=body, headers={"Content-Length": "1025"})
    )
    http = core()
    with pytest.raises(InvalidResponseError, match=r"larger than max_body_bytes=1024 \(it declares 1025 bytes\)"):
        await http.request("GET", "/items")
    await http.aclose()
    assert body.sent == 0 and route.call_count == 1


async def test_a_chunked_body_stops_being_read_at_the_limit(respx_mock: respx.MockRouter):
    body = Chunks(1000, 100)
    respx_mock.get(f"{BASE}/items").mock(return_value=httpx.Response(200, stream=body))
    http = core()
    with pytest.raises(InvalidResponseError, match="it passed 1024 bytes and was not read further") as caught:
        await http.request("GET", "/items")
    await http.aclose()
    assert body.sent == 11
    assert caught.value.status == 200 and caught.value.url == f"{BASE}/items"


async def test_the_limit_counts_decompressed_bytes(respx_mock: respx.MockRouter):
    bomb = gzip.compress(b"[" + b" " * 5000 + b"]")
    respx_mock.get(f"{BASE}/items").mock(
        return_value=httpx.Response(200, content=bomb, headers={"Content-Encoding": "gzip"})
    )
    assert len(bomb) < 1024
    http = core()
    with pytest.raises(InvalidResponseError, match="larger than max_body_bytes=1024"):
        await http.request("GET", "/items")
    await http.aclose()


async def test_an_oversized_error_page_is_cut_not_refused(respx_mock: respx.MockRouter):
    # Read in full, the trailing junk would make the page unparsable; cut at the limit, it parses.
    page = b'{"message": "query too long"}' + b" " * 2000 + b"<junk>"
    respx_mock.get(f"{BASE}/items").mock(return_value=httpx.Response(400, content=page))
    http = core()
    with pytest.raises(BadRequestError) as caught:
        await http.request("GET", "/items")
    await http.aclose()
    assert caught.value.status == 400
    assert caught.value.api_message == "query too long"


async def test_no_limit_reads_everything(respx_mock: respx.MockRouter):
    respx_mock.get(f"{BASE}/items").mock(return_value=httpx.Response(200, stream=Chunks(100, 100)))
    http = core(None)
    response = await http.request("GET", "/items")
    await http.aclose()
    assert len(response.content) == 10_000


async def test_streams_are_not_limited(respx_mock: respx.MockRouter):
    respx_mock.get(f"{BASE}/archive.zip").mock(return_value=httpx.Response(200, stream=Chunks(100, 100)))
    http = core()
    async with http.stream("GET", "/archive.zip") as response:
        received = sum([len(chunk) async for chunk in response.aiter_bytes()])
    await http.aclose()
    assert received == 10_000


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        pytest.param(b"", "application/json", "with an empty body", id="empty"),
        pytest.param(b'{"tasks": [{"id": 1}, {"id"', "application/json",
                     "with a body that ends early after 27 bytes (truncated)", id="truncated"),
        pytest.param(b'{"name": "unterminated', "application/json", "ends early after 22 bytes (truncated)",
                     id="truncated-in-a-string"),
        pytest.param(b'{"a": 1,}', "application/json", "does not parse (Expecting property name", id="malformed"),
        pytest.param(b"<!DOCTYPE html><title>Login</title>", "text/html",
                     "got text/html with an HTML page (a login, proxy or error page: is the base URL right?)",
                     id="html"),
    ],
)
async def test_undecodable_json_says_why(respx_mock: respx.MockRouter, body: bytes, content_type: str, message: str):
    respx_mock.get(f"{BASE}/items").mock(
        return_value=httpx.Response(200, content=body, headers={"Content-Type": content_type})
    )
    http = core(None)
    with pytest.raises(InvalidResponseError) as caught:
        await http.get_json("/items")
    await http.aclose()
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"[svc] GET {BASE}/items -> HTTP 200: expected JSON, got {content_type}")
