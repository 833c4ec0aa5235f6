"""Asking each destination what it holds, and recording the answer per instance.

``pacsflow verify`` turns "we sent it" into "they have it": for every instance
recorded ``sent``, grouped by study and series as it was sent (the reconciled UIDs),

- a DICOM destination is asked by C-FIND (Study Root, IMAGE level, at its ``query``
  address) for the SOP Instance UIDs of each series;
- a folder destination is looked at: the file must be where it was written.

Each instance becomes ``verified`` or ``missing`` (:class:`~pacsflow.outcomes.
Verification`), recorded beside its outcome, never instead of it. A terminator holds
nothing to ask, so its instances stay unchecked.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from sqlalchemy import Connection, Engine, bindparam, func, select, update

from pacsflow.config import DicomDestination, FolderDestination, Network
from pacsflow.destinations.base import Item
from pacsflow.destinations.dicom import peer_of
from pacsflow.destinations.folder import relative_path
from pacsflow.dicom.association import Peer, StoreAssociation
from pacsflow.dicom.negotiation import IMPLICIT_VR_LITTLE_ENDIAN, STUDY_ROOT_FIND
from pacsflow.ledger.index import now
from pacsflow.ledger.schema import files, instances, legacy_instances
from pacsflow.outcomes import Outcome, Verification

log = logging.getLogger(__name__)


@dataclass
class VerifySummary:
    """What one verification found, per destination."""

    verified: dict[str, int] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)
    unchecked: dict[str, int] = field(default_factory=dict)
    """Destinations with nothing to ask (terminators): instances not checked."""

    @property
    def all_there(self) -> bool:
        """Whether no instance was found missing."""
        return not any(self.missing.values())


@dataclass(frozen=True)
class _Sent:
    """One sent instance as the destination should hold it."""

    uid: str
    study: str
    series: str


def verify_network(network: Network, engine: Engine) -> VerifySummary:
    """Ask every destination about the instances sent to it; record each answer.

    Raises
    ------
    DicomError
        A DICOM destination cannot be reached or refuses the query.
    """
    summary = VerifySummary()
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
            _record(writer, sent, held)
        summary.verified[name] = sum(s.uid in held for s in sent)
        summary.missing[name] = len(sent) - summary.verified[name]
        log.info(
            "verified %s: %d held, %d missing",
            name,
            summary.verified[name],
            summary.missing[name],
        )
    return summary


def _sent_to(connection: Connection, destination: str) -> Iterator[_Sent]:
    """The instances recorded sent to ``destination``, by study and series."""
    study = func.coalesce(
        legacy_instances.c.study_instance_uid, files.c.study_instance_uid, ""
    )
    query = (
        select(
            instances.c.sop_instance_uid,
            study.label("study"),
            files.c.series_instance_uid,
            instances.c.fixes,
        )
        .select_from(
            instances.join(files, files.c.id == instances.c.file_id).outerjoin(
                legacy_instances,
                legacy_instances.c.sop_instance_uid == instances.c.sop_instance_uid,
            )
        )
        .where(
            instances.c.outcome == Outcome.SENT.value,
            instances.c.destination == destination,
        )
        .order_by(study, files.c.series_instance_uid)
    )
    for row in connection.execute(query):
        fixed = json.loads(row.fixes) if row.fixes else {}
        series = fixed.get("SeriesInstanceUID") or row.series_instance_uid or ""
        yield _Sent(row.sop_instance_uid, row.study, series)


def _query_peer(config: DicomDestination) -> Peer:
    """The C-FIND address of a destination (its store address unless configured)."""
    peer = peer_of(config)
    query = config.query
    return Peer(
        host=query.host or peer.host,
        port=query.port or peer.port,
        called_ae=query.ae_title or peer.called_ae,
        calling_ae=peer.calling_ae,
        max_pdu=peer.max_pdu,
        acse_timeout=peer.acse_timeout,
        dimse_timeout=peer.dimse_timeout,
        network_timeout=peer.network_timeout,
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


def _record(connection: Connection, sent: list[_Sent], held: set[str]) -> None:
    """Write each instance's verification."""
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


def reopen_missing(connection: Connection) -> int:
    """Make every instance found missing pending again (``--resend-missing``)."""
    result = connection.execute(
        update(instances)
        .where(instances.c.verification == Verification.MISSING.value)
        .values(outcome=Outcome.PENDING.value, verification=None, updated_at=now())
    )
    return int(result.rowcount or 0)
