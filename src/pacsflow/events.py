"""The event log: one JSON line per instance transition, for people and tools to follow.

The ledger is the truth; the event log is its journal. Every time the ledger's one
writer moves an instance (to an outcome, back to ``pending`` on a retry or a release,
or to a verification result), it commits first and then tells its
:class:`EventSink` what changed. :class:`EventLog` writes each transition as a line
of JSON::

    {"at": "2026-12-04T07:12:03.512Z", "event": "sent", "sop_instance_uid": "1.2...",
     "study_instance_uid": "1.2...", "destination": "newpacs", "status": "0x0000"}

A line holds UIDs, the outcome, the reason, the destination and the DICOM status:
never a patient name, ID or birth date, and never a peer's free-text comment. The file
rotates by size (``events.jsonl`` → ``events.jsonl.1`` … up to ``backups`` files).
A sink that fails is logged once and never stops a migration: losing a journal line
costs nothing the ledger does not still hold.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Transition:
    """One instance moved from one state to another.

    Attributes
    ----------
    event : str
        What it became: an outcome (``sent``, ``sinbinned``, ``failed``,
        ``skipped``, ``pending``), ``released`` or a verification result
        (``verified``, ``missing``).
    sop_instance_uid : str
        The instance.
    at : datetime
        When the ledger recorded it.
    study_instance_uid : str, optional
        The (reconciled) study, when the writer knows it.
    destination : str, optional
        Where it went.
    reason : str, optional
        The sin-bin or skip reason, or what reopened it.
    status : int, optional
        The DICOM status of the destination's last answer.
    """

    event: str
    sop_instance_uid: str
    at: datetime
    study_instance_uid: str | None = None
    destination: str | None = None
    reason: str | None = None
    status: int | None = None

    def to_json(self) -> str:
        """The transition as one line of JSON, without empty fields."""
        values: dict[str, str] = {
            "at": self.at.astimezone(UTC).isoformat(timespec="milliseconds"),
            "event": self.event,
            "sop_instance_uid": self.sop_instance_uid,
        }
        optional = {
            "study_instance_uid": self.study_instance_uid,
            "destination": self.destination,
            "reason": self.reason,
            "status": None if self.status is None else f"0x{self.status:04X}",
        }
        values.update({k: v for k, v in optional.items() if v is not None})
        return json.dumps(values, separators=(", ", ": "))


class EventSink(Protocol):
    """Whatever wants to hear of transitions: the event log, later a dashboard."""

    def emit(self, transitions: Sequence[Transition]) -> None:
        """Take transitions the ledger has just committed."""


class NoEvents:
    """A sink that drops everything (a library caller that wants no journal)."""

    def emit(self, transitions: Sequence[Transition]) -> None:
        """Drop ``transitions``."""


class EventLog:
    """Appends transitions to a JSON-lines file that rotates by size.

    Parameters
    ----------
    path : Path or None
        The file; its folder is created if missing. None writes nothing (the
        network file turned the event log off).
    max_bytes : int
        Rotate before a write would take the file past this size.
    backups : int
        Rotated files kept (``path.1`` is the newest); the oldest is deleted.
    """

    def __init__(self, path: Path | None, *, max_bytes: int, backups: int) -> None:
        self.path = path
        self._max_bytes = max_bytes
        self._backups = backups
        self._file: IO[str] | None = None
        self._size = 0
        self._broken = False

    def emit(self, transitions: Sequence[Transition]) -> None:
        """Append one line per transition; on failure warn once and carry on."""
        if self.path is None or self._broken or not transitions:
            return
        try:
            self._write(self.path, (t.to_json() + "\n" for t in transitions))
        except OSError as exc:
            self._broken = True
            log.warning(
                "cannot write the event log %s (%s); the migration goes on and the "
                "ledger keeps every outcome, but no more events are written in this "
                "run: free the disk or fix the permissions",
                self.path,
                exc,
            )

    def close(self) -> None:
        """Close the file (it is opened again on the next emit)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> EventLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _write(self, path: Path, lines: Iterable[str]) -> None:
        """Write lines, rotating between them whenever the file would grow too big."""
        for line in lines:
            size = len(line.encode())
            if self._size and self._size + size > self._max_bytes:
                self._rotate(path)
            self._open(path).write(line)
            self._size += size
        self._open(path).flush()

    def _open(self, path: Path) -> IO[str]:
        """The open file, opened for appending if it is not."""
        if self._file is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")
            self._size = self._file.tell()
        return self._file

    def _rotate(self, path: Path) -> None:
        """``path`` → ``path.1`` → ``path.2`` …; the last backup is dropped."""
        self.close()
        if self._backups == 0:
            path.unlink(missing_ok=True)
        else:
            for n in range(self._backups - 1, 0, -1):
                older = _numbered(path, n)
                if older.exists():
                    older.replace(_numbered(path, n + 1))
            path.replace(_numbered(path, 1))
        self._size = 0


def _numbered(path: Path, n: int) -> Path:
    """The ``n``-th rotated file of ``path``."""
    return path.with_name(f"{path.name}.{n}")
