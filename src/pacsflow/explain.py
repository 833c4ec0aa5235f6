"""Answering "what happened to this image?" from the ledger alone.

:func:`explain` takes a SOP Instance UID or a Study Instance UID and gathers, for each
instance, everything the ledger knows of its journey: the files found on disk, the
reconciliation verdict and every attribute changed, the route and destination, every
attempt to deliver it, its releases from the sin bin, and what verification found.
A UID the legacy database lists but no file holds is explained too (missing on disk).

Nothing here talks to a destination or the legacy database: the ledger is the single
source of truth, so an operator can answer a department's question while a migration
runs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import Connection, or_, select

from pacsflow.ledger.legacy import instance_files, reconciled_study
from pacsflow.ledger.schema import (
    attempts,
    changes,
    files,
    instances,
    legacy_instances,
    releases,
)

MAX_INSTANCES = 10_000
"""A study is explained for at most this many instances (the rest are counted)."""


@dataclass(frozen=True)
class FoundFile:
    """One file on disk that holds the instance."""

    source: str
    path: str
    size: int
    state: str
    primary: bool
    """The copy the instance is sent from."""
    stale: bool
    """A copy the legacy database no longer points at."""
    content_hash: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Change:
    """One attribute whose header value the legacy database corrected."""

    attribute: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class Try:
    """One attempt to deliver the instance."""

    at: datetime
    run: int
    destination: str
    association: str | None
    result: str
    status: int | None
    detail: str | None


@dataclass(frozen=True)
class Release:
    """A release from the sin bin (or from ``skipped``)."""

    at: datetime
    outcome: str
    """What the instance was before: ``sinbinned`` or ``skipped``."""
    reason: str | None
    selection: str
    """What was released: ``reason=...``, ``study=...`` or ``instance=...``."""


@dataclass(frozen=True)
class History:
    """Everything the ledger knows of one instance."""

    sop_instance_uid: str
    study_instance_uid: str | None
    """The study as migrated (the legacy database's, else the header's)."""
    header_study_instance_uid: str | None
    series_instance_uid: str | None
    sop_class_uid: str | None
    transfer_syntax: str | None
    outcome: str | None
    """None when no file holds the instance (listed by the legacy database only)."""
    reason: str | None = None
    detail: str | None = None
    route: str | None = None
    destination: str | None = None
    status: int | None = None
    verdict: str | None = None
    duplicate: str | None = None
    verification: str | None = None
    verified_at: datetime | None = None
    commitment: str | None = None
    """Storage commitment: ``committed``, ``failed`` or None (not asked, no answer)."""
    commitment_detail: str | None = None
    committed_at: datetime | None = None
    updated_at: datetime | None = None
    in_legacy_database: bool = False
    files: list[FoundFile] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    attempts: list[Try] = field(default_factory=list)
    releases: list[Release] = field(default_factory=list)

    @property
    def missing_on_disk(self) -> bool:
        """The legacy database lists it, but no file on disk holds it."""
        return self.outcome is None

    def to_json(self) -> dict[str, Any]:
        """The history as JSON values (times as ISO 8601 text)."""
        return json.loads(json.dumps(asdict(self), default=_iso))  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Explanation:
    """The answer for one UID: one history per instance it names."""

    uid: str
    kind: str
    """``instance``, ``study`` or ``unknown``."""
    histories: list[History]
    more: int = 0
    """Instances of the study beyond :data:`MAX_INSTANCES`, not explained."""

    def to_json(self) -> dict[str, Any]:
        """The explanation as JSON values."""
        return {
            "uid": self.uid,
            "kind": self.kind,
            "instances": [h.to_json() for h in self.histories],
            "more": self.more,
        }


def explain(connection: Connection, uid: str) -> Explanation:
    """Every instance ``uid`` names (as SOP Instance or Study UID) and its journey."""
    uid = uid.strip().rstrip("\x00")
    found = _instance_uids(connection, instances.c.sop_instance_uid == uid)
    found = found or _legacy_only(
        connection, legacy_instances.c.sop_instance_uid == uid
    )
    if found:
        return Explanation(uid, "instance", _histories(connection, found))
    study = or_(reconciled_study() == uid, files.c.study_instance_uid == uid)
    found = _instance_uids(connection, study, limit=MAX_INSTANCES + 1)
    found += _legacy_only(connection, legacy_instances.c.study_instance_uid == uid)
    if found:
        more = max(0, len(found) - MAX_INSTANCES)
        shown = found[:MAX_INSTANCES]
        return Explanation(uid, "study", _histories(connection, shown), more)
    return Explanation(uid, "unknown", [])


def _instance_uids(
    connection: Connection, where: Any, *, limit: int | None = None
) -> list[str]:
    """The SOP Instance UIDs of ledger instances that meet ``where``, in study order."""
    query = (
        select(instances.c.sop_instance_uid)
        .select_from(instance_files())
        .where(where)
        .order_by(
            files.c.series_number,
            files.c.series_instance_uid,
            files.c.instance_number,
            instances.c.sop_instance_uid,
        )
        .limit(limit)
    )
    return list(connection.scalars(query))


def _legacy_only(connection: Connection, where: Any) -> list[str]:
    """Instances of the legacy snapshot that meet ``where`` and that no file in the
    ledger holds: missing on disk."""
    known = select(instances.c.sop_instance_uid)
    query = select(legacy_instances.c.sop_instance_uid).where(
        where, legacy_instances.c.sop_instance_uid.not_in(known)
    )
    return list(connection.scalars(query))


def _histories(connection: Connection, uids: list[str]) -> list[History]:
    """The history of each instance, in the order given."""
    summaries, primary = _summaries(connection, set(uids))
    by_uid = {h.sop_instance_uid: h for h in summaries}
    for chunk in _chunks(uids):
        for row in connection.execute(
            select(files).where(files.c.sop_instance_uid.in_(chunk))
        ):
            is_primary = row.id == primary.get(row.sop_instance_uid)
            by_uid[row.sop_instance_uid].files.append(_file(row, is_primary))
        for row in connection.execute(
            select(changes)
            .where(changes.c.sop_instance_uid.in_(chunk))
            .order_by(changes.c.id)
        ):
            history = by_uid[row.sop_instance_uid]
            history.changes.append(Change(row.attribute, row.old_value, row.new_value))
        for row in connection.execute(
            select(attempts)
            .where(attempts.c.sop_instance_uid.in_(chunk))
            .order_by(attempts.c.at, attempts.c.id)
        ):
            by_uid[row.sop_instance_uid].attempts.append(_try(row))
        for row in connection.execute(
            select(releases)
            .where(releases.c.sop_instance_uid.in_(chunk))
            .order_by(releases.c.at, releases.c.id)
        ):
            by_uid[row.sop_instance_uid].releases.append(
                Release(row.at, row.outcome, row.reason, row.selection)
            )
    for history in by_uid.values():
        history.files.sort(key=lambda f: (not f.primary, f.source, f.path))
    return [by_uid[uid] for uid in uids if uid in by_uid]


def _summaries(
    connection: Connection, uids: set[str]
) -> tuple[list[History], dict[str, int]]:
    """The instances' own rows (or their snapshot rows, when missing on disk), and
    each instance's primary file id."""
    histories: list[History] = []
    primary: dict[str, int] = {}
    for chunk in _chunks(sorted(uids)):
        query = (
            select(
                instances,
                files.c.study_instance_uid.label("header_study"),
                files.c.series_instance_uid,
                files.c.sop_class_uid,
                files.c.transfer_syntax,
                reconciled_study().label("study"),
                legacy_instances.c.sop_instance_uid.label("legacy_uid"),
            )
            .select_from(instance_files())
            .where(instances.c.sop_instance_uid.in_(chunk))
        )
        for row in connection.execute(query):
            histories.append(_summary(row))
            primary[row.sop_instance_uid] = row.file_id
        seen = {h.sop_instance_uid for h in histories}
        missing = [uid for uid in chunk if uid not in seen]
        if missing:
            histories += [
                History(
                    uid, study, None, None, None, None, None, in_legacy_database=True
                )
                for uid, study in connection.execute(
                    select(
                        legacy_instances.c.sop_instance_uid,
                        legacy_instances.c.study_instance_uid,
                    ).where(legacy_instances.c.sop_instance_uid.in_(missing))
                )
            ]
    return histories, primary


def _summary(row: Any) -> History:
    """One instance's ledger row as the head of its history."""
    fixes = json.loads(row.fixes) if row.fixes else {}
    return History(
        sop_instance_uid=row.sop_instance_uid,
        study_instance_uid=row.study or None,
        header_study_instance_uid=row.header_study,
        series_instance_uid=fixes.get("SeriesInstanceUID") or row.series_instance_uid,
        sop_class_uid=row.sop_class_uid,
        transfer_syntax=row.transfer_syntax,
        outcome=row.outcome,
        reason=row.reason,
        detail=row.detail,
        route=row.route,
        destination=row.destination,
        status=row.status,
        verdict=row.verdict,
        duplicate=row.duplicate,
        verification=row.verification,
        verified_at=row.verified_at,
        commitment=row.commitment,
        commitment_detail=row.commitment_detail,
        committed_at=row.committed_at,
        updated_at=row.updated_at,
        in_legacy_database=row.legacy_uid is not None,
    )


def _file(row: Any, primary: bool) -> FoundFile:
    """One file row as the history shows it."""
    path = str(PurePosixPath(row.folder, row.name)) if row.folder else row.name
    return FoundFile(
        source=row.source,
        path=path,
        size=row.size,
        state=row.state,
        primary=primary,
        stale=row.verdict == "stale_file",
        content_hash=row.content_hash,
        reason=row.reason,
    )


def _try(row: Any) -> Try:
    """One attempts row."""
    return Try(
        row.at,
        row.run_id,
        row.destination,
        row.association,
        row.result,
        row.status,
        row.detail,
    )


def _chunks(uids: list[str], size: int = 500) -> list[list[str]]:
    """``uids`` in lists short enough for an IN (...) clause."""
    return [uids[i : i + size] for i in range(0, len(uids), size)]


def _iso(value: object) -> str:
    """JSON for the values :func:`json.dumps` does not know: times."""
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
