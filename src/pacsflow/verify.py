"""Asking each destination what it holds, and recording the answer per instance.

``pacsflow verify`` turns "we sent it" into "they have it": for every instance
recorded ``sent``, grouped by study and series as it was sent (the reconciled UIDs),

- a DICOM destination is asked by C-FIND (Study Root, IMAGE level, at its ``query``
  address) for the SOP Instance UIDs of each series;
- a folder destination is looked at: the file must be where it was written.

Each instance becomes ``verified`` or ``missing`` (:class:`~pacsflow.outcomes.
Verification`), recorded beside its outcome, never instead of it. A terminator holds
nothing to ask, so its instances stay unchecked.

A DICOM destination with ``storage_commitment`` is then asked, at its store address,
to commit every instance sent to it (:mod:`pacsflow.dicom.commitment`). Each becomes
``committed`` or ``failed`` with the failure reason (:class:`~pacsflow.outcomes.
Commitment`); one that no report answered in time gets no commitment, so the
commitment always says what the latest request learnt. When the request cannot be
made (the port for the reports is taken, the destination refuses the Storage
Commitment context or the request) the error is logged and kept in the summary, the
verification already recorded stays, the commitments recorded before stay, and the
other destinations are verified as usual.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import groupby
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from sqlalchemy import Connection, Engine, bindparam, select, update

from pacsflow.config import DicomDestination, FolderDestination, Network
from pacsflow.config.destinations import StorageCommitment
from pacsflow.destinations.base import Item
from pacsflow.destinations.dicom import peer_of, tls_files
from pacsflow.destinations.folder import relative_path
from pacsflow.dicom.association import Peer, StoreAssociation
from pacsflow.dicom.commitment import (
    CommitmentAnswers,
    ListenAddress,
    failure_text,
    request_commitment,
)
from pacsflow.dicom.errors import DicomError
from pacsflow.dicom.negotiation import IMPLICIT_VR_LITTLE_ENDIAN, STUDY_ROOT_FIND
from pacsflow.events import EventSink, NoEvents, Transition
from pacsflow.ledger.index import now
from pacsflow.ledger.legacy import instance_files, reconciled_study
from pacsflow.ledger.schema import files, instances
from pacsflow.outcomes import Commitment, Outcome, Verification

log = logging.getLogger(__name__)


@dataclass
class CommitmentCounts:
    """What one destination answered when asked for storage commitment."""

    committed: int = 0
    """Instances it took responsibility for."""
    failed: int = 0
    """Instances it refused to commit (each with its failure reason in the ledger)."""
    unanswered: int = 0
    """Instances it said nothing of: no report in time, or not asked (see error)."""
    error: str | None = None
    """Why commitment could not be asked, if it could not."""


@dataclass
class VerifySummary:
    """What one verification found, per destination."""

    verified: dict[str, int] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)
    unchecked: dict[str, int] = field(default_factory=dict)
    """Destinations with nothing to ask (terminators): instances not checked."""
    commitment: dict[str, CommitmentCounts] = field(default_factory=dict)
    """Destinations asked for storage commitment, and what they answered."""

    @property
    def all_there(self) -> bool:
        """Whether no instance was found missing."""
        return not any(self.missing.values())

    @property
    def all_committed(self) -> bool:
        """Whether storage commitment, where asked, committed every instance."""
        return all(
            not (c.failed or c.unanswered or c.error) for c in self.commitment.values()
        )


@dataclass(frozen=True)
class _Sent:
    """One sent instance as the destination should hold it."""

    uid: str
    study: str
    series: str
    sop_class: str


def verify_network(
    network: Network, engine: Engine, *, events: EventSink | None = None
) -> VerifySummary:
    """Ask every destination about the instances sent to it; record each answer.

    ``events`` is told of each instance's verification (``verified`` or
    ``missing``) once the ledger holds it.

    Raises
    ------
    DicomError
        A DICOM destination cannot be reached or refuses the query. A storage
        commitment that cannot be asked raises nothing: the error is logged and
        kept in the summary's ``commitment``, and verification goes on.
    """
    summary = VerifySummary()
    events = events or NoEvents()
    for name, config in network.destinations.items():
        with engine.connect() as reader:
            sent = list(_sent_to(reader, name))
        if not sent:
            continue
        if isinstance(config, DicomDestination):
            held = _ask_dicom(_query_peer(config), sent)
        elif isinstance(config, FolderDestination):
            held = _look_in_folder(config.path, sent)
        else:
            summary.unchecked[name] = len(sent)
            continue
        with engine.begin() as writer:
            verified = _record(writer, sent, held, name)
        events.emit(verified)
        summary.verified[name] = sum(s.uid in held for s in sent)
        summary.missing[name] = len(sent) - summary.verified[name]
        log.info(
            "verified %s: %d held, %d missing",
            name,
            summary.verified[name],
            summary.missing[name],
        )
        if isinstance(config, DicomDestination) and config.storage_commitment:
            summary.commitment[name] = _commit(
                engine, name, config, config.storage_commitment, sent
            )
    return summary


def _commit(
    engine: Engine,
    name: str,
    config: DicomDestination,
    options: StorageCommitment,
    sent: list[_Sent],
) -> CommitmentCounts:
    """Ask for storage commitment of ``sent``; record and count the answers."""
    try:
        answers = request_commitment(
            peer_of(config),
            _listen_address(config, options),
            [(s.sop_class, s.uid) for s in sent],
            batch=options.batch,
            timeout=options.timeout,
        )
    except DicomError as exc:
        log.error("%s: storage commitment not asked: %s", name, exc)
        return CommitmentCounts(unanswered=len(sent), error=str(exc))
    with engine.begin() as writer:
        _record_commitment(writer, sent, answers)
    counts = CommitmentCounts(
        committed=len(answers.committed),
        failed=len(answers.failed),
        unanswered=len(sent) - len(answers.committed) - len(answers.failed),
    )
    log.info(
        "storage commitment of %s: %d committed, %d failed, %d unanswered",
        name,
        counts.committed,
        counts.failed,
        counts.unanswered,
    )
    return counts


def _listen_address(
    config: DicomDestination, options: StorageCommitment
) -> ListenAddress:
    """Where pacsflow listens for a destination's storage commitment reports."""
    return ListenAddress(
        bind=options.bind,
        port=options.port,
        ae_title=options.ae_title or config.calling_ae_title,
        tls=tls_files(config.tls),
    )


def _sent_to(connection: Connection, destination: str) -> Iterator[_Sent]:
    """The instances recorded sent to ``destination``, by study and series."""
    study = reconciled_study()
    query = (
        select(
            instances.c.sop_instance_uid,
            study.label("study"),
            files.c.series_instance_uid,
            files.c.sop_class_uid,
            instances.c.fixes,
        )
        .select_from(instance_files())
        .where(
            instances.c.outcome == Outcome.SENT.value,
            instances.c.destination == destination,
        )
        .order_by(study, files.c.series_instance_uid)
    )
    for row in connection.execute(query):
        fixed = json.loads(row.fixes) if row.fixes else {}
        series = fixed.get("SeriesInstanceUID") or row.series_instance_uid or ""
        yield _Sent(row.sop_instance_uid, row.study, series, row.sop_class_uid or "")


def _query_peer(config: DicomDestination) -> Peer:
    """The C-FIND address of a destination (its store address unless configured)."""
    peer = peer_of(config)
    query = config.query
    return replace(
        peer,
        host=query.host or peer.host,
        port=query.port or peer.port,
        called_ae=query.ae_title or peer.called_ae,
    )


def _ask_dicom(peer: Peer, sent: list[_Sent]) -> set[str]:
    """The SOP Instance UIDs the destination reports, one C-FIND per series."""
    held: set[str] = set()
    contexts = [(STUDY_ROOT_FIND, IMPLICIT_VR_LITTLE_ENDIAN)]
    with StoreAssociation(peer, contexts) as association:
        for (study, series), _group in groupby(sent, lambda s: (s.study, s.series)):
            for match in association.find(_image_query(study, series)):
                held.add(str(match.get("SOPInstanceUID", "")).strip("\x00 "))
    return held


def _image_query(study: str, series: str) -> Dataset:
    """A Study Root IMAGE-level identifier asking for a series' SOP Instance UIDs."""
    ds = Dataset()
    ds.QueryRetrieveLevel = "IMAGE"
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.SOPInstanceUID = ""
    return ds


def _look_in_folder(root: Path, sent: list[_Sent]) -> set[str]:
    """The instances whose file is where the folder destination wrote it."""
    held = set()
    for s in sent:
        item = Item(s.uid, "", "", "", 0, s.study, s.series)
        if (root / relative_path(item)).is_file():
            held.add(s.uid)
    return held


def _record(
    connection: Connection, sent: list[_Sent], held: set[str], destination: str
) -> list[Transition]:
    """Write each instance's verification; one transition each for the event log."""
    at = now()
    rows: list[dict[str, Any]] = [
        {
            "_uid": s.uid,
            "verification": (
                Verification.VERIFIED if s.uid in held else Verification.MISSING
            ).value,
            "verified_at": at,
        }
        for s in sent
    ]
    connection.execute(
        update(instances)
        .where(instances.c.sop_instance_uid == bindparam("_uid"))
        .values(
            verification=bindparam("verification"), verified_at=bindparam("verified_at")
        ),
        rows,
    )
    return [
        Transition(row["verification"], s.uid, at, s.study, destination)
        for row, s in zip(rows, sent, strict=True)
    ]


def _record_commitment(
    connection: Connection, sent: list[_Sent], answers: CommitmentAnswers
) -> None:
    """Write each instance's commitment; none where nothing was learnt."""
    at = now()
    rows = [_commitment_row(s.uid, answers, at) for s in sent]
    connection.execute(
        update(instances)
        .where(instances.c.sop_instance_uid == bindparam("_uid"))
        .values(
            commitment=bindparam("commitment"),
            committed_at=bindparam("committed_at"),
            commitment_detail=bindparam("commitment_detail"),
        ),
        rows,
    )


def _commitment_row(
    uid: str, answers: CommitmentAnswers, at: datetime
) -> dict[str, Any]:
    """The commitment columns of one instance, as the answers have them."""
    reason = answers.failed.get(uid)
    if uid in answers.committed:
        return {
            "_uid": uid,
            "commitment": Commitment.COMMITTED.value,
            "committed_at": at,
            "commitment_detail": None,
        }
    if reason is not None:
        return {
            "_uid": uid,
            "commitment": Commitment.FAILED.value,
            "committed_at": at,
            "commitment_detail": failure_text(reason),
        }
    return {
        "_uid": uid,
        "commitment": None,
        "committed_at": None,
        "commitment_detail": None,
    }
