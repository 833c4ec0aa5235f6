"""The folder destination: each instance as a DICOM file in a tree of UIDs.

``<folder>/<Study Instance UID>/<Series Instance UID>/<SOP Instance UID>.dcm``: the
original file, byte for byte, or with its header reconciled (pixel data untouched).
Every path component is a UID checked to be digits and dots, never raw header text,
so a header cannot steer a file out of the folder; a value that is not a plain UID is
replaced by a hash of it. Files are written to a
temporary name and renamed, so a reader never sees half a file. A full or unwritable
disk pauses the destination: nothing is recorded as stored that was not written. A
``throttle`` spaces the writes out, each worker at its share of the limits
(:mod:`pacsflow.destinations.throttle`), to spare a disk or file server in use.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

from pacsflow.config.throttle import ThrottleOptions
from pacsflow.destinations.base import (
    BatchResult,
    Delivery,
    Item,
    failed,
    not_tried,
    stored,
)
from pacsflow.destinations.throttle import Pacer, ReadPacing
from pacsflow.reconcile.fix import HeaderFixError, patched_file

log = logging.getLogger(__name__)

_UID = re.compile(r"[0-9]+(\.[0-9]+)*")


def safe_component(uid: str) -> str:
    """A path component for ``uid``: the UID itself if plain, else ``x`` + its hash."""
    if len(uid) <= 64 and _UID.fullmatch(uid):
        return uid
    return "x" + hashlib.sha256(uid.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def relative_path(item: Item) -> Path:
    """Where an instance goes below the folder."""
    return Path(
        safe_component(item.study_instance_uid),
        safe_component(item.series_instance_uid),
        safe_component(item.sop_instance_uid) + ".dcm",
    )


class Folder:
    """Copies each instance's file into the folder tree, atomically.

    Parameters
    ----------
    root : Path
        The folder.
    throttle : ThrottleOptions, optional
        The destination's rate limits; default none.
    share : int
        How many batches of the destination may be in flight at once (the run's
        workers), each paced at its share of the throttle.
    """

    def __init__(
        self, root: Path, throttle: ThrottleOptions | None = None, share: int = 1
    ) -> None:
        self._root = root
        self._reads = ReadPacing()
        self._pacer = None if throttle is None else Pacer(throttle, share)

    def deliver(self, items: Sequence[Item]) -> BatchResult:
        """Copy each file; stop and pause at the first write the disk refuses."""
        deliveries: list[Delivery] = []
        for position, item in enumerate(items):
            target = self._root / relative_path(item)
            self._reads.wait(item)
            if self._pacer is not None:
                self._pacer.wait(item.size)
            try:
                if item.fixes:
                    self._write(patched_file(item.path, item.fixes), target)
                else:
                    self._copy(Path(item.path), target)
            except FileNotFoundError as exc:
                detail = f"the source file is gone: {exc.filename}"
                deliveries.append(failed(item, detail))
            except HeaderFixError as exc:
                deliveries.append(failed(item, str(exc)))
            except OSError as exc:
                why = (
                    f"cannot write to the folder {self._root}: {exc.strerror}; free "
                    "space or fix permissions, then run again"
                )
                log.error("%s", why)
                deliveries.extend(not_tried(items[position:], why))
                return BatchResult(deliveries, paused=why)
            else:
                deliveries.append(stored(item, detail=str(target)))
        return BatchResult(deliveries)

    @classmethod
    def _copy(cls, source: Path, target: Path) -> None:
        """Copy the file through a temporary file, then rename."""
        with open(source, "rb") as reader:
            cls._atomically(target, lambda w: shutil.copyfileobj(reader, w, 1 << 20))

    @classmethod
    def _write(cls, data: bytes, target: Path) -> None:
        """Write ``data`` through a temporary file, then rename."""
        cls._atomically(target, lambda w: w.write(data))

    @staticmethod
    def _atomically(target: Path, fill: Callable[[BinaryIO], object]) -> None:
        """Fill a temporary file in the target's folder, sync it, rename it."""
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=".incoming-", suffix=".part"
        )
        try:
            with os.fdopen(handle, "wb") as writer:
                fill(writer)
                writer.flush()
                os.fsync(writer.fileno())
            Path(temporary).replace(target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
