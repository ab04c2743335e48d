"""PT Sandbox emulator: task summary, artifact tree, node scans, filter values and the encrypted ZIPs."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from prefect_soar.safe_archive import list_members
from prefect_soar.simulators.ptsandbox_data import TaskRow

from .sim_helpers import SIM_NOW, example, make_app, open_zip, shape_mismatch, ui_client


@pytest.fixture(scope="module")
def app() -> Any:
    return make_app(task_count=200)


@pytest.fixture
async def ui(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async for client in ui_client(app):
        yield client


def pick(app: Any, **wanted: Any) -> TaskRow:
    """The first seeded task with these attributes (``entry_point`` compares the entry point type)."""
    for row in app.state.backend.seeded:
        values = {key: row.entry_point.type if key == "entry_point" else getattr(row, key) for key in wanted}
        if values == wanted:
            return row
    raise AssertionError(f"no seeded task with {wanted}")


async def tree(ui: httpx.AsyncClient, scan_id: str, **params: Any) -> dict[str, Any]:
    answer = await ui.get(f"/api/ui/v2/tasks/{scan_id}/tree", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def test_summary_shape_and_quarantine_events(app: Any, ui: httpx.AsyncClient) -> None:
    row = pick(app, entry_point="PUBLIC_API", sandbox=True)
    body = (await ui.get(f"/api/ui/v2/tasks/{row.id}/summary")).json()
    assert set(body) == {"task"}
    assert shape_mismatch(example("ui_task_summary.json"), body) is None
    assert body["task"]["id"] == row.id and body["task"]["entryPoint"]["quarantine"]["events"] == []
    blocked = pick(app, threat_level="DANGEROUS", object_type="EMAIL")
    quarantine = (await ui.get(f"/api/ui/v2/tasks/{blocked.id}/summary")).json()["task"]["entryPoint"]["quarantine"]
    assert quarantine["state"] == "QUARANTINED" and quarantine["events"][0]["type"] == "QUARANTINE"


async def test_unknown_and_malformed_task_ids(ui: httpx.AsyncClient) -> None:
    missing = await ui.get("/api/ui/v2/tasks/00000000-0000-4000-8000-000000000000/summary")
    assert missing.status_code == 404 and missing.json()["errors"][0]["type"] == "HTTPNotFound"
    for path in ("summary", "tree", "tree/download", "artifacts/0/scans"):
        answer = await ui.get(f"/api/ui/v2/tasks/not-a-uuid/{path}")
        assert answer.status_code == 400, path


async def test_tree_shape_matches_the_reference_example(app: Any, ui: httpx.AsyncClient) -> None:
    row = pick(app, object_type="FILE", threat_level="DANGEROUS", sandbox=True)
    body = await tree(ui, row.id)
    assert set(body) == {"children", "hasMore"} and body["hasMore"] is False
    assert shape_mismatch(example("ui_tree.json"), body) is None
    nodes = body["children"]
    root = nodes[0]
    assert root["nodeId"] == 0 and root["parentIds"] == [] and root["info"]["name"] == row.name
    assert root["correlation"]["threatLevel"] == "DANGEROUS" and root["scanArtifacts"]
    assert {o["type"] for o in root["networkObjects"]} == {"URL", "IP", "DOMAIN"}
    for node in nodes:
        children = [n for n in nodes if n["parentIds"] and n["parentIds"][-1] == node["nodeId"]]
        assert node["firstChildCount"] == len(children)
        for child in children:
            assert child["parentIds"] == [*node["parentIds"], node["nodeId"]]
    assert any(n["nodeType"] == "SANDBOX" and "sandboxInfo" in n for n in nodes)


async def test_tree_hashes_are_the_real_file_hashes(app: Any, ui: httpx.AsyncClient) -> None:
    row = pick(app, object_type="EMAIL", sandbox=True)
    nodes = (await tree(ui, row.id, maxTreeLevel=10))["children"]
    backend = app.state.backend
    for node in nodes:
        info = node["info"]
        if info["sha256"]:
            data = backend.find_blob(info["sha256"]).blob.read()
            assert hashlib.sha256(data).hexdigest() == info["sha256"] and len(data) == info["size"]
            assert hashlib.md5(data).hexdigest() == info["md5"] and hashlib.sha1(data).hexdigest() == info["sha1"]


async def test_tree_levels_parent_path_filters_sorting_and_paging(app: Any, ui: httpx.AsyncClient) -> None:
    row = pick(app, object_type="ARCHIVE", threat_level="DANGEROUS", sandbox=True)
    full = (await tree(ui, row.id, maxTreeLevel=10))["children"]
    assert len(full) >= 5
    only_root = (await tree(ui, row.id, maxTreeLevel=1))["children"]
    assert [n["nodeId"] for n in only_root] == [0]
    below_root = (await tree(ui, row.id, parentPath="0", maxTreeLevel=1))["children"]
    assert {n["nodeId"] for n in below_root} == {n["nodeId"] for n in full if n["parentIds"] == [0]}
    assert below_root[0]["correlation"]["threatLevel"] == "DANGEROUS"  # DANGEROUS sort mode puts it first
    alphabetical = (await tree(ui, row.id, parentPath="0", maxTreeLevel=1, sortMode="ALPHABETICAL"))["children"]
    names = [n["info"]["name"].lower() for n in alphabetical]
    assert names == sorted(names)
    deep = next(n for n in full if len(n["parentIds"]) == 2)
    path = ",".join(map(str, [*deep["parentIds"]]))
    sub = (await tree(ui, row.id, parentPath=path, maxTreeLevel=5))["children"]
    assert deep["nodeId"] in {n["nodeId"] for n in sub}
    filtered = (await tree(ui, row.id, maxTreeLevel=10, filteredByIds="0,2"))["children"]
    assert [n["nodeId"] for n in filtered] == [0, 2]
    first = await tree(ui, row.id, maxTreeLevel=10, limit=2)
    rest = await tree(ui, row.id, maxTreeLevel=10, limit=1000, offset=2)
    assert first["hasMore"] is True and rest["hasMore"] is False
    assert [n["nodeId"] for n in first["children"] + rest["children"]] == [n["nodeId"] for n in full]
    bad_path = await ui.get(f"/api/ui/v2/tasks/{row.id}/tree", params={"parentPath": "0,99"})
    assert bad_path.status_code == 404
    for params in ({"sortMode": "NEWEST"}, {"parentPath": "a,b"}, {"maxTreeLevel": 0}, {"limit": "x"}):
        assert (await ui.get(f"/api/ui/v2/tasks/{row.id}/tree", params=params)).status_code == 400, params


async def test_node_scans_shape(app: Any, ui: httpx.AsyncClient) -> None:
    row = pick(app, threat_level="UNKNOWN")
    scans = await ui.get(f"/api/ui/v2/tasks/{row.id}/artifacts/0/scans")
    body = scans.json()
    assert scans.status_code == 200 and shape_mismatch(example("ui_scans.json"), body) is None
    assert any(scan["engine"]["errors"] for scan in body["scans"])  # the UNKNOWN verdict comes from an engine error
    assert (await ui.get(f"/api/ui/v2/tasks/{row.id}/artifacts/999/scans")).status_code == 404
    assert (await ui.get(f"/api/ui/v2/tasks/{row.id}/artifacts/x/scans")).status_code == 400


async def test_filter_values(app: Any, ui: httpx.AsyncClient) -> None:
    body = (await ui.get("/api/ui/v2/tasks/filter-values")).json()
    assert shape_mismatch(example("ui_filter_values.json"), body) is None
    assert len(body["entryPoints"]) == 8 and "PHISHING" in body["threatClassifications"]
    assert "HAS_MACROS" in body["properties"] and "phishing" in body["categories"]
    row = pick(app, object_type="FILE", threat_level="DANGEROUS")
    one = (await ui.get("/api/ui/v2/tasks/filter-values", params={"scanId": row.id})).json()
    entry_point = row.entry_point
    assert one["entryPoints"] == [{"name": entry_point.name, "id": entry_point.id, "type": entry_point.type}]
    assert one["threatClassifications"] == [row.threat_classification]
    future = (await ui.get("/api/ui/v2/tasks/filter-values", params={"from": "2025-03-15T00:00:00Z"})).json()
    assert future == {"entryPoints": [], "threatClassifications": [], "properties": [], "categories": []}
    window = (await ui.get("/api/ui/v2/artifacts/filter-values", params={
        "from": str(SIM_NOW.timestamp() - 86400), "to": SIM_NOW.isoformat()})).json()
    assert 0 < len(window["entryPoints"]) <= 8
    assert (await ui.get("/api/ui/v2/tasks/filter-values", params={"from": "last week"})).status_code == 400


async def test_task_archive_is_aes_encrypted_with_infected(app: Any, ui: httpx.AsyncClient, tmp_path: Path) -> None:
    row = pick(app, object_type="FILE", threat_level="DANGEROUS", sandbox=True)
    nodes = (await tree(ui, row.id, maxTreeLevel=10))["children"]
    answer = await ui.get(f"/api/ui/v2/tasks/{row.id}/tree/download")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    with pytest.raises((NotImplementedError, RuntimeError)):  # stdlib zipfile cannot read WinZip AES
        zipfile.ZipFile(io.BytesIO(answer.content)).read(zipfile.ZipFile(io.BytesIO(answer.content)).namelist()[0])
    archive = open_zip(answer.content)
    names = archive.namelist()
    assert f"files/000_{row.name}" in names and any(n.startswith("sandbox_logs/000/") for n in names)
    first = archive.getinfo(names[0])
    assert first.flag_bits & 0x1 and first.wz_aes_strength == 3  # encrypted, WinZip AES-256
    assert hashlib.sha256(archive.read(f"files/000_{row.name}")).hexdigest() == nodes[0]["info"]["sha256"]
    with pytest.raises(RuntimeError, match="Bad password"):
        open_zip(answer.content, b"wrong").read(names[0])
    # the package's own safe reader agrees
    path = tmp_path / "task.zip"
    path.write_bytes(answer.content)
    hashes = {m.name: m.sha256 for m in list_members(path)}
    expected_logs = {f"sandbox_logs/000/{a['name']}": a["sha256"] for a in nodes[0]["scanArtifacts"]}
    assert expected_logs.items() <= hashes.items()


async def test_task_archive_options(app: Any, ui: httpx.AsyncClient) -> None:
    row = pick(app, object_type="FILE", threat_level="DANGEROUS", sandbox=True)
    url = f"/api/ui/v2/tasks/{row.id}/tree/download"
    no_logs = open_zip((await ui.get(url, params={"includeSandboxLogs": "false"})).content).namelist()
    assert no_logs and not any(n.startswith("sandbox_logs/") for n in no_logs)
    logs_only = open_zip((await ui.get(url, params={"skipDataFiles": "true"})).content).namelist()
    assert logs_only and all(n.startswith("sandbox_logs/") for n in logs_only)
    dangerous = open_zip((await ui.get(url, params={"query": "verdict = DANGEROUS AND nodeType = ARTIFACT",
                                                    "includeSandboxLogs": "false"})).content).namelist()
    assert f"files/000_{row.name}" in dangerous and not any("proc_" in n for n in dangerous)
    for params in ({"skipDataFiles": "yes"}, {"includeSandboxLogs": "True"}, {"query": "verdict ="}):
        answer = await ui.get(url, params=params)
        assert answer.status_code == 400 and answer.json()["errors"][0]["type"] == "HTTPBadRequest"


async def test_padding_member_is_streamed_from_a_cached_file() -> None:
    padded = make_app(task_count=5, archive_padding_bytes=3 * 1024 * 1024)
    async for client in ui_client(padded):
        row = padded.state.backend.seeded[0]
        first = await client.get(f"/api/ui/v2/tasks/{row.id}/tree/download")
        second = await client.get(f"/api/ui/v2/tasks/{row.id}/tree/download")
    assert first.content == second.content  # AES salts are random: equal bytes mean one cached file
    archive = open_zip(first.content)
    info = archive.getinfo("padding.bin")
    assert info.file_size == 3 * 1024 * 1024 and info.compress_size > info.file_size  # stored, incompressible
    assert len(first.content) > 3 * 1024 * 1024
    assert len(list(padded.state.backend.archives.folder.iterdir())) == 1
    padded.state.backend.archives.close()
    assert not padded.state.backend.archives.folder.exists()


async def test_storage_download_leaves_out_missing_hashes(app: Any, ui: httpx.AsyncClient) -> None:
    row = pick(app, object_type="FILE", sandbox=True)
    root = (await tree(ui, row.id))["children"][0]
    log = root["scanArtifacts"][0]
    items = [{"sha256": root["info"]["sha256"], "name": "sample.bin"}, {"sha256": log["sha256"]},
             {"sha256": "0" * 64, "name": "missing.exe"}]
    answer = await ui.get("/api/ui/storage/download", params={"items": json.dumps(items, separators=(",", ":"))})
    assert answer.status_code == 200
    archive = open_zip(answer.content)
    assert sorted(archive.namelist()) == sorted(["sample.bin", log["sha256"]])
    assert hashlib.sha256(archive.read("sample.bin")).hexdigest() == root["info"]["sha256"]
    none = await ui.get("/api/ui/storage/download", params={"items": json.dumps([{"sha256": "1" * 64}])})
    assert none.status_code == 404 and none.json()["errors"][0]["type"] == "HTTPNotFound"
    for items_param in ("not json", "[]", '[{"sha256": "abc"}]', '{"sha256": "x"}'):
        bad = await ui.get("/api/ui/storage/download", params={"items": items_param})
        assert bad.status_code == 400, items_param


async def test_storage_download_finds_hashes_of_trees_never_listed() -> None:
    fresh = make_app(task_count=30)
    twin = make_app(task_count=30)  # same seed: same bytes, so the same hashes
    row = twin.state.backend.seeded[3]
    sha256 = twin.state.backend.tree(row)[0].sha256
    async for client in ui_client(fresh):
        answer = await client.get("/api/ui/storage/download", params={"items": json.dumps([{"sha256": sha256}])})
    assert answer.status_code == 200 and open_zip(answer.content).namelist() == [sha256]
