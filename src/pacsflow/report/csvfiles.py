"""Every instance's outcome, and every unreadable file, as CSV for spreadsheets.

``instances.csv`` has one row per row of the ``instances`` table, in SOP Instance UID
order, read in batches of :data:`BATCH` rows through a streaming cursor, so a ledger
of millions of instances is written in bounded memory. The study is the reconciled
one (the legacy database's, else the header's), as the instance was sent.

No patient name, ID or birth date is selected. The path of a file is written as the
source holds it; in an archive whose folders are named after patients, the path is
patient data.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from pacsflow.ledger.legacy import reconciled_study
from pacsflow.ledger.schema import files, instances, legacy_instances
from pacsflow.outcomes import FileState

BATCH = 5000
"""Rows fetched from the database at a time."""

INSTANCE_COLUMNS = (
    "sop_instance_uid",
    "study_instance_uid",
    "series_instance_uid",
    "sop_class_uid",
    "transfer_syntax",
    "source",
    "path",
    "outcome",
    "reason",
    "detail",
    "route",
    "destination",
    "status",
    "attempts",
    "verification",
    "updated_at",
)
"""The columns of ``instances.csv``, in order."""

UNREADABLE_COLUMNS = ("source", "path", "reason")
"""The columns of ``unreadable.csv``, in order."""


def write_instances(connection: Connection, target: Path) -> int:
    """Write ``instances.csv``; return how many instances it lists.

    Parameters
    ----------
    connection : Connection
        The ledger.
    target : Path
        The CSV file to (over)write.
    """
    return _write(target, INSTANCE_COLUMNS, _instance_rows(connection))


def write_unreadable(connection: Connection, target: Path) -> int:
    """Write ``unreadable.csv``: every unreadable file and why; return how many.

    Parameters
    ----------
    connection : Connection
        The ledger.
    target : Path
        The CSV file to (over)write.
    """
    query = (
        select(files.c.source, _path(), files.c.reason)
        .where(files.c.state == FileState.UNREADABLE.value)
        .order_by(files.c.source, files.c.folder, files.c.name)
        .execution_options(yield_per=BATCH)
    )
    rows = (
        [source, path, reason or ""]
        for source, path, reason in _stream(connection, query)
    )
    return _write(target, UNREADABLE_COLUMNS, rows)


def _instance_rows(connection: Connection) -> Iterator[list[str]]:
    """One CSV row per instance, streamed."""
    query = (
        select(
            instances.c.sop_instance_uid,
            reconciled_study(),
            files.c.series_instance_uid,
            files.c.sop_class_uid,
            files.c.transfer_syntax,
            files.c.source,
            _path(),
            instances.c.outcome,
            instances.c.reason,
            instances.c.detail,
            instances.c.route,
            instances.c.destination,
            instances.c.status,
            instances.c.attempts,
            instances.c.verification,
            instances.c.updated_at,
        )
        .select_from(
            instances.outerjoin(files, files.c.id == instances.c.file_id).outerjoin(
                legacy_instances,
                legacy_instances.c.sop_instance_uid == instances.c.sop_instance_uid,
            )
        )
        .order_by(instances.c.sop_instance_uid)
        .execution_options(yield_per=BATCH)
    )
    for row in _stream(connection, query):
        *text, status, tries, verification, updated_at = row
        yield [
            *(value or "" for value in text),
            f"0x{status:04X}" if status is not None else "",
            str(tries),
            verification or "",
            _timestamp(updated_at),
        ]


def _stream(connection: Connection, query: Any) -> Iterator[Any]:
    """The rows of ``query``, fetched a batch at a time."""
    result = connection.execute(query)
    try:
        for partition in result.partitions():
            yield from partition
    finally:
        result.close()


def _path() -> Any:
    """A file's folder and name, joined by a slash (the name alone at the root)."""
    return func.coalesce(
        func.nullif(files.c.folder, "") + "/" + files.c.name, files.c.name
    ).label("path")


def _timestamp(moment: datetime | None) -> str:
    """A ledger timestamp in ISO 8601, UTC (SQLite gives it naive)."""
    if moment is None:
        return ""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return aware.astimezone(UTC).isoformat(timespec="milliseconds")


def _write(target: Path, columns: tuple[str, ...], rows: Iterator[list[str]]) -> int:
    """Write a header and ``rows`` to ``target``; return how many rows."""
    count = 0
    with target.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count
