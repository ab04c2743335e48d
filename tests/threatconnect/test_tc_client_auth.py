"""HMAC signing against the reference test vectors, token auth, and constructor validation."""

from __future__ import annotations

import httpx
import pytest
from tc_helpers import ACCESS_ID, BASE_URL, FAST, SECRET, VECTOR_TS, Recorder

from prefect_soar.clients.threatconnect import ThreatConnectClient
from prefect_soar.clients.threatconnect_auth import ThreatConnectHMACAuth, ThreatConnectTokenAuth, hmac_signature
from prefect_soar.errors import BadInputError

# string_to_sign -> signature, from ../shared/reference/threatconnect.md (secret "secret-key", ts 1513703787)
VECTORS = {
    "/api/v2/tasks:GET:1513703787": "iX7zTg05rm6SRLQCOcF8/HiBLlxhl4reuCHsOTbRazQ=",
    "/api/v2/tasks?owner=Example+Org&resultStart=0&resultLimit=100&createActivityLog=false:GET:1513703787":
        "DoDDWGNIkz6PPvpyN//UibGa8q6aoADvz6Bhy6cWmKw=",
    "/api/v2/tasks/12345/tags/Nation%20State:POST:1513703787": "T1yo73MMSjzYcIqg7E8rPyovU4W5dPb7Qm+2werUPJQ=",
    "/api/v3/groups?tql=typeName%20EQ%20%22Task%22&resultStart=0&resultLimit=100:GET:1513703787":
        "bXTp4M2KaylnwPjXJHa+/GhAj0Wfk4tzBh+xpvVX56c=",
}


@pytest.mark.parametrize(("string_to_sign", "expected"), list(VECTORS.items()))
def test_reference_vectors(string_to_sign: str, expected: str) -> None:
    path, method, timestamp = string_to_sign.rsplit(":", 2)
    assert hmac_signature(SECRET, path, method, timestamp) == expected


@pytest.mark.parametrize(("string_to_sign", "expected"), list(VECTORS.items()))
def test_auth_flow_signs_the_raw_path_as_sent(string_to_sign: str, expected: str) -> None:
    path, method, _ = string_to_sign.rsplit(":", 2)
    request = httpx.Request(method, f"https://app.threatconnect.com{path}")
    auth = ThreatConnectHMACAuth(ACCESS_ID, SECRET, clock=lambda: VECTOR_TS + 0.9)
    signed = next(auth.auth_flow(request))
    assert signed.headers["Timestamp"] == str(VECTOR_TS)
    assert signed.headers["Authorization"] == f"TC {ACCESS_ID}:{expected}"


async def test_list_request_matches_vector_2(tc_api: Recorder) -> None:
    """The client's own list request is byte-for-byte the reference's second vector."""
    tc_api.reply(json={"status": "Success", "data": {"resultCount": 0, "task": []}})
    async with ThreatConnectClient(base_url=BASE_URL, access_id=ACCESS_ID, secret_key=SECRET,
                                   clock=lambda: VECTOR_TS) as client:
        assert await client.list_tasks(owner="Example Org") == []
    request = tc_api.one()
    expected = b"/api/v2/tasks?owner=Example+Org&resultStart=0&resultLimit=100&createActivityLog=false"
    assert request.url.raw_path == expected
    assert request.headers["Timestamp"] == "1513703787"
    assert request.headers["Authorization"] == f"TC {ACCESS_ID}:DoDDWGNIkz6PPvpyN//UibGa8q6aoADvz6Bhy6cWmKw="


async def test_tag_with_space_matches_vector_3(tc_api: Recorder) -> None:
    tc_api.reply(201)
    async with ThreatConnectClient(base_url=BASE_URL, access_id=ACCESS_ID, secret_key=SECRET,
                                   clock=lambda: VECTOR_TS) as client:
        await client.add_tag(12345, "Nation State")
    request = tc_api.one()
    assert request.method == "POST"
    assert request.url.raw_path == b"/api/v2/tasks/12345/tags/Nation%20State"
    assert request.headers["Authorization"] == f"TC {ACCESS_ID}:T1yo73MMSjzYcIqg7E8rPyovU4W5dPb7Qm+2werUPJQ="
    assert request.content == b""


async def test_label_with_colon_is_encoded_and_signed_encoded(tc_api: Recorder) -> None:
    tc_api.reply(201)
    async with ThreatConnectClient(base_url=BASE_URL, access_id=ACCESS_ID, secret_key=SECRET,
                                   clock=lambda: VECTOR_TS) as client:
        await client.add_security_label(12345, "TLP:AMBER")
    request = tc_api.one()
    assert request.url.raw_path == b"/api/v2/tasks/12345/securityLabels/TLP%3AAMBER"
    expected = hmac_signature(SECRET, "/api/v2/tasks/12345/securityLabels/TLP%3AAMBER", "POST", VECTOR_TS)
    assert request.headers["Authorization"] == f"TC {ACCESS_ID}:{expected}"


async def test_every_retry_is_signed_again_with_a_new_timestamp(tc_api: Recorder) -> None:
    ticks = iter([1000.0, 2000.0])
    tc_api.reply(503, {"status": "Failure", "message": "busy"}).reply(json={"status": "Success", "data": {"owner": []}})
    async with ThreatConnectClient(base_url=BASE_URL, access_id=ACCESS_ID, secret_key=SECRET,
                                   clock=lambda: next(ticks), retry=FAST) as client:
        await client.check_connection()
    first, second = tc_api.requests
    assert (first.headers["Timestamp"], second.headers["Timestamp"]) == ("1000", "2000")
    assert first.headers["Authorization"] != second.headers["Authorization"]
    assert second.headers["Authorization"] == f"TC {ACCESS_ID}:{hmac_signature(SECRET, '/api/v2/owners', 'GET', 2000)}"


async def test_token_auth_header(tc_api: Recorder) -> None:
    tc_api.reply(json={"status": "Success", "data": {"owner": [{"id": 1, "name": "Org", "type": "Organization"}]}})
    token = "APIV2:430:c8mTcH:1234567890123:7mbiy0="
    async with ThreatConnectClient(base_url=BASE_URL, api_token=token) as client:
        owners = await client.list_owners()
    request = tc_api.one()
    assert request.headers["Authorization"] == f"TC-Token {token}"
    assert "Timestamp" not in request.headers
    assert request.url.raw_path == b"/api/v2/owners"
    assert [o.name for o in owners] == ["Org"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "no credentials"),
        ({"access_id": "a"}, "both access_id and secret_key"),
        ({"secret_key": "s3cr3t"}, "both access_id and secret_key"),
        ({"access_id": "a", "secret_key": "s3cr3t", "api_token": "tok3n"}, "not both"),
        ({"api_token": "tok3n", "base_url": "ftp://x"}, "http(s) URL"),
    ],
)
def test_constructor_validates_credentials(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(BadInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ThreatConnectClient(**kwargs)


async def test_secrets_stay_out_of_reprs_and_errors(tc_api: Recorder) -> None:
    secret, token = "hmac-secret-value-123", "token-secret-value-456"
    tc_api.reply(401, {"status": "Failure", "message": f"bad token {token}"})
    async with ThreatConnectClient(base_url=BASE_URL, access_id="id", secret_key=secret) as client:
        assert secret not in repr(client)
    auth = ThreatConnectTokenAuth(token)
    assert token not in repr(auth)
    async with ThreatConnectClient(base_url=BASE_URL, api_token=token) as client:
        with pytest.raises(Exception) as caught:
            await client.check_connection()
    assert token not in str(caught.value)
    assert "**********" in str(caught.value)
