"""Verdicts and header changes for every pending instance, decided set-wise.

:func:`reconcile` runs after a scan and before a run is planned, over the instances
still ``pending`` (what was sent keeps its history):

1. **Copies.** A UID on disk more than once, where the snapshot's FilePath names
   exactly one of the copies, is pointed at that copy; the other copies whose content
   differs are marked ``stale_file`` in ``files`` (left behind by a merge or a
   re-point). Nothing is deleted.
2. **Verdicts**, the first that applies (see :class:`~pacsflow.outcomes.Verdict`):
   ``not_in_database``, ``stale_file``, ``duplicate_conflict``, ``excluded_study``.
3. **Changes.** Every attribute the database holds for the instance and whose header
   value differs is written to ``changes`` (old → new) for audit and review, and the
   new values to ``instances.fixes`` (JSON), which the planner hands to the worker
   that applies them as it sends.

:func:`settle` then gives the instances whose verdict is not to be delivered their
outcome: ``skipped``, or ``sinbinned`` when no sin-bin destination is configured.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)

from pacsflow.config import Network
from pacsflow.errors import ConfigError
from pacsflow.events import Transition
from pacsflow.ledger.index import now
from pacsflow.ledger.legacy import (
    instance_files,
    missing_on_disk_query,
    path_matches,
    reconciled_study,
)
from pacsflow.ledger.schema import (
    changes,
    files,
    instances,
    legacy_files,
    legacy_instances,
    legacy_snapshots,
)
from pacsflow.outcomes import Duplicate, FileState, Outcome, Verdict
from pacsflow.reconcile.values import decoded_header, differences

log = logging.getLogger(__name__)

_WRITE_BATCH = 2000

_PENDING = instances.c.outcome == Outcome.PENDING.value


@dataclass
class ReconcileSummary:
    """What one reconciliation found among the pending instances."""

    instances: int = 0
    judged: int = 0
    """Of the pending instances, those judged afresh (the others were judged under
    the same snapshot and exclusion list since their file was last read)."""
    verdicts: dict[str, int] = field(default_factory=dict)
    instances_changed: int = 0
    changes_by_attribute: dict[str, int] = field(default_factory=dict)
    repointed: int = 0
    stale_files: int = 0
    missing_on_disk: int = 0
    snapshot: bool = False
    """Whether a legacy snapshot was there to reconcile with."""


def read_exclusions(path: Path | None) -> frozenset[str]:
    """The Study Instance UIDs of an exclusion list (``#`` starts a comment).

    Raises
    ------
    ConfigError
        If the file named by ``exclude_studies`` cannot be read.
    """
    if path is None:
        return frozenset()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"exclude_studies: cannot read {path} ({exc}); fix the path in the "
            "network file or create the file (one StudyInstanceUID per line)"
        ) from exc
    uids = (line.split("#", 1)[0].strip(" \t\x00") for line in lines)
    return frozenset(uid for uid in uids if uid)


def has_snapshot(connection: Connection) -> bool:
    """Whether the ledger holds a finished legacy snapshot."""
    query = select(legacy_snapshots.c.id).where(
        legacy_snapshots.c.finished_at.is_not(None)
    )
    return connection.execute(query.limit(1)).first() is not None


def reconcile(network: Network, engine: Engine) -> ReconcileSummary:
    """Decide the verdict and the changes of every pending instance.

    Parameters
    ----------
    network : Network
        The network file (exclusion list).
    engine : Engine
        The ledger, scanned, with the legacy snapshot if there is one.

    Returns
    -------
    ReconcileSummary
    """
    exclusions = read_exclusions(network.exclude_studies)
    summary = ReconcileSummary()
    with engine.begin() as connection:
        summary.snapshot = has_snapshot(connection)
        key = _judgement_key(connection, exclusions)
        resolved = _choose_copies(connection, summary) if summary.snapshot else set()
    with engine.connect() as reader, engine.begin() as writer:
        judge = _Judge(exclusions, resolved, summary)
        for chunk in _chunks(reader.execute(_pending_query(key)), _WRITE_BATCH):
            _write(writer, [judge(row) for row in chunk], key)
        _count_pending(writer, summary)
        if summary.snapshot:
            summary.missing_on_disk = writer.scalar(missing_on_disk_query(count=True))
    log.info(
        "reconciled %d pending instances (%d judged afresh): %d with header changes, "
        "verdicts %s",
        summary.instances,
        summary.judged,
        summary.instances_changed,
        summary.verdicts or "none",
    )
    return summary


def _judgement_key(connection: Connection, exclusions: frozenset[str]) -> str:
    """What a judgement depends on besides the instance's own file: the snapshot
    and the exclusion list. An instance judged under another key is judged again."""
    snapshot = connection.scalar(
        select(func.max(legacy_snapshots.c.id)).where(
            legacy_snapshots.c.finished_at.is_not(None)
        )
    )
    listed = hashlib.sha256("\n".join(sorted(exclusions)).encode()).hexdigest()
    return f"{snapshot or 0}:{listed[:32]}"


def _count_pending(connection: Connection, summary: ReconcileSummary) -> None:
    """The summary's counts over every pending instance, judged now or before."""
    summary.instances = connection.scalar(select(func.count()).where(_PENDING)) or 0
    summary.instances_changed = (
        connection.scalar(
            select(func.count()).where(_PENDING, instances.c.fixes.is_not(None))
        )
        or 0
    )
    summary.verdicts = {
        verdict: count
        for verdict, count in connection.execute(
            select(instances.c.verdict, func.count())
            .where(_PENDING, instances.c.verdict.is_not(None))
            .group_by(instances.c.verdict)
        )
    }
    pending = select(instances.c.sop_instance_uid).where(_PENDING)
    summary.changes_by_attribute = {
        attribute: count
        for attribute, count in connection.execute(
            select(changes.c.attribute, func.count())
            .where(changes.c.sop_instance_uid.in_(pending))
            .group_by(changes.c.attribute)
            .order_by(changes.c.attribute)
        )
    }


def _choose_copies(connection: Connection, summary: ReconcileSummary) -> set[str]:
    """Point duplicated UIDs at the copy the database names; mark the stale ones."""
    duplicated = select(instances.c.sop_instance_uid).where(
        _PENDING, instances.c.copies > 1
    )
    connection.execute(
        update(files)
        .where(files.c.verdict.is_not(None), files.c.sop_instance_uid.in_(duplicated))
        .values(verdict=None)
    )
    named = exists().where(
        legacy_files.c.sop_instance_uid == files.c.sop_instance_uid, path_matches()
    )
    rows = connection.execute(
        select(files.c.id, files.c.sop_instance_uid, files.c.content_hash, named)
        .where(
            files.c.state == FileState.INDEXED.value,
            files.c.sop_instance_uid.in_(duplicated),
        )
        .order_by(files.c.sop_instance_uid, files.c.id)
    ).all()
    by_uid: dict[str, list[Any]] = {}
    for row in rows:
        by_uid.setdefault(row.sop_instance_uid, []).append(row)
    resolved, primary, stale = set(), [], []
    for uid, copies in by_uid.items():
        current = [copy for copy in copies if copy[3]]
        if len(current) != 1:
            continue
        resolved.add(uid)
        primary.append({"_uid": uid, "file_id": current[0].id})
        kept = current[0]
        stale += [
            {"_id": c.id}
            for c in copies
            if c.id != kept.id
            and (c.content_hash is None or c.content_hash != kept.content_hash)
        ]
    if primary:
        connection.execute(
            update(instances)
            .where(
                instances.c.sop_instance_uid == bindparam("_uid"),
                instances.c.file_id != bindparam("file_id"),
            )
            .values(file_id=bindparam("file_id"), reconciled_key=None),
            primary,
        )
    if stale:
        connection.execute(
            update(files)
            .where(files.c.id == bindparam("_id"))
            .values(verdict=Verdict.STALE_FILE.value),
            stale,
        )
    summary.repointed, summary.stale_files = len(primary), len(stale)
    return resolved


def _pending_query(key: str) -> Select[Any]:
    """Pending instances not yet judged under ``key`` or since their primary file
    was last read, with that file and what the snapshot knows."""
    uid = instances.c.sop_instance_uid
    has_paths = exists().where(legacy_files.c.sop_instance_uid == uid)
    on_disk_file = files.alias("on_disk")
    path_on_disk = exists().where(
        legacy_files.c.sop_instance_uid == uid,
        on_disk_file.c.sop_instance_uid == uid,
        on_disk_file.c.state == FileState.INDEXED.value,
        path_matches(on_disk_file),
    )
    return (
        select(
            uid,
            instances.c.duplicate,
            files.c.scan_id,
            files.c.study_instance_uid,
            files.c.attributes,
            legacy_instances.c.sop_instance_uid.label("known"),
            legacy_instances.c.study_instance_uid.label("legacy_study"),
            legacy_instances.c.attributes.label("legacy_attributes"),
            has_paths.label("has_paths"),
            path_on_disk.label("path_on_disk"),
        )
        .select_from(
            instances.join(files, files.c.id == instances.c.file_id).outerjoin(
                legacy_instances, legacy_instances.c.sop_instance_uid == uid
            )
        )
        .where(
            _PENDING,
            or_(
                instances.c.reconciled_key.is_(None),
                instances.c.reconciled_key != key,
                instances.c.reconciled_scan.is_(None),
                instances.c.reconciled_scan != files.c.scan_id,
            ),
        )
        .execution_options(stream_results=True, yield_per=_WRITE_BATCH)
    )


@dataclass
class _Judgement:
    """One instance's verdict and changes."""

    uid: str
    verdict: Verdict | None
    changed: list[tuple[str, str, str]]
    scan: int
    """The scan that last read the instance's primary file."""


class _Judge:
    """Decides one pending instance at a time, counting into the summary."""

    def __init__(
        self, exclusions: frozenset[str], resolved: set[str], summary: ReconcileSummary
    ) -> None:
        self._exclusions = exclusions
        self._resolved = resolved
        self._summary = summary

    def __call__(self, row: Any) -> _Judgement:
        """The verdict and changes of one row of :func:`_pending_query`."""
        changed = header_changes(row.attributes, row.legacy_attributes)
        self._summary.judged += 1
        return _Judgement(
            row.sop_instance_uid, self._verdict(row), changed, row.scan_id
        )

    def _verdict(self, row: Any) -> Verdict | None:
        """The first verdict that applies, if any."""
        if self._summary.snapshot and row.known is None:
            return Verdict.NOT_IN_DATABASE
        if self._summary.snapshot and row.has_paths and not row.path_on_disk:
            return Verdict.STALE_FILE
        if (
            row.duplicate == Duplicate.DIFFERENT_CONTENT.value
            and row.sop_instance_uid not in self._resolved
        ):
            return Verdict.DUPLICATE_CONFLICT
        study = row.legacy_study or row.study_instance_uid
        if study in self._exclusions:
            return Verdict.EXCLUDED_STUDY
        return None


def header_changes(
    attributes: str | None, legacy_attributes: str | None
) -> list[tuple[str, str, str]]:
    """(keyword, header value, database value) where a file's header and the
    snapshot disagree; both arguments are the ledger's JSON columns."""
    if legacy_attributes is None:
        return []
    database: Mapping[str, str] = json.loads(legacy_attributes)
    raw = json.loads(attributes) if attributes else {}
    return differences(decoded_header(raw, database), database)


def _write(writer: Connection, judgements: list[_Judgement], key: str) -> None:
    """Record a chunk's verdicts and changes, replacing any earlier judgement."""
    decided = [
        {
            "_uid": j.uid,
            "verdict": None if j.verdict is None else j.verdict.value,
            "fixes": json.dumps(
                {k: new for k, _old, new in j.changed}, ensure_ascii=False
            )
            if j.changed
            else None,
            "reconciled_scan": j.scan,
        }
        for j in judgements
    ]
    if not decided:
        return
    writer.execute(
        delete(changes).where(
            changes.c.sop_instance_uid.in_([j.uid for j in judgements])
        )
    )
    writer.execute(
        update(instances)
        .where(instances.c.sop_instance_uid == bindparam("_uid"))
        .values(
            verdict=bindparam("verdict"),
            fixes=bindparam("fixes"),
            reconciled_key=key,
            reconciled_scan=bindparam("reconciled_scan"),
        ),
        decided,
    )
    at = now()
    rows = [
        {
            "sop_instance_uid": j.uid,
            "attribute": keyword,
            "old_value": old,
            "new_value": new,
            "at": at,
        }
        for j in judgements
        for keyword, old, new in j.changed
    ]
    if rows:
        writer.execute(insert(changes), rows)


def _chunks(rows: Any, size: int) -> Iterator[list[Any]]:
    """Rows in lists of at most ``size``."""
    chunk: list[Any] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def settle(connection: Connection, network: Network) -> list[Transition]:
    """Give pending instances whose verdict is not delivered their outcome.

    A verdict whose action is ``skip`` ends ``skipped``; ``sinbin`` without a sin-bin
    destination ends ``sinbinned`` (recorded only). The verdict is the reason.

    Returns
    -------
    list of Transition
        One per instance settled, for the event log.
    """
    settled: list[Transition] = []
    for verdict in Verdict:
        action = getattr(network.verdicts, verdict.value)
        if action == "skip":
            outcome = Outcome.SKIPPED
        elif action == "sinbin" and network.sinbin is None:
            outcome = Outcome.SINBINNED
        else:
            continue
        where = (_PENDING, instances.c.verdict == verdict.value)
        at = now()
        chosen = connection.execute(
            select(instances.c.sop_instance_uid, reconciled_study())
            .select_from(instance_files())
            .where(*where)
        ).all()
        connection.execute(
            update(instances)
            .where(*where)
            .values(outcome=outcome.value, reason=verdict.value, updated_at=at)
        )
        settled += [
            Transition(outcome.value, uid, at, study, reason=verdict.value)
            for uid, study in chosen
        ]
    return settled
