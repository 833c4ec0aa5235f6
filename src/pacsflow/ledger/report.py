"""Reading the ledger's counts: what ``pacsflow status`` shows.

All counts are aggregated in the database, so a status of a ten-million-instance ledger
costs a few grouped queries, not a walk over its rows in Python.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Connection, case, func, select

from pacsflow.ledger.controls import paused
from pacsflow.ledger.legacy import missing_on_disk_query
from pacsflow.ledger.schema import changes, files, instances, legacy_snapshots, scans
from pacsflow.outcomes import Commitment, Duplicate, FileState, Outcome, Verdict

UNREADABLE_LISTED = 1000
"""At most this many unreadable files are listed one by one; all are counted."""


@dataclass(frozen=True, slots=True)
class MatrixCell:
    """How many instances share one SOP class and transfer syntax."""

    sop_class: str
    transfer_syntax: str
    count: int
    pixel_data: int
    """How many of them have pixel data."""


@dataclass(frozen=True, slots=True)
class SourceCounts:
    """The files of one source."""

    files: int
    bytes: int
    unreadable: int
    vanished: int


@dataclass(frozen=True, slots=True)
class UnreadableFile:
    """A file that is not readable DICOM, and why."""

    source: str
    path: str
    reason: str


@dataclass(frozen=True)
class Status:
    """A snapshot of the ledger's counts."""

    files: int
    unreadable: int
    vanished: int
    instances: int
    outcomes: dict[str, int]
    sinbin_reasons: dict[str, int]
    duplicates: dict[str, int]
    matrix: list[MatrixCell]
    sources: dict[str, SourceCounts]
    unreadable_files: list[UnreadableFile] = field(default_factory=list)
    last_scan: dict[str, Any] | None = None
    skipped_reasons: dict[str, int] = field(default_factory=dict)
    reconciliation: dict[str, Any] = field(default_factory=dict)
    """Verdicts, header changes, stale copies, rows missing on disk, the snapshot."""
    verification: dict[str, int] = field(default_factory=dict)
    """Sent instances the destinations confirmed, did not know, or were not asked."""
    commitment: dict[str, int] = field(default_factory=dict)
    """Sent instances the destinations committed, refused to commit, or whose
    commitment is unknown (not asked, or no answer came)."""

    paused: dict[str, str] | None = None
    """An operator's pause in force (``pacsflow pause``): why and since when."""

    def to_json(self) -> dict[str, Any]:
        """The status as JSON-ready values (the ``status --json`` document)."""
        return asdict(self)


def read_status(connection: Connection) -> Status:
    """Gather the ledger's counts in a handful of grouped queries."""
    sources = _sources(connection)
    return Status(
        files=sum(s.files for s in sources.values()),
        unreadable=sum(s.unreadable for s in sources.values()),
        vanished=sum(s.vanished for s in sources.values()),
        instances=connection.scalar(select(func.count()).select_from(instances)) or 0,
        outcomes=_outcomes(connection),
        sinbin_reasons=_reasons(connection, Outcome.SINBINNED),
        skipped_reasons=_reasons(connection, Outcome.SKIPPED),
        reconciliation=_reconciliation(connection),
        verification=_verification(connection),
        commitment=_commitment(connection),
        duplicates=_duplicates(connection),
        matrix=_matrix(connection),
        sources=sources,
        unreadable_files=_unreadable_files(connection),
        last_scan=_last_scan(connection),
        paused=_paused(connection),
    )


def _paused(connection: Connection) -> dict[str, str] | None:
    """The operator's pause in force, if any."""
    held = paused(connection)
    return None if held is None else {"why": held.why, "since": held.at.isoformat()}


def _sources(connection: Connection) -> dict[str, SourceCounts]:
    """Files, bytes, unreadable and vanished files per source."""
    present = files.c.state != FileState.VANISHED.value
    query = (
        select(
            files.c.source,
            func.sum(case((present, 1), else_=0)),
            func.sum(case((present, files.c.size), else_=0)),
            func.sum(case((files.c.state == FileState.UNREADABLE.value, 1), else_=0)),
            func.sum(case((files.c.state == FileState.VANISHED.value, 1), else_=0)),
        )
        .group_by(files.c.source)
        .order_by(files.c.source)
    )
    return {
        row[0]: SourceCounts(int(row[1]), int(row[2]), int(row[3]), int(row[4]))
        for row in connection.execute(query)
    }


def _outcomes(connection: Connection) -> dict[str, int]:
    """Instances per outcome, every outcome listed even when zero."""
    counts = dict.fromkeys((o.value for o in Outcome), 0)
    query = select(instances.c.outcome, func.count()).group_by(instances.c.outcome)
    counts.update({outcome: n for outcome, n in connection.execute(query)})
    return counts


def _reasons(connection: Connection, outcome: Outcome) -> dict[str, int]:
    """Instances of one outcome per reason."""
    query = (
        select(instances.c.reason, func.count())
        .where(instances.c.outcome == outcome.value)
        .group_by(instances.c.reason)
        .order_by(instances.c.reason)
    )
    return {reason or "unknown": n for reason, n in connection.execute(query)}


def _verification(connection: Connection) -> dict[str, int]:
    """Sent instances by what their destination said when asked."""
    query = (
        select(instances.c.verification, func.count())
        .where(instances.c.outcome == Outcome.SENT.value)
        .group_by(instances.c.verification)
    )
    counts = {"verified": 0, "missing": 0, "unchecked": 0}
    for verification, count in connection.execute(query):
        counts[verification or "unchecked"] = count
    return counts


def _commitment(connection: Connection) -> dict[str, int]:
    """Sent instances by their destination's storage commitment answer."""
    query = (
        select(instances.c.commitment, func.count())
        .where(instances.c.outcome == Outcome.SENT.value)
        .group_by(instances.c.commitment)
    )
    counts = {Commitment.COMMITTED.value: 0, Commitment.FAILED.value: 0, "unknown": 0}
    for commitment, count in connection.execute(query):
        counts[commitment or "unknown"] = count
    return counts


def _reconciliation(connection: Connection) -> dict[str, Any]:
    """What reconciliation with the legacy database found and changed."""
    by_attribute = select(changes.c.attribute, func.count()).group_by(
        changes.c.attribute
    )
    verdicts = (
        select(instances.c.verdict, func.count())
        .where(instances.c.verdict.is_not(None))
        .group_by(instances.c.verdict)
    )
    changed = select(func.count(func.distinct(changes.c.sop_instance_uid)))
    stale = select(func.count()).where(files.c.verdict == Verdict.STALE_FILE.value)
    snapshot = connection.execute(
        select(legacy_snapshots).order_by(legacy_snapshots.c.id.desc()).limit(1)
    ).first()
    return {
        "instances_changed": connection.scalar(changed) or 0,
        "changes_by_attribute": dict(
            sorted((k, v) for k, v in connection.execute(by_attribute))
        ),
        "missing_on_disk": connection.scalar(missing_on_disk_query(count=True)) or 0,
        "verdicts": dict(sorted((k, v) for k, v in connection.execute(verdicts))),
        "stale_files": connection.scalar(stale) or 0,
        "snapshot": None
        if snapshot is None
        else {
            "id": snapshot.id,
            "taken_at": snapshot.started_at.isoformat(),
            "database": snapshot.database,
            "rows": snapshot.rows,
            "instances": snapshot.instances,
        },
    }


def _duplicates(connection: Connection) -> dict[str, int]:
    """UIDs on disk more than once, with the same and with different content."""
    counts = {Duplicate.SAME_CONTENT.value: 0, Duplicate.DIFFERENT_CONTENT.value: 0}
    query = (
        select(instances.c.duplicate, func.count())
        .where(instances.c.duplicate != Duplicate.NONE.value)
        .group_by(instances.c.duplicate)
    )
    counts.update({kind: n for kind, n in connection.execute(query)})
    return counts


def _matrix(connection: Connection) -> list[MatrixCell]:
    """Instances per SOP class and transfer syntax of their primary file."""
    query = (
        select(
            files.c.sop_class_uid,
            files.c.transfer_syntax,
            func.count(),
            func.sum(case((files.c.pixel_data, 1), else_=0)),
        )
        .select_from(instances.join(files, instances.c.file_id == files.c.id))
        .group_by(files.c.sop_class_uid, files.c.transfer_syntax)
        .order_by(func.count().desc(), files.c.sop_class_uid, files.c.transfer_syntax)
    )
    return [
        MatrixCell(sop_class, syntax, int(count), int(pixels or 0))
        for sop_class, syntax, count, pixels in connection.execute(query)
    ]


def _unreadable_files(connection: Connection) -> list[UnreadableFile]:
    """The first unreadable files, by source and path."""
    query = (
        select(files.c.source, files.c.folder, files.c.name, files.c.reason)
        .where(files.c.state == FileState.UNREADABLE.value)
        .order_by(files.c.source, files.c.folder, files.c.name)
        .limit(UNREADABLE_LISTED)
    )
    return [
        UnreadableFile(source, f"{folder}/{name}" if folder else name, reason or "")
        for source, folder, name, reason in connection.execute(query)
    ]


def _last_scan(connection: Connection) -> dict[str, Any] | None:
    """When the newest scan ran and what it counted."""
    row = connection.execute(select(scans).order_by(scans.c.id.desc()).limit(1)).first()
    if row is None:
        return None
    values = dict(row._mapping)
    for key in ("started_at", "finished_at"):
        if values[key] is not None:
            values[key] = values[key].isoformat()
    return values
