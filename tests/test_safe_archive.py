"""Safe archive handling: listing without writing, guarded extraction, zip bombs, traversal, passwords."""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
import pyzipper

from prefect_soar.errors import BadInputError, UnsafeArchiveError
from prefect_soar.safe_archive import (
    ArchiveLimitError,
    ArchivePasswordError,
    CorruptArchiveError,
    ExtractionLimits,
    UnsafeMemberError,
    extract,
    list_members,
)

FILES = {"report.txt": b"hello analyst\n" * 50, "drops/payload.bin": os.urandom(5000), "drops/deep/x.dat": b"x"}


def aes_zip(path: Path, files: dict[str, bytes], password: bytes = b"infected") -> Path:
    with pyzipper.AESZipFile(path, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES) as archive:
        archive.setpassword(password)
        for name, data in files.items():
            archive.writestr(name, data)
    return path


class _ZipCryptoKeys:
    """The traditional PKWARE stream cipher, to write ZipCrypto archives (no library writes them)."""

    def __init__(self, password: bytes) -> None:
        self.keys = [305419896, 591751049, 878082192]
        for byte in password:
            self._update(byte)

    def _update(self, byte: int) -> None:
        k0, k1, k2 = self.keys
        k0 = zlib.crc32(bytes([byte]), k0 ^ 0xFFFFFFFF) ^ 0xFFFFFFFF
        k1 = ((k1 + (k0 & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        k2 = zlib.crc32(bytes([k1 >> 24]), k2 ^ 0xFFFFFFFF) ^ 0xFFFFFFFF
        self.keys = [k0, k1, k2]

    def encrypt(self, data: bytes) -> bytes:
        out = bytearray()
        for byte in data:
            k = self.keys[2] | 2
            out.append(byte ^ (((k * (k ^ 1)) >> 8) & 0xFF))
            self._update(byte)
        return bytes(out)


def zipcrypto_zip(path: Path, files: dict[str, bytes], password: bytes = b"infected") -> Path:
    """A stored (uncompressed) ZipCrypto archive, written byte by byte."""
    body, central = bytearray(), bytearray()
    for name, data in files.items():
        crc = zlib.crc32(data)
        header = bytes(range(11)) + bytes([crc >> 24])  # fixed "random" bytes: a deterministic archive
        encrypted = _ZipCryptoKeys(password).encrypt(header + data)
        raw_name = name.encode()
        offset = len(body)
        body += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0x1, 0, 0, 0x5A6E, crc, len(encrypted), len(data),
                            len(raw_name), 0) + raw_name + encrypted
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 0x0314, 20, 0x1, 0, 0, 0x5A6E, crc, len(encrypted),
                               len(data), len(raw_name), 0, 0, 0, 0, (stat.S_IFREG | 0o644) << 16, offset) + raw_name
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(files), len(files), len(central), len(body), 0)
    path.write_bytes(bytes(body + central + end))
    return path


def crafted_zip(path: Path, entries: list[tuple[str, bytes, int]]) -> Path:
    """A plain ZIP whose entries carry the given Unix mode bits (type included)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name, date_time=(2025, 3, 14, 0, 0, 0))
            info.create_system = 3
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return path


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


@pytest.mark.parametrize("writer", [aes_zip, zipcrypto_zip], ids=["aes", "zipcrypto"])
def test_list_members_hashes_without_writing(work: Path, writer: object) -> None:
    archive = writer(work / "a.zip", FILES)  # type: ignore[operator]
    before = leftovers(work)
    members = list_members(archive)
    assert leftovers(work) == before
    assert [m.name for m in members] == list(FILES)
    for member in members:
        data = FILES[member.name]
        assert member.sha256 == hashlib.sha256(data).hexdigest() and member.size == len(data)
        assert member.encrypted and not member.is_dir and not member.is_symlink and member.problem is None


@pytest.mark.parametrize("writer", [aes_zip, zipcrypto_zip], ids=["aes", "zipcrypto"])
def test_extract_writes_private_files_atomically(work: Path, writer: object) -> None:
    archive = writer(work / "a.zip", FILES)  # type: ignore[operator]
    result = extract(archive, work / "out" / "task-1")
    assert result.path == (work / "out" / "task-1").absolute()
    assert result.total_bytes == sum(len(d) for d in FILES.values())
    for name, data in FILES.items():
        target = result.path / name
        assert target.read_bytes() == data
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
    for folder in (result.path, result.path / "drops", result.path / "drops" / "deep"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {m.name: m.sha256 for m in result.members} == {n: hashlib.sha256(d).hexdigest() for n, d in FILES.items()}
    assert leftovers(work / "out") == ["task-1"]  # no staging folder left


def test_plain_archives_and_selected_members(work: Path) -> None:
    archive = crafted_zip(work / "plain.zip", [("a/", b"", stat.S_IFDIR | 0o755), ("a/b.txt", b"bee", 0o644),
                                               ("c.txt", b"sea", 0)])
    members = list_members(archive)
    assert [(m.name, m.is_dir, m.encrypted) for m in members] == [("a/", True, False), ("a/b.txt", False, False),
                                                                  ("c.txt", False, False)]
    result = extract(archive, work / "only-c", members=["c.txt"])
    assert leftovers(result.path) == ["c.txt"]
    with pytest.raises(BadInputError, match="no such members"):
        extract(archive, work / "none", members=["zzz"])


def test_extract_into_an_empty_existing_folder_but_not_a_full_one(work: Path) -> None:
    archive = aes_zip(work / "a.zip", {"f.txt": b"1"})
    (work / "empty").mkdir()
    assert (extract(archive, work / "empty").path / "f.txt").read_bytes() == b"1"
    (work / "full").mkdir()
    (work / "full" / "keep.txt").write_text("mine")
    with pytest.raises(BadInputError, match="not empty"):
        extract(archive, work / "full")
    assert leftovers(work / "full") == ["keep.txt"]


@pytest.mark.parametrize("writer", [aes_zip, zipcrypto_zip], ids=["aes", "zipcrypto"])
def test_wrong_or_missing_password(work: Path, writer: object) -> None:
    archive = writer(work / "a.zip", {"f.txt": b"secret data"})  # type: ignore[operator]
    with pytest.raises(ArchivePasswordError, match="wrong or missing password"):
        list_members(archive, password="not-infected")
    with pytest.raises(ArchivePasswordError):
        extract(archive, work / "out", password=b"nope")
    with pytest.raises(ArchivePasswordError):
        list_members(archive, password=None)
    assert not (work / "out").exists() and leftovers(work) == ["a.zip"]


def test_truncated_archive(work: Path) -> None:
    archive = aes_zip(work / "a.zip", FILES)
    data = archive.read_bytes()
    truncated = work / "t.zip"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptArchiveError, match="truncated or corrupt"):
        list_members(truncated)
    with pytest.raises(CorruptArchiveError):
        extract(truncated, work / "out")
    assert not (work / "out").exists()


def test_corrupted_member_data_fails_its_check(work: Path) -> None:
    archive = aes_zip(work / "a.zip", {"f.bin": os.urandom(4000)})
    data = bytearray(archive.read_bytes())
    data[200] ^= 0xFF  # inside the encrypted data
    archive.write_bytes(bytes(data))
    with pytest.raises(CorruptArchiveError, match=r"cannot read member 'f\.bin'"):
        extract(archive, work / "out")
    assert leftovers(work) == ["a.zip"]


def test_not_a_zip(work: Path) -> None:
    page = work / "error.html"
    page.write_text("<html>502 Bad Gateway</html>")
    with pytest.raises(CorruptArchiveError, match="is not a ZIP archive") as caught:
        list_members(page)
    assert isinstance(caught.value, UnsafeArchiveError)
    with pytest.raises(BadInputError):
        list_members(work / "missing.zip")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../evil.txt", "climbs out"),
        ("safe/../../evil.txt", "climbs out"),
        ("/etc/cron.d/evil", "absolute path"),
        ("C:/Windows/evil.dll", "drive letter"),
        ("..\\evil.txt", "backslash"),
        ("a\\..\\..\\evil.txt", "backslash"),
    ],
)
def test_path_tricks_are_refused_and_nothing_is_written(work: Path, name: str, reason: str) -> None:
    archive = crafted_zip(work / "a.zip", [("fine.txt", b"ok", 0o644), (name, b"pwned", 0o644)])
    listed = list_members(archive)
    assert listed[1].problem is not None and reason in listed[1].problem
    with pytest.raises(UnsafeMemberError, match=reason):
        extract(archive, work / "dest" / "out")
    assert leftovers(work) == ["a.zip"]  # not even the created parent "dest"
    assert not (work.parent / "evil.txt").exists()


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        (stat.S_IFLNK | 0o777, "symbolic link"),
        (stat.S_IFCHR | 0o600, "character device"),
        (stat.S_IFBLK | 0o600, "block device"),
        (stat.S_IFIFO | 0o600, "FIFO"),
        (stat.S_IFSOCK | 0o600, "socket"),
    ],
)
def test_links_and_special_files_are_refused(work: Path, mode: int, reason: str) -> None:
    archive = crafted_zip(work / "a.zip", [("fine.txt", b"ok", 0o644), ("special", b"/etc/passwd", mode)])
    listed = list_members(archive)
    assert listed[1].is_symlink == stat.S_ISLNK(mode) and reason in (listed[1].problem or "")
    with pytest.raises(UnsafeMemberError, match=reason):
        extract(archive, work / "out")
    assert leftovers(work) == ["a.zip"]


def test_duplicate_names_are_refused(work: Path) -> None:
    archive = crafted_zip(work / "a.zip", [("x.txt", b"first", 0o644), ("./x.txt", b"second", 0o644)])
    with pytest.raises(UnsafeMemberError, match="duplicate"):
        extract(archive, work / "out")
    assert leftovers(work) == ["a.zip"]


def test_zip_bomb_by_ratio_stops_early(work: Path) -> None:
    archive = aes_zip(work / "bomb.zip", {"ok.txt": b"fine", "bomb.bin": b"\0" * (32 * 1024 * 1024)})
    assert archive.stat().st_size < 200_000
    with pytest.raises(ArchiveLimitError, match="compression ratio") as caught:
        extract(archive, work / "out")
    assert "zip bomb" in str(caught.value)
    with pytest.raises(ArchiveLimitError):
        list_members(archive)
    assert leftovers(work) == ["bomb.zip"]


def test_total_size_limit_counts_decompressed_bytes(work: Path) -> None:
    files = {f"part{n}.bin": os.urandom(400_000) for n in range(3)}
    archive = aes_zip(work / "big.zip", files)
    limits = ExtractionLimits(max_total_bytes=1_000_000)
    with pytest.raises(ArchiveLimitError, match="max_total_bytes"):
        extract(archive, work / "out", limits=limits)
    assert leftovers(work) == ["big.zip"]
    with pytest.raises(ArchiveLimitError, match="max_member_bytes"):
        list_members(archive, limits=ExtractionLimits(max_member_bytes=100_000))


def test_headers_that_lie_about_sizes_do_not_help(work: Path) -> None:
    archive = crafted_zip(work / "liar.zip", [("big.bin", os.urandom(300_000), 0o644)])
    data = bytearray(archive.read_bytes())
    central = data.rfind(b"PK\x01\x02")
    struct.pack_into("<L", data, central + 24, 10)  # central directory: uncompressed size 10
    struct.pack_into("<L", data, 22, 10)  # local header too
    archive.write_bytes(bytes(data))
    assert zipfile.ZipFile(archive).getinfo("big.bin").file_size == 10
    with pytest.raises((CorruptArchiveError, ArchiveLimitError)):  # zipfile stops at the declared size: bad CRC
        extract(archive, work / "out", limits=ExtractionLimits(max_total_bytes=100_000))
    assert leftovers(work) == ["liar.zip"]


def test_member_count_limit(work: Path) -> None:
    archive = aes_zip(work / "many.zip", {f"f{n}.txt": b"x" for n in range(30)})
    with pytest.raises(ArchiveLimitError, match="max_members=20"):
        extract(archive, work / "out", limits=ExtractionLimits(max_members=20))
    assert len(list_members(archive)) == 30


def test_failure_after_some_files_leaves_nothing_behind(work: Path) -> None:
    files = {"first.txt": b"written before the failure", "second/bomb.bin": b"\0" * 4_000_000}
    archive = aes_zip(work / "a.zip", files)
    with pytest.raises(ArchiveLimitError):
        extract(archive, work / "new" / "deeper" / "out", limits=ExtractionLimits(ratio_check_after_bytes=65536))
    assert leftovers(work) == ["a.zip"]
