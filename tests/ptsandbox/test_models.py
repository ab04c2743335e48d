"""The models: the reference example bodies round-trip; enums are soft; times parse either way."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from prefect_soar.models.ptsandbox import (
    APITasksPage,
    Envelope,
    FilterValues,
    Report,
    ScanCreated,
    ScansResponse,
    ScanState,
    Task,
    TasksPage,
    TaskStatus,
    TaskSummary,
    TreeResponse,
    UploadedFile,
    Verdict,
)
from prefect_soar.models.ptsandbox_ui import AuthorizeData, TokenData

EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "examples" / "ptsandbox"

UNWRAPPED: dict[str, type[BaseModel]] = {
    "ui_tasks.json": TasksPage,
    "ui_task_summary.json": TaskSummary,
    "ui_tree.json": TreeResponse,
    "ui_scans.json": ScansResponse,
    "ui_filter_values.json": FilterValues,
    "api_list_tasks.json": APITasksPage,
}
ENVELOPED: dict[str, type[BaseModel]] = {
    "api_check_task.json": TaskStatus,
    "api_create_scan_async.json": ScanCreated,
    "api_report.json": Report,
    "api_upload.json": UploadedFile,
    "ui_auth_authorize.json": AuthorizeData,
    "ui_auth_token.json": TokenData,
}


def example(name: str) -> Any:
    path = EXAMPLES / name
    if not path.is_file():
        pytest.skip(f"reference example {path} is absent (the ../shared folder is not checked out next to the repo)")
    return json.loads(path.read_text())


def same_json(left: Any, right: Any, where: str = "$") -> None:
    """Deep equality where datetimes may differ in spelling only (``...33.512Z`` vs ``...33.512000Z``)."""
    if isinstance(left, dict) and isinstance(right, dict):
        assert left.keys() == right.keys(), f"{where}: keys {sorted(left.keys() ^ right.keys())}"
        for key in left:
            same_json(left[key], right[key], f"{where}.{key}")
    elif isinstance(left, list) and isinstance(right, list):
        assert len(left) == len(right), where
        for index, (a, b) in enumerate(zip(left, right, strict=True)):
            same_json(a, b, f"{where}[{index}]")
    elif isinstance(left, str) and isinstance(right, str) and left != right:
        parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
        assert parse(left) == parse(right), f"{where}: {left!r} != {right!r}"
    else:
        assert left == right, f"{where}: {left!r} != {right!r}"


@pytest.mark.parametrize("name", sorted(UNWRAPPED))
def test_unwrapped_examples_round_trip(name):
    raw = example(name)
    model = UNWRAPPED[name].model_validate(raw)
    dumped = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    same_json(dumped, raw)
    assert UNWRAPPED[name].model_validate(dumped) == model


@pytest.mark.parametrize("name", sorted(ENVELOPED))
def test_enveloped_examples_round_trip(name):
    raw = example(name)
    envelope = Envelope.model_validate(raw)
    assert envelope.errors == []
    model = ENVELOPED[name].model_validate(envelope.data)
    same_json(model.model_dump(mode="json", by_alias=True, exclude_unset=True), raw["data"])


def test_examples_parse_to_meaningful_values():
    tasks = TasksPage.model_validate(example("ui_tasks.json"))
    assert tasks.tasks[0].verdict is Verdict.DANGEROUS
    assert tasks.tasks[0].entry_point is not None and tasks.tasks[0].entry_point.public_api is not None
    assert tasks.tasks[1].entry_point is not None and tasks.tasks[1].entry_point.web is not None
    report = Report.model_validate(example("api_report.json")["data"])
    assert report.is_long and report.verdict == "DANGEROUS"
    sandbox = report.artifacts[0].engine_results[1].details.sandbox  # type: ignore[index,union-attr]
    assert sandbox is not None and sandbox.image is not None and sandbox.image.image_id == "win10-1803-x64"
    tree = TreeResponse.model_validate(example("ui_tree.json"))
    assert tree.children[1].sandbox_info is not None
    assert tree.children[1].sandbox_info.suspicious_behaviors[0].mitre_threat_id == "T1059.001"


def test_unknown_enum_values_are_kept_not_rejected():
    page = TasksPage.model_validate(
        {"tasks": [{"id": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "objectType": "HOLOGRAM",
                    "correlation": {"state": "QUANTUM", "threatLevel": "SPICY", "threatClassification": "NEW_THING"}}]}
    )
    task = page.tasks[0]
    assert task.object_type == "HOLOGRAM" and task.verdict == "SPICY"
    assert task.correlation is not None and task.correlation.state == "QUANTUM"
    known = TasksPage.model_validate({"tasks": [{"id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
                                                 "correlation": {"state": "FULL"}}]})
    assert known.tasks[0].correlation is not None and known.tasks[0].correlation.state is ScanState.FULL


@pytest.mark.parametrize(
    "start",
    [1741947693.512, "2025-03-14T10:21:33.512Z", "2025-03-14T10:21:33.512+00:00", 1741947693512],
    ids=["epoch-seconds", "iso-z", "iso-offset", "epoch-millis"],
)
def test_task_start_accepts_iso_or_epoch(start):
    task = Task.model_validate({"id": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "start": start})
    assert task.start == datetime(2025, 3, 14, 10, 21, 33, 512000, tzinfo=UTC)


def test_models_accept_field_names_and_missing_optional_lists():
    task = Task.model_validate({"id": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "object_type": "URL"})
    assert task.object_type == "URL" and task.correlation is None
    assert TreeResponse.model_validate({}).children == []
    assert FilterValues.model_validate({}).entry_points == []
