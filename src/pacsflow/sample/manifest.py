"""``manifest.json``: everything a generated sample planted, as frozen values.

The manifest is the answer key of the sample. Paths are relative to their source folder
and use forward slashes; header values are given as pydicom reads them back (trailing
spaces stripped); lists are sorted so that the same seed gives the same bytes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, cast

from pacsflow.errors import SampleError

MANIFEST_NAME = "manifest.json"

UnreadableWhy = Literal[
    "non_dicom", "truncated_header", "truncated_pixel_data", "empty"
]


@dataclass(frozen=True)
class FileRef:
    """Where one file lives: a source (storage folder) name and a path inside it."""

    source: str
    path: str


@dataclass(frozen=True)
class FileEntry:
    """One file on disk, with the header values it was written with.

    For files that are not readable (``readable`` false) every header field is
    ``None``; :class:`UnreadableEntry` says why.
    """

    source: str
    path: str
    size: int
    readable: bool
    sop_instance_uid: str | None
    sop_class_uid: str | None
    study_instance_uid: str | None
    series_instance_uid: str | None
    transfer_syntax: str | None
    pixel_data: bool | None
    modality: str | None


@dataclass(frozen=True)
class UnreadableEntry:
    """A file that is not readable DICOM, why, and the instance it held if any."""

    source: str
    path: str
    why: UnreadableWhy
    sop_instance_uid: str | None


@dataclass(frozen=True)
class StaleFile:
    """An older copy left on disk after the legacy database was re-pointed."""

    sop_instance_uid: str
    stale: FileRef
    current: FileRef


@dataclass(frozen=True)
class HeaderDrift:
    """One attribute on which a file's header and the legacy database disagree."""

    sop_instance_uid: str
    attribute: str
    header: str
    database: str


@dataclass(frozen=True)
class MergedInstance:
    """An instance the legacy database files under another study than its header."""

    sop_instance_uid: str
    header_study: str
    database_study: str


@dataclass(frozen=True)
class MatrixCell:
    """How many distinct readable instances have this SOP class and transfer syntax."""

    sop_class: str
    transfer_syntax: str
    count: int


@dataclass(frozen=True)
class Expected:
    """Totals a scan of the sample must arrive at."""

    files: int
    unreadable: int
    instances: int
    matrix: tuple[MatrixCell, ...]


@dataclass(frozen=True)
class SampleManifest:
    """The answer key of a generated sample archive (``manifest.json``).

    Attributes
    ----------
    seed, studies : int
        The arguments the sample was generated with.
    network, legacy_database, exclusions : str
        File names, relative to the sample directory, of the network file, the legacy
        SQLite database and the study exclusion list.
    sources : Mapping[str, str]
        Source name to its folder, relative to the sample directory.
    files : tuple of FileEntry
        Every file written into the source folders, sorted by (source, path).
    unreadable : tuple of UnreadableEntry
        The files that are not readable DICOM, sorted by (source, path).
    orphans : tuple of str
        SOP Instance UIDs on disk that the legacy database does not know.
    missing_on_disk : tuple of str
        SOP Instance UIDs the legacy database lists whose file is not on disk.
    duplicates_same_content, duplicates_different_content : tuple of str
        SOP Instance UIDs stored twice, byte-identical or not. The legacy database
        holds a file row for each copy.
    stale_files : tuple of StaleFile
        SOP Instance UIDs stored twice where the legacy database points at one copy
        (``current``) and an older, different copy (``stale``) was left behind.
    header_drift : tuple of HeaderDrift
        Every disagreement between a readable file's header and the legacy database
        on PatientID, PatientName, PatientBirthDate, AccessionNumber or StudyDate.
    merged : tuple of MergedInstance
        Instances whose StudyInstanceUID differs between header and database.
    excluded_studies : tuple of str
        The StudyInstanceUIDs named in the exclusion list.
    expected : Expected
        Totals a scan must find.
    """

    seed: int
    studies: int
    network: str
    legacy_database: str
    exclusions: str
    sources: Mapping[str, str]
    files: tuple[FileEntry, ...]
    unreadable: tuple[UnreadableEntry, ...]
    orphans: tuple[str, ...]
    missing_on_disk: tuple[str, ...]
    duplicates_same_content: tuple[str, ...]
    duplicates_different_content: tuple[str, ...]
    stale_files: tuple[StaleFile, ...]
    header_drift: tuple[HeaderDrift, ...]
    merged: tuple[MergedInstance, ...]
    excluded_studies: tuple[str, ...]
    expected: Expected

    def to_json(self) -> str:
        """Return the manifest as JSON text, the same bytes for the same sample.

        Returns
        -------
        str
            Indented JSON with a trailing newline; non-ASCII names are kept as is.
        """
        return json.dumps(_to_plain(self), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> SampleManifest:
        """Read a manifest written by :meth:`to_json`.

        Parameters
        ----------
        path : str or os.PathLike
            The ``manifest.json`` file.

        Returns
        -------
        SampleManifest

        Raises
        ------
        SampleError
            If the file cannot be read or is not a sample manifest.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SampleError(
                f"expected a sample manifest at {path}, but it cannot be read ({exc}); "
                "regenerate the sample or point at the sample's manifest.json"
            ) from exc
        try:
            return _from_plain(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SampleError(
                f"expected a sample manifest at {path}, but it lacks or garbles "
                f"{exc}; regenerate the sample with `pacsflow sample`"
            ) from exc


def load_manifest(path: str | os.PathLike[str]) -> SampleManifest:
    """Load a sample's manifest from its ``manifest.json`` or from the sample directory.

    Parameters
    ----------
    path : str or os.PathLike
        The manifest file, or the directory that holds it.

    Returns
    -------
    SampleManifest

    Raises
    ------
    SampleError
        If there is no readable manifest there.
    """
    target = Path(path)
    if target.is_dir():
        target = target / MANIFEST_NAME
    return SampleManifest.from_json(target)


def _to_plain(value: Any) -> Any:
    """Turn dataclasses, tuples and mappings into JSON-ready dicts and lists."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(key): _to_plain(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_to_plain(item) for item in value]
    return value


def _from_plain(data: dict[str, Any]) -> SampleManifest:
    """Build a manifest from parsed JSON; raises KeyError/TypeError when malformed."""
    expected = data["expected"]
    return SampleManifest(
        seed=int(data["seed"]),
        studies=int(data["studies"]),
        network=str(data["network"]),
        legacy_database=str(data["legacy_database"]),
        exclusions=str(data["exclusions"]),
        sources=MappingProxyType({str(k): str(v) for k, v in data["sources"].items()}),
        files=tuple(FileEntry(**item) for item in data["files"]),
        unreadable=tuple(UnreadableEntry(**item) for item in data["unreadable"]),
        orphans=_strings(data["orphans"]),
        missing_on_disk=_strings(data["missing_on_disk"]),
        duplicates_same_content=_strings(data["duplicates_same_content"]),
        duplicates_different_content=_strings(data["duplicates_different_content"]),
        stale_files=tuple(_stale(item) for item in data["stale_files"]),
        header_drift=tuple(HeaderDrift(**item) for item in data["header_drift"]),
        merged=tuple(MergedInstance(**item) for item in data["merged"]),
        excluded_studies=_strings(data["excluded_studies"]),
        expected=Expected(
            files=int(expected["files"]),
            unreadable=int(expected["unreadable"]),
            instances=int(expected["instances"]),
            matrix=tuple(MatrixCell(**cell) for cell in expected["matrix"]),
        ),
    )


def _strings(items: list[Any]) -> tuple[str, ...]:
    """Check that a JSON list holds only strings."""
    if not all(isinstance(item, str) for item in items):
        raise TypeError("a list of UIDs holds something other than strings")
    return tuple(cast(list[str], items))


def _stale(item: dict[str, Any]) -> StaleFile:
    """Build a stale-file entry from its JSON object."""
    return StaleFile(
        sop_instance_uid=str(item["sop_instance_uid"]),
        stale=FileRef(**item["stale"]),
        current=FileRef(**item["current"]),
    )
