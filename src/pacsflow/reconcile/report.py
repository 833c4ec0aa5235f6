"""The differences between the archive and the legacy database, as CSV, for review.

One row per finding, so a department can sort and filter it in a spreadsheet before
anything is sent:

``change``           an attribute whose header value differs from the database's
``verdict``          an instance with a verdict (orphan, stale, conflict, excluded)
``stale_file``       a copy on disk the database no longer points at
``missing_on_disk``  a database instance with no file on disk

The file holds patient names and IDs as the ledger does: keep it where patient data
may be kept.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, case, func, select

from pacsflow.ledger.legacy import missing_on_disk_query
from pacsflow.ledger.schema import changes, files, instances, legacy_instances
from pacsflow.outcomes import Verdict

COLUMNS = (
    "kind",
    "sop_instance_uid",
    "study_instance_uid",
    "attribute",
    "header_value",
    "database_value",
    "verdict",
    "outcome",
    "source",
    "path",
)


def write_report(connection: Connection, path: str | os.PathLike[str]) -> int:
    """Write every finding to a CSV file; return how many rows it has.

    Parameters
    ----------
    connection : Connection
        The ledger, reconciled.
    path : str or os.PathLike
        The CSV file to (over)write.
    """
    count = 0
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, COLUMNS)
        writer.writeheader()
        for row in findings(connection):
            writer.writerow(row)
            count += 1
    return count


def findings(connection: Connection) -> Iterator[dict[str, Any]]:
    """Every finding as a row of :data:`COLUMNS`."""
    yield from _changes(connection)
    yield from _verdicts(connection)
    yield from _stale_files(connection)
    for uid, study in connection.execute(missing_on_disk_query()):
        yield _row("missing_on_disk", uid, study)


def _row(kind: str, uid: str, study: str | None, **values: Any) -> dict[str, Any]:
    """A report row with blanks where nothing applies."""
    return {
        **dict.fromkeys(COLUMNS, ""),
        "kind": kind,
        "sop_instance_uid": uid,
        "study_instance_uid": study or "",
        **values,
    }


def _instance_view() -> Any:
    """Instances with their primary file and reconciled study, as a join."""
    return instances.outerjoin(files, files.c.id == instances.c.file_id).outerjoin(
        legacy_instances,
        legacy_instances.c.sop_instance_uid == instances.c.sop_instance_uid,
    )


_STUDY = func.coalesce(
    legacy_instances.c.study_instance_uid, files.c.study_instance_uid
).label("study")


def _changes(connection: Connection) -> Iterator[dict[str, Any]]:
    """One row per attribute changed."""
    query = (
        select(changes, _STUDY, instances.c.outcome, files.c.source, _path())
        .select_from(
            changes.join(
                _instance_view(),
                instances.c.sop_instance_uid == changes.c.sop_instance_uid,
            )
        )
        .order_by(_STUDY, changes.c.sop_instance_uid, changes.c.attribute)
    )
    for row in connection.execute(query):
        yield _row(
            "change",
            row.sop_instance_uid,
            row.study,
            attribute=row.attribute,
            header_value=row.old_value,
            database_value=row.new_value,
            outcome=row.outcome,
            source=row.source,
            path=row.path,
        )


def _verdicts(connection: Connection) -> Iterator[dict[str, Any]]:
    """One row per instance with a verdict."""
    query = (
        select(
            instances.c.sop_instance_uid,
            instances.c.verdict,
            instances.c.outcome,
            _STUDY,
            files.c.source,
            _path(),
        )
        .select_from(_instance_view())
        .where(instances.c.verdict.is_not(None))
        .order_by(instances.c.verdict, _STUDY, instances.c.sop_instance_uid)
    )
    for row in connection.execute(query):
        yield _row(
            "verdict",
            row.sop_instance_uid,
            row.study,
            verdict=row.verdict,
            outcome=row.outcome,
            source=row.source,
            path=row.path,
        )


def _stale_files(connection: Connection) -> Iterator[dict[str, Any]]:
    """One row per stale copy on disk."""
    query = (
        select(
            files.c.sop_instance_uid,
            files.c.study_instance_uid,
            files.c.source,
            _path(),
        )
        .where(files.c.verdict == Verdict.STALE_FILE.value)
        .order_by(files.c.source, files.c.folder, files.c.name)
    )
    for row in connection.execute(query):
        yield _row(
            "stale_file",
            row.sop_instance_uid,
            row.study_instance_uid,
            verdict=Verdict.STALE_FILE.value,
            source=row.source,
            path=row.path,
        )


def _path() -> Any:
    """A file's path inside its source, as one column."""
    joined = files.c.folder + "/" + files.c.name
    return case((files.c.folder == "", files.c.name), else_=joined).label("path")
