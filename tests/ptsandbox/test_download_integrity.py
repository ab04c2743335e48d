"""write_atomically refuses a ZIP without its end-of-central-directory and removes the folders it created."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from prefect_soar.clients._ptsandbox_files import write_atomically
from prefect_soar.errors import InvalidResponseError

from .helpers import zip_bytes


async def body(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


async def test_a_zip_cut_short_is_refused_and_nothing_is_left(tmp_path: Path):
    archive = zip_bytes(b"A" * 50_000)
    with pytest.raises(InvalidResponseError, match="no end-of-central-directory record") as caught:
        await write_atomically(body(archive[: len(archive) - 30]), tmp_path, "task.zip", expect_zip=True)
    assert "Download it again" in str(caught.value)
    assert tree(tmp_path) == []


async def test_a_fake_zip_header_followed_by_junk_is_refused(tmp_path: Path):
    with pytest.raises(InvalidResponseError, match=r"got 1028 bytes that start like one"):
        await write_atomically(body(b"PK\x03\x04", b"\x00" * 1024), tmp_path, "task.zip", expect_zip=True)
    assert tree(tmp_path) == []


async def test_a_complete_zip_is_kept(tmp_path: Path):
    archive = zip_bytes(b"B" * 1000)
    written = await write_atomically(body(archive[:10], archive[10:]), tmp_path, "task.zip", expect_zip=True)
    assert written["path"].read_bytes() == archive and tree(tmp_path) == ["task.zip"]


async def test_a_failed_write_removes_the_folders_it_created(tmp_path: Path):
    with pytest.raises(InvalidResponseError):
        await write_atomically(body(b"<html>session expired</html>"), tmp_path / "cases" / "42" / "artifacts",
                               "task.zip", expect_zip=True)
    assert tree(tmp_path) == []


async def test_a_failed_write_keeps_folders_that_were_there(tmp_path: Path):
    existing = tmp_path / "cases"
    existing.mkdir()
    (existing / "notes.txt").write_text("keep me")
    with pytest.raises(InvalidResponseError):
        await write_atomically(body(b"not a zip at all"), existing / "42", "task.zip", expect_zip=True)
    assert tree(tmp_path) == ["cases", "cases/notes.txt"]
