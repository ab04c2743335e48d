"""Files on disk for the PT Sandbox client: streamed uploads and atomic, constant-memory downloads."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from prefect_soar._http import body_excerpt
from prefect_soar.clients._ptsandbox_auth import SERVICE
from prefect_soar.errors import InvalidResponseError

ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
UPLOAD_CHUNK = 1024 * 1024


class FileBody:
    """A re-iterable async body that streams a file from disk (each attempt re-reads it)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def __aiter__(self) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(self.path.open, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, UPLOAD_CHUNK):
                yield chunk
        finally:
            handle.close()


async def write_atomically(
    chunks: AsyncIterator[bytes], dest_dir: Path, name: str, *, expect_zip: bool = False
) -> dict[str, Any]:
    """Stream ``chunks`` into ``dest_dir/name`` in constant memory, atomically.

    The bytes go to a temporary file in ``dest_dir`` (so the final rename stays on one file
    system) while their SHA-256 is computed; the file is synced, made 0600 and renamed into
    place. On any failure, cancellation included, the temporary file and the folders this call
    created are removed, and an existing file of the same name is left untouched.

    Args:
        chunks: The body, e.g. a client's streamed download (closed when done).
        dest_dir: Folder to write into (created 0700 if missing).
        name: Final file name.
        expect_zip: Refuse a body that does not start like a ZIP archive or lacks the ZIP's
            end-of-central-directory record (a truncated or fake archive).

    Returns:
        ``{"path", "size", "sha256"}`` of the written file.
    """
    folder = Path(dest_dir).expanduser().absolute()
    created = [parent for parent in (folder, *folder.parents) if not parent.exists()]
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd, temp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
    except BaseException:
        _remove_empty(created)
        raise
    digest = hashlib.sha256()
    size = 0
    head = b""
    try:
        with os.fdopen(fd, "wb") as handle:
            async with contextlib.aclosing(chunks) as stream:  # type: ignore[type-var]
                async for chunk in stream:
                    if expect_zip and len(head) < 4:
                        head += chunk[: 4 - len(head)]
                        if len(head) >= 4 and not head.startswith(ZIP_MAGICS):
                            raise InvalidResponseError(
                                "expected a ZIP archive", body_excerpt=body_excerpt(chunk), service=SERVICE
                            )
                    handle.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            if expect_zip and len(head) < 4:
                raise InvalidResponseError(f"expected a ZIP archive, got {size} bytes", service=SERVICE)
            handle.flush()
            if expect_zip and not await asyncio.to_thread(zipfile.is_zipfile, temp_name):
                raise InvalidResponseError(
                    f"expected a ZIP archive, got {size} bytes that start like one but have no "
                    "end-of-central-directory record (truncated in transit, or not a real archive)", service=SERVICE,
                    hint="Download it again; if it keeps failing, check for a proxy that rewrites or cuts downloads",
                )
            await asyncio.to_thread(os.fsync, handle.fileno())
        os.chmod(temp_name, 0o600)
        final = folder / name
        os.replace(temp_name, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        _remove_empty(created)
        raise
    fsync_dir(folder)
    return {"path": final.resolve(), "size": size, "sha256": digest.hexdigest()}


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders a failed write created (deepest first), if they are still empty."""
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort; not every platform can sync a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
