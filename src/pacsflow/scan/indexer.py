"""The parallel indexer: every file of every source into the ledger.

The main process walks the sources folder by folder, asks the ledger which files are new
or changed, and hands those to a pool of worker processes in small batches. Workers
read headers only (:mod:`pacsflow.scan.header`) and return plain values; the main
process is the ledger's one writer. At most a few batches per worker are in flight, so
memory stays flat however large the archive. After the walk, the decisions that need
the whole archive are made set-wise: new instances, duplicate UIDs (same or different
content, told apart by a content hash computed only for them).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine

from pacsflow.config import Network, Source
from pacsflow.executor import default_workers, make_executor
from pacsflow.ledger import index
from pacsflow.ledger.index import FileRecord, KnownFile
from pacsflow.outcomes import FileState
from pacsflow.scan.walk import Entry, Folder, count_files, walk
from pacsflow.scan.worker import HEADER_FIELDS, ReadResult, hash_file, read_batch

log = logging.getLogger(__name__)

_BATCH = 64  # files per task handed to a worker
_IN_FLIGHT_PER_WORKER = 4
_WRITE_EVERY = 2000  # records per ledger transaction


class ScanObserver(Protocol):
    """Receives the scan's progress; the CLI's progress bar is one."""

    def add_total(self, files: int) -> None:
        """More files were counted in the sources."""

    def advance(self, files: int) -> None:
        """This many more files were dealt with (read, or found unchanged)."""


@dataclass
class ScanSummary:
    """What one scan found and did."""

    seen: int = 0
    read: int = 0
    unchanged: int = 0
    unreadable: int = 0
    vanished: int = 0
    new_instances: int = 0
    duplicates_same: int = 0
    duplicates_different: int = 0
    missing_sources: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def files_per_second(self) -> float:
        """Files dealt with per second of the whole scan."""
        return self.seen / self.seconds if self.seconds else 0.0


@dataclass(frozen=True, slots=True)
class _Item:
    """A file to read: its folder, what the walk saw, what the ledger knew."""

    folder: str
    entry: Entry
    known: KnownFile | None


@dataclass(frozen=True, slots=True)
class _Task:
    """A batch in flight, with what is needed to record its results."""

    source: str
    items: list[_Item]
    future: Future[list[ReadResult]]


class Indexer:
    """Scans a network's sources into its ledger; one instance per scan."""

    def __init__(
        self,
        network: Network,
        engine: Engine,
        *,
        workers: int | None = None,
        observer: ScanObserver | None = None,
    ) -> None:
        self._network = network
        self._engine = engine
        self._workers = workers or network.scan.workers or default_workers()
        self._observer = observer
        self._pending: list[FileRecord] = []
        self._source_known = False
        self.summary = ScanSummary()

    def run(self, sources: Iterable[Source] | None = None) -> ScanSummary:
        """Scan ``sources`` (default: all of the network's) and return the summary."""
        chosen = list(sources if sources is not None else self._network.sources)
        started = time.perf_counter()
        with self._engine.begin() as connection:
            scan_id = index.begin_scan(connection)
        with make_executor(self._workers) as executor:
            readable = self._check_sources(chosen)
            self._start_counting(readable)
            self._scan(executor, scan_id, readable)
            self._flush(scan_id)
            self._settle_instances(executor)
        self.summary.seconds = time.perf_counter() - started
        with self._engine.begin() as connection:
            index.finish_scan(
                connection,
                scan_id,
                seen=self.summary.seen,
                read=self.summary.read,
                unreadable=self.summary.unreadable,
            )
        return self.summary

    def _check_sources(self, sources: list[Source]) -> list[Source]:
        """The sources whose folder can be listed; the others are reported."""
        readable = []
        for source in sources:
            if source.path.is_dir() and os.access(source.path, os.R_OK | os.X_OK):
                readable.append(source)
            else:
                log.error(
                    "source %s: %s is not a readable folder; check the path in the "
                    "network file and that the share is mounted",
                    source.name,
                    source.path,
                )
                self.summary.missing_sources.append(source.name)
        return readable

    def _start_counting(self, sources: list[Source]) -> None:
        """Count the files in a side thread, so progress has a total and an ETA."""
        observer = self._observer
        if observer is None:
            return

        def count() -> None:
            for source in sources:
                observer.add_total(count_files(source.path))

        threading.Thread(target=count, name="pacsflow-count", daemon=True).start()

    def _scan(self, executor: Executor, scan_id: int, sources: list[Source]) -> None:
        """Walk every source and keep the workers fed with batches."""
        in_flight: deque[_Task] = deque()
        limit = self._workers * _IN_FLIGHT_PER_WORKER
        for task in self._tasks(executor, scan_id, sources):
            in_flight.append(task)
            while len(in_flight) >= limit:
                self._collect(in_flight.popleft(), scan_id)
        while in_flight:
            self._collect(in_flight.popleft(), scan_id)

    def _tasks(
        self, executor: Executor, scan_id: int, sources: list[Source]
    ) -> Iterator[_Task]:
        """Batches of new or changed files; a batch may span small folders."""
        for source in sources:
            root = str(source.path)
            batch: list[_Item] = []
            for folder in self._folders(source):
                known = self._known(source, folder.relative)
                for entry in self._changed(folder.entries, known):
                    batch.append(_Item(folder.relative, entry, known.get(entry.name)))
                    if len(batch) == _BATCH:
                        yield self._submit(executor, source.name, root, batch)
                        batch = []
                self._vanish(scan_id, folder.entries, known)
            if batch:
                yield self._submit(executor, source.name, root, batch)

    def _folders(self, source: Source) -> Iterator[Folder]:
        """The source's folders; remembers whether the ledger knows any of them."""
        with self._engine.connect() as connection:
            self._source_known = index.has_files(connection, source.name)
        return walk(source.path)

    def _known(self, source: Source, folder: str) -> dict[str, KnownFile]:
        """What the ledger holds of one folder (nothing, on a source's first scan)."""
        if not self._source_known:
            return {}
        with self._engine.connect() as connection:
            return index.known_files(connection, source.name, folder)

    @staticmethod
    def _submit(
        executor: Executor, source: str, root: str, items: list[_Item]
    ) -> _Task:
        """Hand one batch to a worker."""
        files = [(item.folder, item.entry.name) for item in items]
        return _Task(source, items, executor.submit(read_batch, root, files))

    def _changed(
        self, entries: Sequence[Entry], known: dict[str, KnownFile]
    ) -> list[Entry]:
        """The entries to read: new, changed, or unreadable last time."""
        todo = []
        for entry in entries:
            seen = known.get(entry.name)
            if (
                seen is None
                or seen.size != entry.size
                or seen.mtime_ns != entry.mtime_ns
                or seen.state != FileState.INDEXED
            ):
                todo.append(entry)
        unchanged = len(entries) - len(todo)
        self.summary.seen += unchanged
        self.summary.unchanged += unchanged
        if unchanged and self._observer is not None:
            self._observer.advance(unchanged)
        return todo

    def _vanish(
        self, scan_id: int, entries: Sequence[Entry], known: dict[str, KnownFile]
    ) -> None:
        """Mark the folder's files that the ledger knows and the disk no longer has."""
        present = {entry.name for entry in entries}
        gone = [
            k.id
            for name, k in known.items()
            if name not in present and k.state != FileState.VANISHED
        ]
        if gone:
            self.summary.vanished += len(gone)
            with self._engine.begin() as connection:
                index.mark_vanished(connection, scan_id, gone)

    def _collect(self, task: _Task, scan_id: int) -> None:
        """Turn a finished batch into ledger records; write when enough piled up."""
        for item, (values, reason) in zip(
            task.items, task.future.result(), strict=True
        ):
            self._pending.append(_record(task.source, item, values, reason))
            if values is None:
                self.summary.unreadable += 1
                log.debug(
                    "unreadable %s/%s/%s: %s",
                    task.source,
                    item.folder,
                    item.entry.name,
                    reason,
                )
        self.summary.seen += len(task.items)
        self.summary.read += len(task.items)
        if self._observer is not None:
            self._observer.advance(len(task.items))
        if len(self._pending) >= _WRITE_EVERY:
            self._flush(scan_id)

    def _flush(self, scan_id: int) -> None:
        """Write the pending records in one transaction."""
        if self._pending:
            with self._engine.begin() as connection:
                index.write_files(connection, scan_id, self._pending)
            self._pending = []

    def _settle_instances(self, executor: Executor) -> None:
        """Create new instances and decide every duplicated UID's copies."""
        with self._engine.begin() as connection:
            self.summary.new_instances = index.add_new_instances(connection)
            uids = list(index.instances_to_refresh(connection))
        for start in range(0, len(uids), 500):
            with self._engine.begin() as connection:
                for uid in uids[start : start + 500]:
                    self._refresh(connection, executor, uid)

    def _refresh(self, connection: Any, executor: Executor, uid: str) -> None:
        """Hash one UID's copies where needed and record how they compare."""
        copies = index.copies_of(connection, uid)
        if len(copies) > 1:
            unhashed = [c for c in copies if c.content_hash is None]
            futures = {
                c.id: executor.submit(hash_file, self._path_of(c)) for c in unhashed
            }
            hashes = {file_id: future.result() for file_id, future in futures.items()}
            index.store_hashes(connection, hashes)
            copies = index.copies_of(connection, uid)
            if len({c.content_hash for c in copies}) == 1:
                self.summary.duplicates_same += 1
            else:
                self.summary.duplicates_different += 1
        index.refresh_instance(connection, uid, copies)

    def _path_of(self, copy: index.Copy) -> str:
        """The absolute path of a copy on disk."""
        root = self._network.source(copy.source).path
        return str(Path(root, copy.folder, copy.name))


def _record(
    source: str, item: _Item, values: tuple[object, ...] | None, reason: str | None
) -> FileRecord:
    """A ledger record from one file's read result."""
    return FileRecord(
        source=source,
        folder=item.folder,
        name=item.entry.name,
        size=item.entry.size,
        mtime_ns=item.entry.mtime_ns,
        state=FileState.INDEXED if values is not None else FileState.UNREADABLE,
        reason=reason,
        header=dict(zip(HEADER_FIELDS, values, strict=True)) if values else {},
        known_id=item.known.id if item.known is not None else None,
    )


def scan_network(
    network: Network,
    engine: Engine,
    *,
    workers: int | None = None,
    observer: ScanObserver | None = None,
) -> ScanSummary:
    """Index every source of ``network`` into the ledger behind ``engine``.

    Parameters
    ----------
    network : Network
        The loaded network file.
    engine : Engine
        The ledger, opened with :func:`pacsflow.ledger.database.open_ledger`.
    workers : int, optional
        Worker processes; default the network's ``scan.workers``, else one per core.
    observer : ScanObserver, optional
        Told of the total and of every file dealt with, for progress display.
    """
    return Indexer(network, engine, workers=workers, observer=observer).run()
