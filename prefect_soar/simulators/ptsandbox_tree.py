"""Artifact trees of the PT Sandbox lab's tasks: nodes, their scans, sandbox info and file bytes.

A tree is built on demand from ``(seed, task)``; file contents are synthetic bytes regenerated
from a seed string (so a hash found in a tree can be served again later without keeping the
bytes), except for public-API uploads, whose real bytes are kept.
"""

from __future__ import annotations

import hashlib
import mimetypes
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from prefect_soar.simulators.ptsandbox_data import (
    ARCHIVE_KINDS,
    BAD_HOSTS,
    CLEAN_HOSTS,
    EMAIL_KIND,
    FILE_KINDS,
    HTML_KIND,
    OBJECT_TYPES,
    STEMS,
    URL_KIND,
    VERDICT_RANK,
    VERDICTS,
    FileKind,
    TaskRow,
    alias_table,
    correlation,
    enum_field,
    iso,
    row_rng,
)
from prefect_soar.simulators.ptsandbox_ql import QLField

NODE_TYPES = ("ARTIFACT", "SANDBOX", "SANDBOX_STAGE")

_CONTENT_PREFIX = b"PT-SANDBOX-LAB synthetic sample; harmless bytes.\n"


@dataclass(frozen=True)
class Blob:
    """File bytes the lab can serve: synthetic (regenerated from a seed) or real (an upload)."""

    size: int
    seed: str = ""
    data: bytes | None = None
    owner: str | None = None

    def read(self) -> bytes:
        """All the bytes (blobs of the data set are small)."""
        if self.data is not None:
            return self.data
        body = random.Random(self.seed).randbytes(max(self.size - len(_CONTENT_PREFIX), 0))
        return (_CONTENT_PREFIX + body)[: self.size]

    def chunks(self, size: int = 1 << 20) -> Iterator[bytes]:
        """The bytes in chunks."""
        data = self.read()
        for offset in range(0, len(data), size):
            yield data[offset : offset + size]


@dataclass
class HashedBlob:
    """A blob with its digests."""

    blob: Blob
    sha256: str
    md5: str
    sha1: str

    @classmethod
    def of(cls, blob: Blob) -> HashedBlob:
        """Hash a blob's bytes."""
        data = blob.read()
        return cls(blob, hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest(),
                   hashlib.sha1(data).hexdigest())


@dataclass
class LogFile:
    """A sandbox log attached to a node (``scanArtifacts``)."""

    name: str
    type: str
    hashed: HashedBlob


@dataclass
class TreeNode:
    """One node of a task's artifact tree; ``json`` is the wire object (without ``firstChildCount``)."""

    node_id: int
    parent_ids: list[int]
    node_type: str
    name: str
    info_type: str
    verdict: str
    mime_type: str
    hashed: HashedBlob | None
    json: dict[str, Any]
    logs: list[LogFile] = field(default_factory=list)
    children: list[int] = field(default_factory=list)
    yara: dict[str, Any] | None = None

    @property
    def size(self) -> int:
        """Size of the node's file (0 for a node without one)."""
        return self.hashed.blob.size if self.hashed else 0

    @property
    def sha256(self) -> str:
        """SHA-256 of the node's file ("" for a node without one)."""
        return self.hashed.sha256 if self.hashed else ""

    @property
    def md5(self) -> str:
        """MD5 of the node's file."""
        return self.hashed.md5 if self.hashed else ""

    @property
    def sha1(self) -> str:
        """SHA-1 of the node's file."""
        return self.hashed.sha1 if self.hashed else ""

    def wire(self) -> dict[str, Any]:
        """The ``TreeNode`` JSON."""
        return {**self.json, "firstChildCount": len(self.children)}


NODE_FIELDS = alias_table(
    (("verdict", "threatLevel"), enum_field("verdict", lambda n: n.verdict, VERDICTS, VERDICT_RANK)),
    (("type", "info.type", "objectType"), enum_field("type", lambda n: n.info_type, OBJECT_TYPES)),
    (("nodeType",), enum_field("nodeType", lambda n: n.node_type, NODE_TYPES)),
    (("name", "fileName", "info.name"), QLField("name", "text", lambda n: n.name)),
    (("sha256", "fileSha256"), QLField("sha256", "text", lambda n: n.sha256)),
    (("md5",), QLField("md5", "text", lambda n: n.md5)),
    (("sha1",), QLField("sha1", "text", lambda n: n.sha1)),
    (("size",), QLField("size", "number", lambda n: n.size)),
    (("mimeType",), QLField("mimeType", "text", lambda n: n.mime_type)),
    (("id", "nodeId"), QLField("nodeId", "number", lambda n: n.node_id)),
)

_ENGINES = (("clamav", "1.0.5"), ("kaspersky", "8.0"), ("drweb", "11.1"), ("ptesc", "5.11.0"), ("nano", "1.0.146"))
_LOGS = (
    ("drakvuf-trace.log.zst", "SANDBOX_RAW_EVENT_FILE"),
    ("tcpdump.pcap", "SANDBOX_NETWORK_FILE"),
    ("correlated-events.json", "SANDBOX_CORRELATED_EVENT"),
)
LOG_TYPES = {
    "SANDBOX_NETWORK_FILE": "NETWORK",
    "SANDBOX_RAW_EVENT_FILE": "EVENT_RAW",
    "SANDBOX_CORRELATED_EVENT": "EVENT_CORRELATED",
    "SANDBOX_NORMALIZED_EVENT": "EVENT_NORMALIZED",
    "SANDBOX_DEBUG_FILE": "DEBUG",
    "SANDBOX_GRAPH": "GRAPH",
}
SANDBOX_IMAGE: dict[str, Any] = {
    "name": "win10-1803-x64",
    "type": "base",
    "version": "1.0",
    "os": {"name": "Windows", "version": "10", "architecture": "x64", "servicePack": "", "locale": "en-US"},
}


@dataclass(frozen=True)
class Verdict:
    """What a node is judged to be."""

    level: str
    classification: str
    platform: str
    threat: str

    @classmethod
    def clean(cls) -> Verdict:
        """A clean verdict."""
        return cls("CLEAN", "UNKNOWN", "NO_PLATFORM", "")

    @classmethod
    def of_row(cls, row: TaskRow) -> Verdict:
        """The final verdict of a task."""
        if row.final is not None:
            return cls(*row.final)
        return cls(row.threat_level, row.threat_classification, row.threat_platform, row.threat_name)


class TreeBuilder:
    """Builds the artifact tree of one task, deterministically."""

    def __init__(self, seed: int, row: TaskRow) -> None:
        self.seed = seed
        self.row = row
        self.rng = row_rng(seed, row, "tree")
        self.nodes: list[TreeNode] = []
        self.state = "FULL" if row.final is not None else row.state

    def blob(self, purpose: str, low: int = 512, high: int = 12288) -> HashedBlob:
        """A synthetic file for this task."""
        size = self.rng.randint(low, high)
        return HashedBlob.of(Blob(size=size, seed=f"ptsandbox-lab:{self.seed}:{self.row.id}:{purpose}",
                                  owner=self.row.owner))

    def scans(self, verdict: Verdict) -> list[dict[str, Any]]:
        """Per-engine results of a file node."""
        engines = self.rng.sample(_ENGINES, 3)
        scans = []
        for position, (name, version) in enumerate(engines):
            engine: dict[str, Any] = {"name": name, "databaseTime": iso(self.row.start - 6 * 3600), "version": version,
                                      "detections": [], "errors": []}
            level, classification, platform, state = "CLEAN", "UNKNOWN", "NO_PLATFORM", "FULL"
            if verdict.level in ("DANGEROUS", "UNWANTED") and position < 2:
                engine["detections"] = [{"name": verdict.threat, "threatClassification": verdict.classification}]
                level, classification, platform = verdict.level, verdict.classification, verdict.platform
            elif verdict.level == "UNKNOWN" and position == 0:
                engine["errors"] = [{"type": "TIMEOUT_ERROR", "duration": 30}]
                level, state = "UNKNOWN", "PARTIAL"
            scans.append({"engine": engine, "result": correlation(state, level, classification, platform, False)})
        return scans

    def add(
        self, parent: int | None, node_type: str, info_type: str, name: str, kind: FileKind, verdict: Verdict,
        hashed: HashedBlob | None, *, sandbox_info: dict[str, Any] | None = None, logs: bool = False,
        network: list[dict[str, Any]] | None = None,
    ) -> TreeNode:
        """Append a node under ``parent``."""
        node_id = len(self.nodes)
        parent_ids = [*self.nodes[parent].parent_ids, parent] if parent is not None else []
        info = {
            "type": info_type,
            "name": name,
            "size": hashed.blob.size if hashed else 0,
            "sha1": hashed.sha1 if hashed else "",
            "sha256": hashed.sha256 if hashed else "",
            "md5": hashed.md5 if hashed else "",
            "ssdeep": f"{48 * (1 + (hashed.blob.size if hashed else 0) // 3072)}:{(hashed.sha1 if hashed else '')[:20]}"
                      f":{(hashed.md5 if hashed else '')[:12]}",
            "mimeType": kind.mime,
            "magicString": kind.magic,
            "fileType": kind.file_type,
            "properties": list(kind.properties) if node_type == "ARTIFACT" else [],
        }
        body: dict[str, Any] = {"nodeId": node_id, "parentIds": parent_ids, "nodeType": node_type, "scans": [],
                                "info": info}
        node = TreeNode(node_id, parent_ids, node_type, name, info_type, verdict.level, kind.mime, hashed, body)
        if node_type == "ARTIFACT":
            body["scans"] = self.scans(verdict) if hashed else []
            body["correlation"] = correlation(self.state, verdict.level, verdict.classification, verdict.platform)
            body["unpackerInfo"] = {"state": "FULL", "errors": []}
            body["bwListsInfo"] = {"state": "FULL", "status": "NOT_IN_LISTS", "hashes": [], "errors": []}
            if info_type == "ARCHIVE":
                body["archiveInfo"] = {"password": ""}
            node.yara = {
                "engine": {"name": "yara_engine", "version": "4.5", "detections": []},
                "result": correlation("FULL", "CLEAN", "UNKNOWN", "NO_PLATFORM", False),
            }
        if logs:
            for position, (log_name, log_type) in enumerate(_LOGS):
                log = LogFile(log_name, log_type, self.blob(f"log:{node_id}:{position}", 1024, 16384))
                node.logs.append(log)
            body["scanArtifacts"] = [
                {"name": log.name, "sha256": log.hashed.sha256, "size": log.hashed.blob.size, "type": log.type}
                for log in node.logs
            ]
        if network:
            body["networkObjects"] = network
        if sandbox_info is not None:
            body["sandboxInfo"] = sandbox_info
        if parent is not None:
            self.nodes[parent].children.append(node_id)
        self.nodes.append(node)
        return node

    def sandbox_info(self, verdict: Verdict, kind: FileKind) -> dict[str, Any]:
        """The ``sandboxInfo`` of a behavioural-analysis node."""
        bad = verdict.level in ("DANGEROUS", "UNWANTED")
        return {
            "analysisDuration": 120,
            "analysisPlannedDuration": 120,
            "dpiRulesVersion": "1.0.0",
            "correlationRulesVersion": "5.11.0.100",
            "mitm": True,
            "fileType": kind.ext,
            "imageInfo": SANDBOX_IMAGE,
            "autoSelect": False,
            "suspiciousBehaviors": [
                {"name": "Office_Spawns_Powershell", "version": "1", "mitreThreatId": "T1059.001", "weight": 3},
                {"name": "Creates_Autorun_Key", "version": "2", "mitreThreatId": "T1547.001", "weight": 2},
            ] if bad else [],
            "detections": [{"name": verdict.threat, "threatClassification": verdict.classification}] if bad else [],
            "errors": [],
            "bootkitmon": False,
            "stageIndex": 0,
            "result": correlation(self.state, verdict.level if self.row.sandbox else "UNKNOWN",
                                  verdict.classification, verdict.platform, False),
        }

    def network(self, verdict: Verdict) -> list[dict[str, Any]]:
        """Network objects seen while detonating."""
        if verdict.level == "DANGEROUS":
            host = BAD_HOSTS[self.rng.randrange(len(BAD_HOSTS))]
            return [
                {"type": "DOMAIN", "value": host, "isScanned": False},
                {"type": "IP", "value": f"203.0.113.{self.rng.randrange(1, 255)}", "isScanned": True},
                {"type": "URL", "value": f"http://{host}/gate.php", "isScanned": True},
            ]
        if self.rng.random() < 0.5:
            return [{"type": "DOMAIN", "value": CLEAN_HOSTS[self.rng.randrange(len(CLEAN_HOSTS))],
                     "isScanned": False}]
        return []

    def detonate(self, parent: TreeNode, kind: FileKind, verdict: Verdict) -> None:
        """Add a behavioural-analysis subtree under a file node."""
        if not self.row.sandbox:
            return
        sandbox = self.add(parent.node_id, "SANDBOX", parent.info_type, parent.name, kind, verdict, parent.hashed,
                           sandbox_info=self.sandbox_info(verdict, kind))
        if verdict.level == "DANGEROUS":
            for position, drop in enumerate(("payload.exe", "stage2.dll")[: 1 + self.rng.randrange(2)]):
                self.add(sandbox.node_id, "ARTIFACT", "SANDBOX_DROP", drop,
                         FILE_KINDS[3 + position], verdict, self.blob(f"drop:{position}"))
            self.add(sandbox.node_id, "ARTIFACT", "SANDBOX_PROCESS_MEMORY_DUMP", "proc_2412.dmp",
                     FileKind("dmp", "application/octet-stream", "data", "dump", ()), Verdict.clean(),
                     self.blob("dump", 4096, 16384))

    def build(self) -> list[TreeNode]:
        """The whole tree, node 0 first, ids in pre-order of creation."""
        row, verdict = self.row, Verdict.of_row(self.row)
        kind = row.file_kind
        if row.object_type == "URL":
            url = row.url or row.name
            root = self.add(None, "ARTIFACT", "URL", url, URL_KIND, verdict,
                            HashedBlob.of(Blob(size=len(url.encode()), data=url.encode(), owner=row.owner)),
                            logs=row.sandbox, network=self.network(verdict) if row.sandbox else None)
            self.add(0, "ARTIFACT", "FILE", "index.html", HTML_KIND, verdict, self.blob("page"))
            self.detonate(root, HTML_KIND, verdict)
        elif row.object_type == "EMAIL":
            self.add(None, "ARTIFACT", "EMAIL", "message.eml", EMAIL_KIND, verdict, self.blob("eml"))
            self.add(0, "ARTIFACT", "EMAIL_BODY", "body.html", HTML_KIND, Verdict.clean(), self.blob("body"))
            attachment_kind = FILE_KINDS[self.rng.randrange(len(FILE_KINDS))]
            first = self.add(0, "ARTIFACT", "FILE", f"{STEMS[self.rng.randrange(len(STEMS))]}.{attachment_kind.ext}",
                             attachment_kind, verdict, self.blob("attachment"), logs=row.sandbox,
                             network=self.network(verdict) if row.sandbox else None)
            self.detonate(first, attachment_kind, verdict)
            if self.rng.random() < 0.4:
                self.add(0, "ARTIFACT", "FILE", "logo.png",
                         FileKind("png", "image/png", "PNG image data", "image/png", ()), Verdict.clean(),
                         self.blob("logo"))
        elif row.object_type == "ARCHIVE":
            self.add(None, "ARTIFACT", "ARCHIVE", row.name, kind, verdict, self.content_blob("archive"))
            for position in range(2 + self.rng.randrange(2)):
                member_kind = FILE_KINDS[self.rng.randrange(len(FILE_KINDS))]
                member_verdict = verdict if position == 0 else Verdict.clean()
                member = self.add(0, "ARTIFACT", "FILE", f"{STEMS[(position * 5) % len(STEMS)]}.{member_kind.ext}",
                                  member_kind, member_verdict, self.blob(f"member:{position}"),
                                  logs=row.sandbox and position == 0,
                                  network=self.network(verdict) if row.sandbox and position == 0 else None)
                if position == 0:
                    self.detonate(member, member_kind, verdict)
        else:
            root = self.add(None, "ARTIFACT", "FILE", row.name, kind, verdict, self.content_blob("file"),
                            logs=row.sandbox, network=self.network(verdict) if row.sandbox else None)
            self.detonate(root, kind, verdict)
        return self.nodes

    def content_blob(self, purpose: str) -> HashedBlob:
        """The task's own file: the upload for public-API tasks, synthetic otherwise."""
        if self.row.content is not None:
            return HashedBlob.of(Blob(size=len(self.row.content), data=self.row.content, owner=self.row.owner))
        return self.blob(purpose, 2048, 65536)


def build_tree(seed: int, row: TaskRow) -> list[TreeNode]:
    """The artifact tree of a task (node 0 is the submitted object)."""
    return TreeBuilder(seed, row).build()


def guess_kind(file_name: str) -> FileKind:
    """A :class:`FileKind` for an uploaded file's name."""
    ext = file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    for kind in FILE_KINDS + ARCHIVE_KINDS:
        if kind.ext == ext:
            return kind
    mime = mimetypes.guess_type(file_name)[0] or "application/octet-stream"
    return FileKind(ext or "bin", mime, "data", ext or "data", ())




def tree_page(
    nodes: list[TreeNode],
    *,
    parent_path: list[int] | None = None,
    filtered_ids: set[int] | None = None,
    limit: int = 1000,
    offset: int = 0,
    max_tree_level: int = 3,
    sort_mode: str = "DANGEROUS",
) -> tuple[list[dict[str, Any]], bool]:
    """One page of ``/v2/tasks/{id}/tree``: nodes in pre-order, siblings sorted by ``sort_mode``.

    Without ``parent_path`` the page starts at the root (level 1) and goes ``max_tree_level``
    levels deep; with it, it lists the descendants of the path's last node, ``max_tree_level``
    levels below it. ``filtered_ids`` keeps only those node ids.

    Raises:
        LookupError: ``parent_path`` is not a path of this tree.
    """
    if sort_mode == "ALPHABETICAL":
        def order(node_id: int) -> tuple[Any, ...]:
            return (nodes[node_id].name.lower(), node_id)
    else:
        def order(node_id: int) -> tuple[Any, ...]:
            node = nodes[node_id]
            return (-VERDICT_RANK.get(node.verdict, 0), node.name.lower(), node_id)

    if parent_path:
        last = parent_path[-1]
        if not 0 <= last < len(nodes) or nodes[last].parent_ids != parent_path[:-1]:
            raise LookupError(f"parentPath {','.join(map(str, parent_path))} is not a path of this task's tree")
        level_one = sorted(nodes[last].children, key=order)
    else:
        level_one = [0] if nodes else []
    flat: list[TreeNode] = []
    stack = [(node_id, 1) for node_id in reversed(level_one)]
    while stack:
        node_id, level = stack.pop()
        node = nodes[node_id]
        flat.append(node)
        if level < max_tree_level:
            stack.extend((child, level + 1) for child in sorted(node.children, key=order, reverse=True))
    if filtered_ids is not None:
        flat = [node for node in flat if node.node_id in filtered_ids]
    page = flat[offset : offset + limit]
    return [node.wire() for node in page], offset + limit < len(flat)
