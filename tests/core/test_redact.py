"""Secrets never reach URLs, messages, errors or log lines."""

from __future__ import annotations

import logging

from prefect_soar._redact import MASK, SecretRedactingFilter, redact, redact_url, register_secret
from prefect_soar.errors import AuthenticationError, InvalidResponseError


def test_registered_secret_is_masked_everywhere():
    register_secret("s3nt1nel-value-0001")
    assert redact("key=s3nt1nel-value-0001 and more") == f"key={MASK} and more"


def test_short_values_are_not_registered():
    register_secret("abc")
    assert redact("abc abc") == "abc abc"


def test_url_userinfo_and_sensitive_params_are_masked():
    url = "https://user:pw@host.test/path?token=abc123&page=2&api_key=k&apikey=z&resultLimit=5"
    shown = redact_url(url)
    assert "pw" not in shown and "abc123" not in shown and "=k" not in shown and "=z&" not in shown
    assert "page=2" in shown and "resultLimit=5" in shown
    assert shown.startswith(f"https://{MASK}@host.test/path?")


def test_header_like_text_is_masked():
    text = "Authorization: Bearer eyJhbGciOi.something and X-Api-Key=abcdef"
    cleaned = redact(text)
    assert "eyJhbGciOi" not in cleaned and "abcdef" not in cleaned


def test_errors_redact_their_messages():
    register_secret("s3nt1nel-value-0002")
    error = AuthenticationError(
        "login failed for s3nt1nel-value-0002", service="svc", api_message="s3nt1nel-value-0002"
    )
    assert "s3nt1nel-value-0002" not in str(error)
    assert "s3nt1nel-value-0002" not in repr(error)
    invalid = InvalidResponseError("bad", body_excerpt='{"token": "s3nt1nel-value-0002"}')
    assert "s3nt1nel-value-0002" not in str(invalid)


def test_log_filter_masks_args(caplog):
    register_secret("s3nt1nel-value-0003")
    logger = logging.getLogger("prefect_soar.test_redact")
    logger.addFilter(SecretRedactingFilter())
    with caplog.at_level(logging.INFO, logger="prefect_soar.test_redact"):
        logger.info("calling with %s", "s3nt1nel-value-0003")
    assert caplog.records
    assert "s3nt1nel-value-0003" not in caplog.text
    assert MASK in caplog.text
