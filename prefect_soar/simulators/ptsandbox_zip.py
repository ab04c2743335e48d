"""AES-encrypted ZIP archives of the PT Sandbox lab, written to a disk cache and streamed from there.

PT Sandbox serves artifacts as ZIPs encrypted with the password ``infected``. The lab writes
them with pyzipper (WinZip AES-256) member by member, in chunks, to a temporary file, so even
a 1 GiB archive (``archive_padding_bytes``) never sits in memory; the file is then served with
a ``FileResponse`` and kept for the next request with the same parameters.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import shutil
import tempfile
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyzipper

ARCHIVE_PASSWORD = b"infected"
_CHUNK = 1 << 20
_DATE_TIME = (2025, 3, 14, 10, 0, 0)


@dataclass(frozen=True)
class Member:
    """One archive member: its name, size and a source of its bytes in chunks."""

    name: str
    size: int
    chunks: Callable[[], Iterable[bytes]]
    compress: bool = True


def padding_member(size: int, seed: str, name: str = "padding.bin") -> Member:
    """A member of ``size`` deterministic, incompressible bytes (stored, not deflated)."""

    def chunks() -> Iterator[bytes]:
        rng = random.Random(seed)
        left = size
        while left > 0:
            step = min(_CHUNK, left)
            yield rng.randbytes(step)
            left -= step

    return Member(name, size, chunks, compress=False)


def write_encrypted_zip(path: Path, members: Iterable[Member], password: bytes = ARCHIVE_PASSWORD) -> None:
    """Write an AES-encrypted ZIP to ``path`` atomically (a partial file never appears there)."""
    partial = path.with_name(path.name + ".part")
    try:
        with pyzipper.AESZipFile(partial, "w", compression=pyzipper.ZIP_DEFLATED,
                                 encryption=pyzipper.WZ_AES) as archive:
            archive.setpassword(password)
            seen: dict[str, int] = {}
            for member in members:
                name = member.name
                if name in seen:  # duplicate names: keep both, like an OS download folder would
                    seen[name] += 1
                    stem, dot, ext = name.rpartition(".")
                    name = f"{stem} ({seen[name]}).{ext}" if dot and stem else f"{name} ({seen[name]})"
                else:
                    seen[name] = 0
                info = pyzipper.zipfile_aes.AESZipInfo(name, date_time=_DATE_TIME)
                info.compress_type = pyzipper.ZIP_DEFLATED if member.compress else pyzipper.ZIP_STORED
                info.file_size = member.size
                info.external_attr = 0o600 << 16
                with archive.open(info, "w", force_zip64=member.size > 2**31) as out:
                    for chunk in member.chunks():
                        out.write(chunk)
        os.replace(partial, path)
    finally:
        if partial.exists():
            partial.unlink()


class ArchiveCache:
    """Generated archives on disk, keyed by what they contain; oldest evicted beyond ``max_entries``.

    Thread-safe: two requests for the same key build it once.
    """

    def __init__(self, max_entries: int = 64) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="ptsandbox-lab-archives-"))
        self.max_entries = max_entries
        self._entries: OrderedDict[str, Path] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.folder), True)

    def get(self, key: str, members: Callable[[], Iterable[Member]]) -> Path:
        """The archive for ``key``, built from ``members()`` if not cached yet (blocking; run in a thread)."""
        with self._lock:
            path = self._entries.get(key)
            if path is not None and path.exists():
                self._entries.move_to_end(key)
                return path
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                path = self._entries.get(key)
                if path is not None and path.exists():
                    return path
            path = self.folder / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".zip")
            write_encrypted_zip(path, members())
            with self._lock:
                self._entries[key] = path
                self._key_locks.pop(key, None)
                while len(self._entries) > self.max_entries:
                    _, old = self._entries.popitem(last=False)
                    with contextlib.suppress(OSError):  # still being served on a platform that locks open files
                        old.unlink(missing_ok=True)
            return path

    def clear(self) -> None:
        """Delete every cached archive."""
        with self._lock:
            for path in self._entries.values():
                path.unlink(missing_ok=True)
            self._entries.clear()

    def close(self) -> None:
        """Delete the cache folder."""
        self._finalizer()
