"""The numbers behind the report, gathered from the ledger in grouped queries.

:func:`gather` reads everything the HTML page shows into one :class:`ReportData`:
the counts ``pacsflow status`` shows (reused from :func:`~pacsflow.ledger.report.
read_status`), plus the few the report adds: the accounting that ties files to
instances, each source's instances by outcome, each destination's, why instances
failed, why files are unreadable, and the deliveries over time.

Nothing here reads a patient's name, ID or birth date: the ``files.attributes`` and
``instances.fixes`` JSON and the ``changes`` table are never selected, and unreadable
files are counted by reason, not listed by path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, exists, func, select

from pacsflow.config import DicomDestination, FolderDestination, Network
from pacsflow.config.destinations import Destination
from pacsflow.dicom.status import describe
from pacsflow.ledger.report import Status, read_status
from pacsflow.ledger.schema import files, instances
from pacsflow.outcomes import FileState, Outcome
from pacsflow.report.timeline import Throughput, read_throughput

NO_FILE = "(no file on disk)"
"""The source shown for instances whose every copy has vanished."""


@dataclass(frozen=True, slots=True)
class Accounting:
    """How the files found and the instances add up.

    ``files = unreadable + primary_copies + extra_copies`` and
    ``instances = primary_copies + without_file``; the outcomes add up to
    ``instances`` too.
    """

    files: int
    """Files on disk (indexed or unreadable; vanished ones are not counted)."""
    unreadable: int
    primary_copies: int
    """Instances whose primary file is on disk: one file each."""
    extra_copies: int
    """Readable files that hold a UID another file already holds."""
    duplicated_uids: int
    """Instances on disk more than once."""
    without_file: int
    """Instances every copy of which has vanished from disk."""
    instances: int

    @property
    def files_add_up(self) -> bool:
        """Whether every file on disk is accounted for exactly once."""
        parts = self.unreadable + self.primary_copies + self.extra_copies
        return parts == self.files

    @property
    def instances_add_up(self) -> bool:
        """Whether every instance has a primary file or is known to have none."""
        return self.primary_copies + self.without_file == self.instances


@dataclass(frozen=True, slots=True)
class Tally:
    """Instances per outcome of one source or destination."""

    name: str
    outcomes: dict[str, int]
    unreadable: int = 0
    """Unreadable files (sources only)."""
    kind: str = ""
    """``dicom``, ``folder`` or ``terminator`` (destinations, when known)."""
    address: str = ""
    """AE title, host and port, or folder (destinations, when known)."""

    @property
    def instances(self) -> int:
        """Every instance counted here."""
        return sum(self.outcomes.values())


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows, as plain values."""

    title: str
    generated_at: datetime
    status: Status
    accounting: Accounting
    sources: list[Tally]
    destinations: list[Tally]
    failures: dict[str, int]
    """Failed instances per DICOM status (or none)."""
    unreadable_reasons: dict[str, int]
    """Unreadable files per kind of reason (the text before its first colon)."""
    throughput: Throughput | None
    network_file: str | None = None


def gather(
    connection: Connection,
    *,
    title: str,
    generated_at: datetime,
    network: Network | None = None,
) -> ReportData:
    """Read the report's numbers from the ledger.

    Parameters
    ----------
    connection : Connection
        The ledger.
    title : str
        The migration's name, shown as the report's title.
    generated_at : datetime
        When the report is made, timezone-aware.
    network : Network, optional
        The network file: names the sources in its order, even those with no files,
        and tells each destination's kind and address.
    """
    status = read_status(connection)
    order = [s.name for s in network.sources] if network is not None else []
    return ReportData(
        title=title,
        generated_at=generated_at,
        status=status,
        accounting=_accounting(connection, status),
        sources=_sources(connection, status, order),
        destinations=_destinations(connection, network),
        failures=_failures(connection),
        unreadable_reasons=_unreadable_reasons(connection),
        throughput=read_throughput(connection),
        network_file=network.file.name if network is not None else None,
    )


def _accounting(connection: Connection, status: Status) -> Accounting:
    """Files and instances counted independently, so that they can be checked."""
    indexed = files.c.state == FileState.INDEXED.value
    primary = select(func.count()).select_from(
        instances.join(files, files.c.id == instances.c.file_id)
    )
    is_primary = exists().where(instances.c.file_id == files.c.id)
    extra = select(func.count()).select_from(files).where(indexed, ~is_primary)
    gone = (
        select(func.count())
        .select_from(instances.outerjoin(files, files.c.id == instances.c.file_id))
        .where(files.c.id.is_(None) | (files.c.state != FileState.INDEXED.value))
    )
    duplicated = select(func.count()).where(instances.c.copies > 1)
    return Accounting(
        files=status.files,
        unreadable=status.unreadable,
        primary_copies=connection.scalar(primary.where(indexed)) or 0,
        extra_copies=connection.scalar(extra) or 0,
        duplicated_uids=connection.scalar(duplicated) or 0,
        without_file=connection.scalar(gone) or 0,
        instances=status.instances,
    )


def _sources(connection: Connection, status: Status, order: list[str]) -> list[Tally]:
    """Each source's instances (by primary file) per outcome, and unreadable files."""
    query = (
        select(files.c.source, instances.c.outcome, func.count())
        .select_from(instances.outerjoin(files, files.c.id == instances.c.file_id))
        .group_by(files.c.source, instances.c.outcome)
    )
    counts: dict[str, dict[str, int]] = {}
    for source, outcome, count in connection.execute(query):
        counts.setdefault(source or NO_FILE, _zeros())[outcome] = count

    names = order + sorted((set(status.sources) | set(counts)) - set(order))
    return [
        Tally(
            name,
            counts.get(name, _zeros()),
            unreadable=status.sources[name].unreadable if name in status.sources else 0,
        )
        for name in names
    ]


def _destinations(connection: Connection, network: Network | None) -> list[Tally]:
    """Each destination's instances per outcome, with its kind and address."""
    query = (
        select(instances.c.destination, instances.c.outcome, func.count())
        .where(instances.c.destination.is_not(None))
        .group_by(instances.c.destination, instances.c.outcome)
    )
    counts: dict[str, dict[str, int]] = {}
    for destination, outcome, count in connection.execute(query):
        counts.setdefault(destination, _zeros())[outcome] = count

    configured = dict(network.destinations) if network is not None else {}
    names = list(configured) + sorted(set(counts) - set(configured))
    tallies = []
    for name in names:
        kind, address = _where(configured.get(name))
        tallies.append(Tally(name, counts.get(name, _zeros()), 0, kind, address))
    return tallies


def _where(config: Destination | None) -> tuple[str, str]:
    """A destination's kind and address, as the network file gives them."""
    if isinstance(config, DicomDestination):
        address = f"{config.ae_title}@{config.host}:{config.port}"
    elif isinstance(config, FolderDestination):
        address = str(config.path)
    else:
        address = ""
    return (config.kind if config is not None else "", address)


def _failures(connection: Connection) -> dict[str, int]:
    """Failed instances per DICOM status, most frequent first."""
    query = (
        select(instances.c.status, func.count())
        .where(instances.c.outcome == Outcome.FAILED.value)
        .group_by(instances.c.status)
    )
    counts = {
        describe(code) if code is not None else "no DICOM answer": count
        for code, count in connection.execute(query)
    }
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _unreadable_reasons(connection: Connection) -> dict[str, int]:
    """Unreadable files per kind of reason, most frequent first.

    Reasons carry byte offsets after a colon; the kind is the text before it.
    """
    query = (
        select(files.c.reason, func.count())
        .where(files.c.state == FileState.UNREADABLE.value)
        .group_by(files.c.reason)
    )
    counts: dict[str, int] = {}
    for reason, count in connection.execute(query):
        kind = (reason or "unknown").split(":", 1)[0].strip() or "unknown"
        counts[kind] = counts.get(kind, 0) + count
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _zeros() -> dict[str, int]:
    """Every outcome, at zero."""
    return dict.fromkeys((o.value for o in Outcome), 0)
