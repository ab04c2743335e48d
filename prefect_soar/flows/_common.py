"""Pieces every composed flow shares: loading blocks by name, events, summary artifacts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.events import emit_event

from prefect_soar.blocks._base import ServiceCredentials
from prefect_soar.errors import BadInputError

BlockT = TypeVar("BlockT", bound=ServiceCredentials)


async def load_block(cls: type[BlockT], name: str) -> BlockT:
    """Load a saved credentials block by name, with a clear error when it does not exist.

    Args:
        cls: The block class.
        name: The saved block document's name.
    """
    try:
        return await cls.aload(name)
    except ValueError as exc:
        slug = cls.get_block_type_slug()
        raise BadInputError(
            f"no saved {cls.__name__} block named {name!r}",
            service="prefect",
            hint=f"Create it in the Prefect UI (Blocks > {cls._block_type_name}) or with "
            f"{cls.__name__}(...).save({name!r}); list saved ones with `prefect block ls` ({slug})",
        ) from exc


def emit(
    event: str,
    resource_id: str,
    *,
    name: str | None = None,
    related: Sequence[tuple[str, str]] = (),
    payload: Mapping[str, Any] | None = None,
) -> None:
    """Emit a Prefect event about one external object.

    Args:
        event: Event name, e.g. ``prefect-soar.sandbox.detection``.
        resource_id: The object's resource id, e.g. ``ptsandbox.task.<uuid>``.
        name: A readable name for the resource.
        related: ``(resource id, role)`` pairs of related objects.
        payload: JSON-able details (never secrets).
    """
    resource = {"prefect.resource.id": resource_id}
    if name:
        resource["prefect.resource.name"] = name[:200]
    emit_event(
        event=event,
        resource=resource,
        related=[{"prefect.resource.id": rid, "prefect.resource.role": role} for rid, role in related],
        payload=dict(payload or {}),
    )


async def publish_summary(
    key: str, rows: list[dict[str, Any]], markdown: str, *, description: str
) -> None:
    """Publish a run's table artifact (one row per item) and its markdown summary.

    Args:
        key: Artifact key prefix (lowercase letters, digits and dashes).
        rows: Table rows.
        markdown: The summary (not indented).
        description: What the artifacts show.
    """
    await acreate_table_artifact(table=rows or [{"result": "nothing to do"}], key=key, description=description)
    await acreate_markdown_artifact(markdown=markdown, key=f"{key}-summary", description=description)


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """Render rows as a Markdown table with the given columns."""
    if not rows:
        return "_none_\n"
    head = "| " + " | ".join(columns) + " |\n| " + " | ".join("---" for _ in columns) + " |\n"
    body = "".join(
        "| " + " | ".join(str(row.get(c, "")).replace("|", "\\|") for c in columns) + " |\n" for row in rows
    )
    return head + body
