"""Safe handling of downloaded artifact archives (PT Sandbox ZIPs encrypted with ``infected``).

Artifact archives hold live malware and come from a service that an attacker may partly
control (file names inside the archive are the attacker's). This module:

* opens an archive with pyzipper (WinZip AES and legacy ZipCrypto, password ``infected`` by
  default, unencrypted members too);
* lists members with name, sizes and SHA-256 by streaming each one through the hash, never
  writing a byte to disk (:func:`list_members`);
* extracts only when asked (:func:`extract`), into a folder of your choice, and refuses
  absolute paths, ``..``, drive letters and backslashes, symlinks, device/FIFO/socket entries
  and duplicate names; it stops at limits on total uncompressed bytes, member count, per-member
  size and compression ratio, counting the bytes actually decompressed (headers can lie);
  files are written ``0600`` and folders ``0700``; everything goes to a temporary folder next
  to the destination and is renamed into place only when all succeeded, so a failed
  extraction leaves nothing behind.

Every refusal raises a subclass of :class:`prefect_soar.errors.UnsafeArchiveError`.

Example:
    ```python
    from prefect_soar.safe_archive import ExtractionLimits, extract, list_members

    for member in list_members("artifacts.zip"):
        print(member.name, member.size, member.sha256)
    result = extract("artifacts.zip", "/srv/quarantine/task-42", limits=ExtractionLimits(max_total_bytes=2**30))
    ```
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import stat
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pyzipper

from prefect_soar.errors import BadInputError, UnsafeArchiveError

DEFAULT_PASSWORD = "infected"
_CHUNK = 1 << 16
_DRIVE = re.compile(r"^[A-Za-z]:")
_BAD_ZIP = (pyzipper.BadZipFile, zipfile.BadZipFile, zlib.error, EOFError, struct.error, NotImplementedError)


class ArchivePasswordError(UnsafeArchiveError):
    """The archive is encrypted and the password is wrong or missing."""

    hint = "Check the password (PT Sandbox uses 'infected')"


class CorruptArchiveError(UnsafeArchiveError):
    """The file is not a ZIP, is truncated, or its data fails its checks (CRC, HMAC)."""

    hint = "Download the archive again; if it keeps failing, inspect it in an isolated analysis host"


class ArchiveLimitError(UnsafeArchiveError):
    """The archive breaks a size, count or compression-ratio limit (a zip bomb, or just too big)."""

    hint = "Raise the ExtractionLimits if the archive is legitimately large, or inspect it in isolation"


class UnsafeMemberError(UnsafeArchiveError):
    """A member would land outside the destination or is not a plain file or folder."""


@dataclass(frozen=True)
class ExtractionLimits:
    """Limits that stop a zip bomb (or an unexpectedly huge archive).

    Attributes:
        max_total_bytes: Most uncompressed bytes over all members (counted while decompressing).
        max_members: Most entries in the archive (files and folders).
        max_member_bytes: Most uncompressed bytes of one member.
        max_ratio: Highest uncompressed/compressed ratio of one member, checked once the member
            has produced ``ratio_check_after_bytes`` (small, very compressible files are normal).
        ratio_check_after_bytes: See ``max_ratio``.
    """

    max_total_bytes: int = 4 * 1024**3
    max_members: int = 10_000
    max_member_bytes: int = 2 * 1024**3
    max_ratio: float = 200.0
    ratio_check_after_bytes: int = 1024**2


@dataclass(frozen=True)
class ArchiveMember:
    """One entry of an archive.

    Attributes:
        name: Name as stored in the archive (untrusted text).
        size: Uncompressed size in bytes (actually decompressed when the hash was computed).
        compressed_size: Size stored in the archive.
        sha256: SHA-256 of the content (``None`` for folders).
        is_dir: The entry is a folder.
        is_symlink: The entry is a symbolic link (its content is the link target).
        encrypted: The entry is encrypted.
        problem: Why :func:`extract` would refuse this entry, or ``None``.
    """

    name: str
    size: int
    compressed_size: int
    sha256: str | None
    is_dir: bool
    is_symlink: bool
    encrypted: bool = False
    problem: str | None = None


@dataclass(frozen=True)
class ExtractionResult:
    """What :func:`extract` wrote.

    Attributes:
        path: The destination folder.
        members: The extracted entries, with their SHA-256.
        total_bytes: Uncompressed bytes written.
    """

    path: Path
    members: list[ArchiveMember]
    total_bytes: int


def _password(password: str | bytes | None) -> bytes | None:
    if password is None:
        return None
    return password.encode() if isinstance(password, str) else password


def _mode(info: zipfile.ZipInfo) -> int:
    return (info.external_attr >> 16) & 0xFFFF


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why extracting this entry would be unsafe, or ``None``."""
    name = info.filename
    file_type = stat.S_IFMT(_mode(info))
    if stat.S_ISLNK(_mode(info)):
        return "is a symbolic link"
    if file_type and file_type not in (stat.S_IFREG, stat.S_IFDIR):
        kind = {stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device", stat.S_IFIFO: "a FIFO",
                stat.S_IFSOCK: "a socket"}.get(file_type, f"a special file (mode {file_type:o})")
        return f"is {kind}"
    if not name or "\x00" in name:
        return "has an empty name or a NUL byte in its name"
    if "\\" in name:
        return "uses a backslash in its path (a Windows path trick)"
    if name.startswith("/"):
        return "has an absolute path"
    if _DRIVE.match(name):
        return "starts with a drive letter"
    parts = [part for part in PurePosixPath(name).parts if part not in ("", ".")]
    if ".." in parts:
        return "climbs out of the destination with '..'"
    if not parts:
        return "has no usable path"
    return None


def _open(path: str | os.PathLike[str]) -> pyzipper.AESZipFile:
    file_path = Path(path)
    if not file_path.is_file():
        raise BadInputError(f"archive {file_path} does not exist or is not a file")
    try:
        return pyzipper.AESZipFile(file_path)
    except _BAD_ZIP as exc:
        with open(file_path, "rb") as handle:
            head = handle.read(4)
        if head == b"PK\x03\x04":
            raise CorruptArchiveError(f"{file_path.name} is truncated or corrupt ({exc})") from None
        raise CorruptArchiveError(f"{file_path.name} is not a ZIP archive") from None


class _Budget:
    """Counts actually decompressed bytes against the limits."""

    def __init__(self, limits: ExtractionLimits, archive_size: int) -> None:
        self.limits = limits
        self.archive_size = archive_size
        self.total = 0

    def stream(self, archive: pyzipper.AESZipFile, info: zipfile.ZipInfo, password: bytes | None) -> Iterator[bytes]:
        limits = self.limits
        compressed = max(min(info.compress_size, self.archive_size), 1)
        produced = 0
        with self._reading(info):
            handle = archive.open(info, pwd=password)
        try:
            while True:
                with self._reading(info):
                    chunk = handle.read(_CHUNK)
                if not chunk:
                    return
                produced += len(chunk)
                self.total += len(chunk)
                if self.total > limits.max_total_bytes:
                    raise ArchiveLimitError(
                        f"archive expands beyond max_total_bytes={limits.max_total_bytes} (at member {info.filename!r})"
                    )
                if produced > limits.max_member_bytes:
                    raise ArchiveLimitError(
                        f"member {info.filename!r} expands beyond max_member_bytes={limits.max_member_bytes}"
                    )
                if produced >= limits.ratio_check_after_bytes and produced / compressed > limits.max_ratio:
                    raise ArchiveLimitError(
                        f"member {info.filename!r} has a compression ratio above max_ratio={limits.max_ratio:g} "
                        f"({produced} bytes from {compressed}): a zip bomb"
                    )
                yield chunk
        finally:
            handle.close()

    @contextlib.contextmanager
    def _reading(self, info: zipfile.ZipInfo) -> Iterator[None]:
        try:
            yield
        except RuntimeError as exc:
            text = str(exc).lower()
            if "password" in text:
                raise ArchivePasswordError(f"wrong or missing password for member {info.filename!r}") from None
            raise CorruptArchiveError(f"cannot read member {info.filename!r}: {exc}") from None
        except _BAD_ZIP as exc:
            reason = str(exc) or type(exc).__name__
            if info.flag_bits & 0x1 and "crc" in reason.lower():
                reason += " (wrong password or corrupt data)"
            raise CorruptArchiveError(f"cannot read member {info.filename!r}: {reason}") from None


def _check_count(archive: pyzipper.AESZipFile, limits: ExtractionLimits) -> list[zipfile.ZipInfo]:
    infos: list[zipfile.ZipInfo] = archive.infolist()
    if len(infos) > limits.max_members:
        raise ArchiveLimitError(f"archive has {len(infos)} entries, more than max_members={limits.max_members}")
    return infos


def list_members(
    path: str | os.PathLike[str],
    *,
    password: str | bytes | None = DEFAULT_PASSWORD,
    limits: ExtractionLimits | None = None,
) -> list[ArchiveMember]:
    """List an archive's members with their SHA-256, decrypting in memory and writing nothing.

    Args:
        path: The archive.
        password: Its password (``infected`` by default; ignored for unencrypted members).
        limits: Stop hashing a zip bomb at these limits (defaults: :class:`ExtractionLimits`).

    Returns:
        The members in archive order; ``problem`` says which ones :func:`extract` would refuse.

    Raises:
        ArchivePasswordError: Wrong or missing password.
        CorruptArchiveError: Not a ZIP, truncated, or failing its checks.
        ArchiveLimitError: The content breaks a limit.
        BadInputError: ``path`` is not a file.
    """
    limits = limits or ExtractionLimits()
    pwd = _password(password)
    members: list[ArchiveMember] = []
    with _open(path) as archive:
        budget = _Budget(limits, os.path.getsize(path))
        for info in _check_count(archive, limits):
            mode = _mode(info)
            is_dir = info.is_dir() or stat.S_ISDIR(mode)
            digest: str | None = None
            size = info.file_size
            if not is_dir:
                sha = hashlib.sha256()
                size = 0
                for chunk in budget.stream(archive, info, pwd):
                    sha.update(chunk)
                    size += len(chunk)
                digest = sha.hexdigest()
            members.append(ArchiveMember(
                name=info.filename, size=size, compressed_size=info.compress_size, sha256=digest, is_dir=is_dir,
                is_symlink=stat.S_ISLNK(mode), encrypted=bool(info.flag_bits & 0x1), problem=_member_problem(info),
            ))
    return members


def _prepare_destination(dest: Path, created: list[Path]) -> bool:
    """Create missing parents (appended to ``created``, to undo on failure); say whether ``dest`` is an empty folder."""
    if dest.exists() or dest.is_symlink():
        if dest.is_symlink() or not dest.is_dir():
            raise BadInputError(f"destination {dest} exists and is not a folder")
        if any(dest.iterdir()):
            raise BadInputError(f"destination {dest} is not empty; extract into a new or empty folder")
        return True
    for parent in reversed(dest.parents):
        if not parent.exists():
            parent.mkdir(mode=0o700)
            created.append(parent)
    return False


def extract(
    path: str | os.PathLike[str],
    dest_dir: str | os.PathLike[str],
    *,
    password: str | bytes | None = DEFAULT_PASSWORD,
    limits: ExtractionLimits | None = None,
    members: Collection[str] | None = None,
) -> ExtractionResult:
    """Extract an archive safely into ``dest_dir`` (which must not exist yet, or be empty).

    Args:
        path: The archive.
        dest_dir: Destination folder; created (with missing parents) on success only.
        password: Its password (``infected`` by default).
        limits: Size, count and ratio limits (defaults: :class:`ExtractionLimits`).
        members: Only these member names (default: all).

    Returns:
        The destination and what was written (files ``0600``, folders ``0700``).

    Raises:
        UnsafeMemberError: An absolute path, ``..``, drive letter, backslash, symlink, device
            entry or duplicate name (among the selected members).
        ArchiveLimitError: A limit was reached.
        ArchivePasswordError: Wrong or missing password.
        CorruptArchiveError: Not a ZIP, truncated, or failing its checks.
        BadInputError: ``path`` is not a file, or ``dest_dir`` exists and is not an empty folder.
    """
    limits = limits or ExtractionLimits()
    pwd = _password(password)
    dest = Path(dest_dir).absolute()
    with _open(path) as archive:
        infos = _check_count(archive, limits)
        if members is not None:
            wanted = set(members)
            missing = wanted - {info.filename for info in infos}
            if missing:
                raise BadInputError(f"no such members in the archive: {', '.join(sorted(missing))}")
            infos = [info for info in infos if info.filename in wanted]
        for info in infos:
            problem = _member_problem(info)
            if problem:
                raise UnsafeMemberError(f"refusing member {info.filename!r}: it {problem}")
        if sum(info.file_size for info in infos) > limits.max_total_bytes:
            raise ArchiveLimitError(f"archive declares more than max_total_bytes={limits.max_total_bytes}")
        created: list[Path] = []
        staging: Path | None = None
        replace_empty = False
        try:
            replace_empty = _prepare_destination(dest, created)
            staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.extracting-", dir=dest.parent))
            written = _extract_into(archive, infos, staging, pwd, _Budget(limits, os.path.getsize(path)))
            if replace_empty:
                dest.rmdir()
            os.replace(staging, dest)
        except BaseException:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            if replace_empty and not dest.exists():
                dest.mkdir(mode=0o700)
            for parent in reversed(created):
                with contextlib.suppress(OSError):
                    parent.rmdir()
            raise
    return ExtractionResult(dest, written, sum(m.size for m in written))


def _extract_into(
    archive: pyzipper.AESZipFile, infos: list[zipfile.ZipInfo], root: Path, pwd: bytes | None, budget: _Budget,
) -> list[ArchiveMember]:
    written: list[ArchiveMember] = []
    real_root = os.path.realpath(root)
    seen: set[str] = set()
    for info in infos:
        parts = [part for part in PurePosixPath(info.filename).parts if part not in ("", ".")]
        key = "/".join(parts)
        if key in seen:
            raise UnsafeMemberError(f"refusing member {info.filename!r}: a duplicate name would overwrite a file")
        seen.add(key)
        target = root.joinpath(*parts)
        is_dir = info.is_dir() or stat.S_ISDIR(_mode(info))
        folder = target if is_dir else target.parent
        _make_dirs(root, folder)
        if os.path.commonpath([real_root, os.path.realpath(folder)]) != real_root:
            raise UnsafeMemberError(f"refusing member {info.filename!r}: it resolves outside the destination")
        if is_dir:
            written.append(ArchiveMember(info.filename, 0, info.compress_size, None, True, False,
                                         bool(info.flag_bits & 0x1)))
            continue
        sha = hashlib.sha256()
        size = 0
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                         | getattr(os, "O_BINARY", 0), 0o600)
        except FileExistsError:
            raise UnsafeMemberError(f"refusing member {info.filename!r}: its path is already taken") from None
        except (NotADirectoryError, IsADirectoryError):
            raise UnsafeMemberError(f"refusing member {info.filename!r}: its path clashes with a file") from None
        with os.fdopen(fd, "wb") as out:
            os.chmod(target, 0o600)
            for chunk in budget.stream(archive, info, pwd):
                out.write(chunk)
                sha.update(chunk)
                size += len(chunk)
        written.append(ArchiveMember(info.filename, size, info.compress_size, sha.hexdigest(), False, False,
                                     bool(info.flag_bits & 0x1)))
    return written


def _make_dirs(root: Path, folder: Path) -> None:
    """Create ``folder`` and its missing parents below ``root`` with mode 0700, refusing files in the way."""
    missing: list[Path] = []
    current = folder
    while current != root and not current.is_dir():
        if current.exists() or current.is_symlink():
            raise UnsafeMemberError(f"refusing path {current.relative_to(root)}: a file is in the way of a folder")
        missing.append(current)
        current = current.parent
    for item in reversed(missing):
        item.mkdir(mode=0o700)
        os.chmod(item, 0o700)


__all__ = [
    "DEFAULT_PASSWORD",
    "ArchiveLimitError",
    "ArchiveMember",
    "ArchivePasswordError",
    "CorruptArchiveError",
    "ExtractionLimits",
    "ExtractionResult",
    "UnsafeMemberError",
    "extract",
    "list_members",
]
