"""TileDB SQL report: run a SQL query on TileDB Cloud, wait for its stored result, publish it as a table.

The query runs with ``store_results`` and ``dont_download_results``: TileDB keeps the result
server-side (up to 24 hours) and the flow waits for it with ``GET /task/{id}/result`` (202 while
running), within ``timeout_seconds``, so the rows cross the network once. The rows become a
table artifact (the first ``max_rows_shown``), with a Markdown summary that says when the table
was cut.
"""

from __future__ import annotations

import re
from typing import Any

from prefect import flow, get_run_logger, task
from pydantic import BaseModel, Field

from prefect_soar.blocks.tiledb import TileDBCredentials
from prefect_soar.errors import BadInputError, InvalidResponseError, NotFoundError
from prefect_soar.flows._common import load_block, markdown_table, publish_summary
from prefect_soar.models.tiledb import SQLParameters

DEFAULT_SQL = "SELECT 1 AS ok"
PREVIEW_ROWS = 20
MAX_CELL = 500
_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")


class SQLReport(BaseModel):
    """What the query returned."""

    task_id: str = Field(description="The TileDB task id of the query.")
    namespace: str = Field(description="The namespace it ran under.")
    rows: list[dict[str, Any]] = Field(default_factory=list, description="The result rows.")
    stored: bool = Field(default=True, description="False when the statement produced no result set.")


@task(name="tiledb-sql-report-query", description="Run a SQL query with a stored result and wait for it.", retries=0)
async def run_and_wait(
    credentials: TileDBCredentials,
    sql: str,
    namespace: str,
    parameters: list[Any] | None,
    task_name: str | None,
    timeout_seconds: float,
) -> SQLReport:
    """Run the query (``POST /sql/{namespace}``, result stored, not downloaded) and wait for its result.

    Never retried: a repeat would run the query twice.

    Args:
        credentials: The TileDB Cloud block.
        sql: The SQL text.
        namespace: The namespace to run under.
        parameters: Values for ``?`` placeholders.
        task_name: Task name shown in TileDB Cloud.
        timeout_seconds: Seconds to wait for the stored result.

    Returns:
        The task id and the rows.
    """
    params = SQLParameters(
        name=task_name, query=sql, parameters=parameters or None, result_format="json",
        store_results=True, dont_download_results=True,
    )
    async with credentials.get_client() as client:
        answer = await client.run_sql(namespace, params)
        if not answer.task_id:
            raise InvalidResponseError(
                "TileDB answered the SQL call without a task id (X-TILEDB-CLOUD-TASK-ID), so its result "
                "cannot be fetched", service="tiledb", method="POST", url=f"/sql/{namespace}",
            )
        try:
            result = await client.wait_for_result(answer.task_id, timeout=timeout_seconds)
        except NotFoundError:
            found = await client.task_id_get(answer.task_id)
            if not found.succeeded:
                raise
            get_run_logger().info("TileDB task %s completed without a result set", answer.task_id)
            return SQLReport(task_id=answer.task_id, namespace=namespace, stored=False)
    rows = result.rows
    if rows is None:
        raise InvalidResponseError(
            f"the stored result of TileDB task {answer.task_id} is not a JSON array of rows "
            f"({result.content_type or 'no content type'})", service="tiledb", method="GET",
            url=f"/task/{answer.task_id}/result",
        )
    get_run_logger().info("TileDB task %s returned %d row(s)", answer.task_id, len(rows))
    return SQLReport(task_id=answer.task_id, namespace=namespace, rows=rows)


def columns_of(rows: list[dict[str, Any]]) -> list[str]:
    """Column names in first-seen order across the rows."""
    return list(dict.fromkeys(key for row in rows for key in row))


def _cell(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_CELL:
        return value[: MAX_CELL - 1] + "…"
    return value


def report_markdown(report: SQLReport, sql: str, shown: int) -> str:
    """The run's summary: the query, where it ran, how many rows, a preview, and any truncation."""
    total = len(report.rows)
    columns = columns_of(report.rows)
    fence = "~~~~" if "```" in sql else "```"
    lines = [
        "# TileDB SQL report",
        "",
        f"{fence}sql", sql.strip(), fence,
        "",
        f"- namespace: `{report.namespace}`",
        f"- TileDB task: `{report.task_id}`",
        f"- rows: **{total}**" + (f", columns: {', '.join(columns)}" if columns else ""),
    ]
    if not report.stored:
        lines.append("- the statement produced no result set")
    if shown < total:
        lines.append(
            f"- **the table artifact shows the first {shown} of {total} rows** (raise max_rows_shown to see more)"
        )
    if report.rows:
        preview = [{c: _cell(row.get(c)) for c in columns} for row in report.rows[:PREVIEW_ROWS]]
        lines += ["", f"## First {len(preview)} row(s)", "", markdown_table(preview, columns).rstrip()]
    return "\n".join(lines) + "\n"


@flow(name="tiledb-sql-report")
async def tiledb_sql_report(
    sql: str = DEFAULT_SQL,
    tiledb_block: str = "tiledb",
    namespace: str | None = None,
    parameters: list[str | int | float | bool | None] | None = None,
    timeout_seconds: float = 900.0,
    max_rows_shown: int = 500,
    report_key: str = "tiledb-sql-report",
    task_name: str | None = "prefect-soar-report",
) -> dict[str, Any]:
    """Run a SQL query on TileDB Cloud, wait for its result and publish the rows as a table artifact.

    Args:
        sql: The SQL query; ? placeholders take the parameters.
        tiledb_block: Name of the saved TileDB Cloud credentials block.
        namespace: Namespace (organization or user) to run under; empty uses the block's namespace.
        parameters: Values for the ? placeholders, in order.
        timeout_seconds: Seconds to wait for the query's result before failing.
        max_rows_shown: Most rows put in the table artifact; the summary says when the table is cut.
        report_key: Artifact key of the report (lowercase letters, digits and dashes).
        task_name: Task name shown in TileDB Cloud.

    Returns:
        The TileDB task id, the namespace, the row and column counts and whether the table was cut.
    """
    if not sql or not sql.strip():
        raise BadInputError("the SQL query is empty", service="tiledb")
    if not _KEY.match(report_key):
        raise BadInputError(
            f"report_key {report_key!r} must be lowercase letters, digits and dashes (at most 100)", service="tiledb"
        )
    if isinstance(max_rows_shown, bool) or max_rows_shown < 1:
        raise BadInputError(f"max_rows_shown must be at least 1, got {max_rows_shown!r}", service="tiledb")
    if not timeout_seconds > 0:
        raise BadInputError(f"timeout_seconds must be positive, got {timeout_seconds!r}", service="tiledb")
    credentials = await load_block(TileDBCredentials, tiledb_block)
    chosen = namespace or credentials.namespace
    if not chosen:
        raise BadInputError(
            "no namespace: pass one, or set the namespace of the TileDB credentials block", service="tiledb"
        )
    report = await run_and_wait(credentials, sql, chosen, list(parameters or []), task_name, timeout_seconds)
    shown = min(len(report.rows), max_rows_shown)
    columns = columns_of(report.rows)
    table = [{c: row.get(c) for c in columns} for row in report.rows[:shown]]
    await publish_summary(
        report_key, table, report_markdown(report, sql, shown),
        description=f"TileDB SQL report ({len(report.rows)} rows, task {report.task_id})",
    )
    return {
        "task_id": report.task_id,
        "namespace": report.namespace,
        "rows": len(report.rows),
        "columns": columns,
        "rows_shown": shown,
        "truncated": shown < len(report.rows),
        "artifact_key": report_key,
    }


__all__ = ["SQLReport", "run_and_wait", "tiledb_sql_report"]
