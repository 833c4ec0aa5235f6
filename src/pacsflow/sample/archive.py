"""Writing the sample's files into the stores: instances, copies, damage and junk.

Each instance's file goes to its striped store. Planted faults change what is written:
a missing instance is encoded (the legacy database records its size) but not written,
a duplicate gets a second file at the same path in the next store, a stale instance
gets an older copy there, and damaged files are cut short after writing.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pacsflow.sample.datasets import build_dataset, encode
from pacsflow.sample.manifest import FileEntry, UnreadableEntry, UnreadableWhy
from pacsflow.sample.model import Instance, Junk, Plan
from pacsflow.sample.pixels import FramePool

log = logging.getLogger(__name__)

_HEADER_CUT = 160  # bytes past the file meta information: inside the main header
_PIXEL_CUT = 0.6  # fraction of the file kept: inside the encapsulated pixel data
_JUNK_WHY: dict[str, UnreadableWhy] = {
    "thumbs": "non_dicom",
    "text": "non_dicom",
    "jpeg": "non_dicom",
    "empty": "empty",
}
_README = (
    b"ArchiveManager 2.3 export folder.\r\n"
    b"Index rebuilt nightly; do not move files by hand.\r\n"
)


@dataclass(frozen=True)
class DatabaseFile:
    """A file row of the legacy database: the instance, where, and its full size."""

    sop_instance_uid: str
    source: str
    path: str
    size: int


@dataclass(frozen=True)
class Archive:
    """What was written: every file, the unreadable ones, the database's file rows."""

    files: tuple[FileEntry, ...]
    unreadable: tuple[UnreadableEntry, ...]
    database_files: tuple[DatabaseFile, ...]


@dataclass
class _Writer:
    """Writes files under the sample root and remembers what it wrote."""

    root: Path
    created: list[Path]
    files: list[FileEntry] = field(default_factory=list)
    unreadable: list[UnreadableEntry] = field(default_factory=list)
    database_files: list[DatabaseFile] = field(default_factory=list)

    def put(self, source: str, path: str, data: bytes) -> None:
        """Write ``data`` to ``path`` inside store ``source``."""
        target = self.root / source / path
        target.parent.mkdir(parents=True, exist_ok=True)
        self.created.append(target)
        target.write_bytes(data)

    def readable(self, instance: Instance, source: str, data: bytes) -> None:
        """Write an intact copy of an instance and list it."""
        self.put(source, instance.path, data)
        series = instance.series
        self.files.append(
            FileEntry(
                source=source,
                path=instance.path,
                size=len(data),
                readable=True,
                sop_instance_uid=instance.uid,
                sop_class_uid=instance.sop_class,
                study_instance_uid=series.study.uid,
                series_instance_uid=series.uid,
                transfer_syntax=series.transfer_syntax,
                pixel_data=series.pixel_data,
                modality=series.modality,
            )
        )

    def broken(
        self,
        source: str,
        path: str,
        data: bytes,
        why: UnreadableWhy,
        uid: str | None = None,
    ) -> None:
        """Write a file that is not readable DICOM and list it with its reason."""
        self.put(source, path, data)
        self.files.append(
            FileEntry(
                source=source,
                path=path,
                size=len(data),
                readable=False,
                sop_instance_uid=None,
                sop_class_uid=None,
                study_instance_uid=None,
                series_instance_uid=None,
                transfer_syntax=None,
                pixel_data=None,
                modality=None,
            )
        )
        self.unreadable.append(UnreadableEntry(source, path, why, uid))


def write_archive(
    root: Path, plan: Plan, pool: FramePool, created: list[Path]
) -> Archive:
    """Write every store file of the plan under ``root``.

    Parameters
    ----------
    root : Path
        The sample directory; stores are folders inside it.
    plan : Plan
        What to write.
    pool : FramePool
        Encoded pixel data for images.
    created : list of Path
        Every file written is appended here first, so a failed run can be undone.

    Returns
    -------
    Archive
    """
    writer = _Writer(root, created)
    for instance in plan.instances:
        _write_instance(writer, instance, plan, pool)
    for position, junk in enumerate(plan.faults.junk):
        data = _junk_bytes(junk, plan.seed, position)
        writer.broken(junk.source, junk.path, data, _JUNK_WHY[junk.kind])
    log.debug("wrote %d files", len(writer.files))
    return Archive(
        files=tuple(sorted(writer.files, key=lambda f: (f.source, f.path))),
        unreadable=tuple(sorted(writer.unreadable, key=lambda f: (f.source, f.path))),
        database_files=tuple(writer.database_files),
    )


def _write_instance(
    writer: _Writer, instance: Instance, plan: Plan, pool: FramePool
) -> None:
    """Write one instance's file or files as its faults say."""
    faults = plan.faults
    uid, source, path = instance.uid, instance.source, instance.path
    data = encode(build_dataset(instance, plan, pool))
    if uid not in faults.orphans:
        writer.database_files.append(DatabaseFile(uid, source, path, len(data)))
    if uid in faults.missing:
        return
    if uid in faults.truncated_header:
        cut = _meta_end(data) + _HEADER_CUT
        writer.broken(source, path, data[:cut], "truncated_header", uid)
    elif uid in faults.truncated_pixel_data:
        cut = int(len(data) * _PIXEL_CUT)
        writer.broken(source, path, data[:cut], "truncated_pixel_data", uid)
    else:
        writer.readable(instance, source, data)
    _write_copy(writer, instance, plan, pool, data)


def _write_copy(
    writer: _Writer, instance: Instance, plan: Plan, pool: FramePool, data: bytes
) -> None:
    """Write the second copy of a duplicate or stale instance in the next store."""
    faults = plan.faults
    uid, copy_source = instance.uid, instance.copy_source
    if uid in faults.stale:
        # Left behind when the database was re-pointed: on disk, with no file row.
        older = encode(build_dataset(instance, plan, pool, "older"))
        writer.readable(instance, copy_source, older)
        return
    if uid in faults.duplicates_same:
        copy = data
    elif uid in faults.duplicates_different:
        copy = encode(build_dataset(instance, plan, pool, "resent"))
    else:
        return
    writer.readable(instance, copy_source, copy)
    # The old PACS recorded both copies, as it does for mirrored storage.
    writer.database_files.append(
        DatabaseFile(uid, copy_source, instance.path, len(copy))
    )


def _meta_end(data: bytes) -> int:
    """Return the offset where the file meta information ends."""
    # Preamble, "DICM", then (0002,0000) with explicit VR: its UL value at 140.
    return 144 + int.from_bytes(data[140:144], "little")


def _junk_bytes(junk: Junk, seed: int, position: int) -> bytes:
    """Return the content of one non-DICOM file."""
    key = hashlib.sha256(f"{seed}|{position}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(key[:8], "big"))
    if junk.kind == "thumbs":
        ole = (
            bytes.fromhex("d0cf11e0a1b11ae1")
            + bytes(16)
            + bytes.fromhex("3e000300feff0900")
        )
        return ole + rng.bytes(int(rng.integers(6, 24)) * 512)
    if junk.kind == "jpeg":
        jfif = bytes.fromhex("ffd8ffe000104a46494600010100000100010000")
        return jfif + rng.bytes(int(rng.integers(2, 12)) * 1024) + bytes.fromhex("ffd9")
    if junk.kind == "text":
        return _README
    return b""
