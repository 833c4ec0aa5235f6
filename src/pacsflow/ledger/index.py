"""What the scanner writes to the ledger, and the set-wise decisions made after a scan.

The scanner is the ledger's only writer while it runs. Per folder it asks what the
ledger already knows (:func:`known_files`), writes what it read in batches
(:func:`write_files`), and at the end derives the instances from the files
(:func:`add_new_instances`, :func:`instances_to_refresh`, :func:`refresh_instance`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    DateTime,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)

from pacsflow.ledger.schema import files, instances, scans
from pacsflow.outcomes import Duplicate, FileState, Outcome

HEADER_COLUMNS = (
    "sop_instance_uid",
    "sop_class_uid",
    "study_instance_uid",
    "series_instance_uid",
    "transfer_syntax",
    "pixel_data",
    "modality",
    "study_date",
    "series_number",
    "instance_number",
)
"""The ``files`` columns filled from a readable file's header."""


@dataclass(frozen=True, slots=True)
class KnownFile:
    """What the ledger holds of one file, enough to tell whether it changed."""

    id: int
    size: int
    mtime_ns: int
    state: str


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One file as the scanner found it, ready for the ledger.

    ``header`` maps :data:`HEADER_COLUMNS` to values for a readable file and is empty
    for an unreadable one, whose ``reason`` says why. ``known_id`` is the ledger row of
    a file seen by an earlier scan.
    """

    source: str
    folder: str
    name: str
    size: int
    mtime_ns: int
    state: FileState
    reason: str | None
    header: dict[str, Any]
    known_id: int | None = None


def now() -> datetime:
    """The current time, timezone-aware, as the ledger stores it."""
    return datetime.now(UTC)


def begin_scan(connection: Connection) -> int:
    """Record the start of a scan and return its id."""
    result = connection.execute(
        insert(scans).values(started_at=now(), files_seen=0, files_read=0, unreadable=0)
    )
    key = result.inserted_primary_key
    assert key is not None  # an insert always has one
    return int(key[0])


def finish_scan(
    connection: Connection, scan_id: int, *, seen: int, read: int, unreadable: int
) -> None:
    """Record the end of a scan and its counts."""
    connection.execute(
        update(scans)
        .where(scans.c.id == scan_id)
        .values(
            finished_at=now(), files_seen=seen, files_read=read, unreadable=unreadable
        )
    )


def has_files(connection: Connection, source: str) -> bool:
    """Whether the ledger holds any file of ``source`` (false before its first scan)."""
    query = select(files.c.id).where(files.c.source == source).limit(1)
    return connection.execute(query).first() is not None


def known_files(
    connection: Connection, source: str, folder: str
) -> dict[str, KnownFile]:
    """The files the ledger holds for one folder of a source, by name."""
    rows = connection.execute(
        select(
            files.c.name, files.c.id, files.c.size, files.c.mtime_ns, files.c.state
        ).where(files.c.source == source, files.c.folder == folder)
    )
    return {
        row.name: KnownFile(row.id, row.size, row.mtime_ns, row.state) for row in rows
    }


def write_files(
    connection: Connection, scan_id: int, records: Sequence[FileRecord]
) -> None:
    """Insert new files and update changed ones, in one round trip each."""
    new = [_row(scan_id, r) for r in records if r.known_id is None]
    changed = [
        {"_id": r.known_id, **_row(scan_id, r)}
        for r in records
        if r.known_id is not None
    ]
    if new:
        connection.execute(insert(files), new)
    if changed:
        values: dict[str, Any] = {k: bindparam(k) for k in changed[0] if k != "_id"}
        connection.execute(
            update(files).where(files.c.id == bindparam("_id")).values(values), changed
        )


def _row(scan_id: int, record: FileRecord) -> dict[str, Any]:
    """The ``files`` row of a record; header columns are None when unreadable."""
    row: dict[str, Any] = {
        "source": record.source,
        "folder": record.folder,
        "name": record.name,
        "size": record.size,
        "mtime_ns": record.mtime_ns,
        "state": record.state.value,
        "reason": record.reason,
        "scan_id": scan_id,
        "content_hash": None,
    }
    for column in HEADER_COLUMNS:
        row[column] = record.header.get(column)
    attributes = record.header.get("attributes")
    row["attributes"] = json.dumps(dict(attributes)) if attributes else None
    return row


def mark_vanished(connection: Connection, scan_id: int, ids: Iterable[int]) -> None:
    """Mark files that an earlier scan indexed and this one did not find."""
    id_list = list(ids)
    if id_list:
        connection.execute(
            update(files)
            .where(files.c.id.in_(id_list))
            .values(state=FileState.VANISHED.value, scan_id=scan_id)
        )


def add_new_instances(connection: Connection) -> int:
    """Create a pending instance for every indexed UID that has none yet.

    Set-wise over the whole ledger, so a scan that crashed between writing files and
    reaching this point is made whole by the next one.
    """
    has_instance = exists().where(
        instances.c.sop_instance_uid == files.c.sop_instance_uid
    )
    query = (
        select(
            files.c.sop_instance_uid,
            func.min(files.c.id),
            func.count(),
            literal(Duplicate.NONE.value),
            literal(Outcome.PENDING.value),
            literal(now(), DateTime(timezone=True)),
        )
        .where(files.c.state == FileState.INDEXED.value, ~has_instance)
        .group_by(files.c.sop_instance_uid)
    )
    columns = ["sop_instance_uid", "file_id", "copies", "duplicate", "outcome"]
    count = select(func.count()).select_from(instances)
    before = connection.scalar(count) or 0
    connection.execute(insert(instances).from_select([*columns, "updated_at"], query))
    # rowcount of INSERT ... SELECT is not reported by every driver
    return (connection.scalar(count) or 0) - before


def instances_to_refresh(connection: Connection) -> Iterator[str]:
    """UIDs whose copies or primary file may have changed: duplicates and strays.

    A UID is on disk more than once, was so before, or its primary file is no longer an
    indexed copy of it (changed or vanished since).
    """
    duplicated = (
        select(files.c.sop_instance_uid)
        .where(files.c.state == FileState.INDEXED.value)
        .group_by(files.c.sop_instance_uid)
        .having(func.count() > 1)
    )
    was_duplicated = select(instances.c.sop_instance_uid).where(instances.c.copies != 1)
    stray = (
        select(instances.c.sop_instance_uid)
        .select_from(instances.outerjoin(files, instances.c.file_id == files.c.id))
        .where(
            ~and_(
                files.c.state == FileState.INDEXED.value,
                files.c.sop_instance_uid == instances.c.sop_instance_uid,
            )
            | files.c.id.is_(None)
        )
    )
    query = duplicated.union(was_duplicated, stray)
    for (uid,) in connection.execute(query):
        yield uid


@dataclass(frozen=True, slots=True)
class Copy:
    """One indexed file holding a given SOP Instance UID."""

    id: int
    source: str
    folder: str
    name: str
    content_hash: str | None


def copies_of(connection: Connection, uid: str) -> list[Copy]:
    """The indexed files holding ``uid``, primary first (by source, folder, name)."""
    rows = connection.execute(
        select(
            files.c.id,
            files.c.source,
            files.c.folder,
            files.c.name,
            files.c.content_hash,
        )
        .where(
            files.c.sop_instance_uid == uid, files.c.state == FileState.INDEXED.value
        )
        .order_by(files.c.source, files.c.folder, files.c.name)
    )
    return [Copy(r.id, r.source, r.folder, r.name, r.content_hash) for r in rows]


def store_hashes(connection: Connection, hashes: dict[int, str]) -> None:
    """Record the content hash of files, by id."""
    if hashes:
        connection.execute(
            update(files)
            .where(files.c.id == bindparam("_id"))
            .values(content_hash=bindparam("content_hash")),
            [{"_id": k, "content_hash": v} for k, v in hashes.items()],
        )


def refresh_instance(connection: Connection, uid: str, copies: Sequence[Copy]) -> None:
    """Point an instance at its primary copy and record how many copies it has.

    The copies' content hashes must be known when there is more than one.
    """
    if not copies:
        values: dict[str, Any] = {"file_id": None, "copies": 0}
    else:
        distinct = {c.content_hash for c in copies}
        duplicate = (
            Duplicate.NONE
            if len(copies) == 1
            else Duplicate.SAME_CONTENT
            if len(distinct) == 1
            else Duplicate.DIFFERENT_CONTENT
        )
        values = {
            "file_id": copies[0].id,
            "copies": len(copies),
            "duplicate": duplicate.value,
        }
    connection.execute(
        update(instances)
        .where(instances.c.sop_instance_uid == uid)
        .values(updated_at=now(), reconciled_key=_unless_same_file(values), **values)
    )


def _unless_same_file(values: dict[str, Any]) -> Any:
    """The instance's reconciliation mark, cleared if its primary file changes."""
    same = instances.c.file_id == values["file_id"]
    return case((same, instances.c.reconciled_key), else_=None)
