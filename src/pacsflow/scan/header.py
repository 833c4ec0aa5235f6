"""Reading what the index needs from a DICOM file's header, fast and in bounded memory.

The scanner reads millions of files, so it does not build a pydicom dataset for each.
It walks the elements of the file with ``struct``, keeps the handful of values the
ledger records, skips every other value by its length (a seek, not a read), and stops
at the pixel data, whose layout it checks against the file's size without reading it.
Files in encodings this walker does not handle (big endian, deflated, no preamble) and
files it finds malformed are handed to pydicom for a second opinion.

A file that is not readable DICOM raises :class:`UnreadableFileError` with a reason
meant for the person reviewing the ledger.
"""

from __future__ import annotations

import io
import logging
import os
import struct
import warnings
from dataclasses import dataclass
from typing import BinaryIO

log = logging.getLogger(__name__)

_CHUNK = 16384
_MAX_DEPTH = 32
_MAX_VALUE = 1024  # longest value of a wanted element that is decoded

IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2"
EXPLICIT_VR_BIG_ENDIAN = "1.2.840.10008.1.2.2"
DEFLATED = ("1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.8.1")

# Explicit VRs whose length field is 4 bytes after 2 reserved bytes (PS3.5 §7.1.2).
_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR"}
    | {b"UT", b"UV"}
)

_ITEM = 0xFFFEE000
_ITEM_END = 0xFFFEE00D
_SEQUENCE_END = 0xFFFEE0DD
_PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})
_UNDEFINED = 0xFFFFFFFF

# The elements the ledger records, by tag.
_WANTED = {
    0x00020002: "media_sop_class_uid",
    0x00020003: "media_sop_instance_uid",
    0x00020010: "transfer_syntax",
    0x00080016: "sop_class_uid",
    0x00080018: "sop_instance_uid",
    0x00080020: "study_date",
    0x00080060: "modality",
    0x0020000D: "study_instance_uid",
    0x0020000E: "series_instance_uid",
    0x00200011: "series_number",
    0x00200013: "instance_number",
}

# The attributes a legacy database may be authoritative for (PS3.6 keywords), kept
# as their raw bytes read as Latin-1 (lossless): reconciliation decodes them with the
# file's Specific Character Set, which is kept too.
RECONCILED = {
    0x00080005: "SpecificCharacterSet",
    0x00080020: "StudyDate",
    0x00080030: "StudyTime",
    0x00080050: "AccessionNumber",
    0x00080060: "Modality",
    0x00080080: "InstitutionName",
    0x00080090: "ReferringPhysicianName",
    0x00081030: "StudyDescription",
    0x0008103E: "SeriesDescription",
    0x00100010: "PatientName",
    0x00100020: "PatientID",
    0x00100021: "IssuerOfPatientID",
    0x00100030: "PatientBirthDate",
    0x00100040: "PatientSex",
    0x00101000: "OtherPatientIDs",
    0x00101010: "PatientAge",
    0x00180015: "BodyPartExamined",
    0x0020000D: "StudyInstanceUID",
    0x0020000E: "SeriesInstanceUID",
    0x00200010: "StudyID",
    0x00200011: "SeriesNumber",
    0x00200013: "InstanceNumber",
}

_UID_CHARS = frozenset("0123456789.")

_TAG_NAMES = {
    0x00020010: "(0002,0010) Transfer Syntax UID",
    0x00080016: "(0008,0016) SOP Class UID",
    0x00080018: "(0008,0018) SOP Instance UID",
}


class UnreadableFileError(Exception):
    """The file is not readable DICOM; ``reason`` says why, for the ledger."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _NeedsPydicomError(Exception):
    """The fast walker cannot decide; pydicom should have a look."""


@dataclass(frozen=True, slots=True)
class Header:
    """The attributes of one DICOM file that the ledger records."""

    sop_class_uid: str
    sop_instance_uid: str
    study_instance_uid: str | None
    series_instance_uid: str | None
    transfer_syntax: str
    pixel_data: bool
    modality: str | None
    study_date: str | None
    series_number: int | None
    instance_number: int | None
    attributes: tuple[tuple[str, str], ...] = ()
    """(keyword, raw value as Latin-1 text) of the :data:`RECONCILED` elements."""


def read_header(path: str | os.PathLike[str]) -> Header:
    """Read the ledger's attributes from the DICOM file at ``path``.

    Raises
    ------
    UnreadableFileError
        If the file is not DICOM, is truncated, or lacks the UIDs every instance needs.
    OSError
        If the file cannot be opened or read.
    """
    with open(path, "rb", buffering=0) as fp:
        size = os.fstat(fp.fileno()).st_size
        if size == 0:
            raise UnreadableFileError("empty file (0 bytes)")
        try:
            walker = _Walker(fp, size)
            values, pixel_data = walker.walk()
        except _NeedsPydicomError as exc:
            log.debug("%s: %s; asking pydicom", path, exc)
            return _read_with_pydicom(path, str(exc))
    return _header_from(values, pixel_data, walker.attributes)


def _header_from(
    values: dict[str, str], pixel_data: bool, attributes: dict[str, str]
) -> Header:
    """Check the required values and build the header."""
    sop_class = values.get("sop_class_uid") or values.get("media_sop_class_uid")
    sop_instance = values.get("sop_instance_uid") or values.get(
        "media_sop_instance_uid"
    )
    if not sop_instance:
        raise UnreadableFileError(f"no {_TAG_NAMES[0x00080018]} in the header")
    if not sop_class:
        raise UnreadableFileError(f"no {_TAG_NAMES[0x00080016]} in the header")
    for tag, uid in ((0x00080018, sop_instance), (0x00080016, sop_class)):
        if len(uid) > 64 or not _UID_CHARS.issuperset(uid):
            raise UnreadableFileError(
                f"{_TAG_NAMES[tag]} is not a UID: {uid[:70]!r}; expected at most 64 "
                "digits and dots"
            )
    return Header(
        sop_class_uid=sop_class,
        sop_instance_uid=sop_instance,
        study_instance_uid=values.get("study_instance_uid") or None,
        series_instance_uid=values.get("series_instance_uid") or None,
        transfer_syntax=values.get("transfer_syntax") or IMPLICIT_VR_LITTLE_ENDIAN,
        pixel_data=pixel_data,
        modality=values.get("modality") or None,
        study_date=(values.get("study_date") or "")[:8] or None,
        series_number=_to_int(values.get("series_number")),
        instance_number=_to_int(values.get("instance_number")),
        attributes=tuple(sorted(attributes.items())),
    )


def _to_int(text: str | None) -> int | None:
    """An Integer String value as int, or None when absent or not a number."""
    if not text:
        return None
    try:
        return int(text.split("\\")[0])
    except ValueError:
        return None


def _decode(raw: bytes) -> str:
    """A text value without its padding."""
    return raw.decode("latin-1").strip(" \x00")


class _Walker:
    """Walks one file's elements through a small window onto the file."""

    def __init__(self, fp: BinaryIO, size: int) -> None:
        self._fp = fp
        self._size = size
        self._buf = b""
        self._start = 0  # file offset of self._buf[0]
        self.values: dict[str, str] = {}
        self.attributes: dict[str, str] = {}

    def walk(self) -> tuple[dict[str, str], bool]:
        """Return the wanted values and whether the data set has pixel data."""
        if self._size < 132 or self._bytes(128, 4) != b"DICM":
            raise _NeedsPydicomError("no 'DICM' marker at byte 128")
        pos = self._meta(132)
        syntax = self.values.get("transfer_syntax")
        if syntax is None:
            raise UnreadableFileError(f"no {_TAG_NAMES[0x00020010]} in the file meta")
        if syntax == EXPLICIT_VR_BIG_ENDIAN or syntax in DEFLATED:
            raise _NeedsPydicomError(f"transfer syntax {syntax} is read by pydicom")
        explicit = syntax != IMPLICIT_VR_LITTLE_ENDIAN
        pixel_data = self._dataset(pos, self._size, explicit, depth=0)
        return self.values, pixel_data

    def _bytes(self, pos: int, n: int) -> bytes:
        """``n`` bytes at file offset ``pos``; UnreadableFileError past the end."""
        end = pos + n
        if end > self._size:
            raise UnreadableFileError(
                f"truncated: the file ends at byte {self._size}, inside an element "
                f"that needs bytes up to {end}"
            )
        offset = pos - self._start
        if offset < 0 or end - self._start > len(self._buf):
            self._fp.seek(pos)
            self._buf = self._fp.read(max(n, _CHUNK))
            self._start = pos
            offset = 0
        return self._buf[offset : offset + n]

    def _meta(self, pos: int) -> int:
        """Read the file meta group (always explicit VR little endian)."""
        while pos + 8 <= self._size:
            head = self._bytes(pos, 8)
            group = head[0] | head[1] << 8
            if group != 0x0002:
                return pos
            tag, _vr, length, pos = self._element(pos, explicit=True)
            if length == _UNDEFINED:
                raise _NeedsPydicomError("undefined length in the file meta")
            self._keep(tag, pos, length)
            pos += length
        return pos

    def _element(self, pos: int, explicit: bool) -> tuple[int, bytes, int, int]:
        """Decode an element header: (tag, VR, value length, value offset)."""
        head = self._bytes(pos, 8)
        group, elem = struct.unpack_from("<HH", head)
        tag = group << 16 | elem
        if group == 0xFFFE or not explicit:
            (length,) = struct.unpack_from("<I", head, 4)
            return tag, b"", length, pos + 8
        vr = head[4:6]
        if vr in _LONG_VRS:
            (length,) = struct.unpack_from("<I", self._bytes(pos + 8, 4))
            return tag, vr, length, pos + 12
        if not (65 <= vr[0] <= 90 and 65 <= vr[1] <= 90):
            raise _NeedsPydicomError(f"no VR at element ({group:04X},{elem:04X})")
        (length,) = struct.unpack_from("<H", head, 6)
        return tag, vr, length, pos + 8

    def _keep(self, tag: int, pos: int, length: int) -> None:
        """Remember the value of a wanted element."""
        name = _WANTED.get(tag)
        keyword = RECONCILED.get(tag)
        if length > _MAX_VALUE or (name is None and keyword is None):
            return
        raw = self._bytes(pos, length)
        if name is not None and name not in self.values:
            self.values[name] = _decode(raw)
        if keyword is not None and keyword not in self.attributes:
            self.attributes[keyword] = _decode(raw)

    def _dataset(self, pos: int, end: int, explicit: bool, depth: int) -> bool:
        """Walk a data set to ``end`` (or to pixel data); True if it has pixel data."""
        while pos < end:
            if pos + 8 > self._size:
                raise UnreadableFileError(
                    f"truncated: the file ends at byte {self._size} inside the header"
                )
            tag, vr, length, pos = self._element(pos, explicit)
            if depth == 0 and tag in _PIXEL_TAGS:
                self._pixel_data(pos, length, explicit)
                return True
            if length == _UNDEFINED:
                implicit_items = not explicit or vr == b"UN"
                pos = self._sequence(pos, not implicit_items, depth + 1)
                continue
            if depth == 0:
                self._keep(tag, pos, length)
            pos += length
        if pos > self._size:
            raise UnreadableFileError(
                f"truncated: an element's value ends at byte {pos}, past the end of "
                f"the file at byte {self._size}"
            )
        return False

    def _sequence(self, pos: int, explicit: bool, depth: int) -> int:
        """Skip a sequence of undefined length; return the offset after it."""
        if depth > _MAX_DEPTH:
            raise UnreadableFileError(
                f"sequences nested deeper than {_MAX_DEPTH} levels"
            )
        while True:
            tag, _vr, length, pos = self._element(pos, explicit=False)
            if tag == _SEQUENCE_END:
                return pos
            if tag != _ITEM:
                raise _NeedsPydicomError(
                    f"element {tag:08X} where a sequence item was due"
                )
            if length == _UNDEFINED:
                pos = self._item(pos, explicit, depth)
            else:
                pos += length
                if pos > self._size:
                    raise UnreadableFileError(
                        f"truncated: a sequence item ends at byte {pos}, past the "
                        f"end of the file at byte {self._size}"
                    )

    def _item(self, pos: int, explicit: bool, depth: int) -> int:
        """Walk an item of undefined length; return the offset after its end."""
        while True:
            if pos + 8 > self._size:
                raise UnreadableFileError(
                    f"truncated: the file ends at byte {self._size} inside a sequence"
                )
            tag, vr, length, value = self._element(pos, explicit)
            if tag == _ITEM_END:
                return value
            if length == _UNDEFINED:
                pos = self._sequence(value, explicit and vr != b"UN", depth + 1)
            else:
                pos = value + length

    def _pixel_data(self, pos: int, length: int, explicit: bool) -> None:
        """Check that the pixel data lies wholly inside the file."""
        if length != _UNDEFINED:
            if pos + length > self._size:
                raise UnreadableFileError(
                    f"truncated pixel data: (7FE0,0010) declares {length} bytes but "
                    f"the file ends {self._size - pos} bytes after its start"
                )
            return
        # Encapsulated: a basic offset table item, then fragments, then a delimiter.
        while True:
            if pos + 8 > self._size:
                raise UnreadableFileError(
                    f"truncated pixel data: the file ends at byte {self._size} "
                    "before the sequence delimiter of the encapsulated fragments"
                )
            tag, _vr, length, pos = self._element(pos, explicit=False)
            if tag == _SEQUENCE_END:
                return
            if tag != _ITEM or length == _UNDEFINED:
                raise UnreadableFileError(
                    f"malformed encapsulated pixel data: element {tag:08X} where a "
                    "fragment item was due"
                )
            pos += length
            if pos > self._size:
                raise UnreadableFileError(
                    f"truncated pixel data: a fragment ends at byte {pos}, past the "
                    f"end of the file at byte {self._size}"
                )


def _read_with_pydicom(path: str | os.PathLike[str], why: str) -> Header:
    """Second opinion from pydicom for files the fast walker does not handle."""
    from pydicom import dcmread
    from pydicom.errors import BytesLengthException, InvalidDicomError

    try:
        # pydicom warns about what it guesses in a malformed file, and again when a
        # guessed value is read; the guesses are judged below, and a warning turned
        # into an error must not stop a scan
        with warnings.catch_warnings(), _CappedFile(path) as fp:
            warnings.simplefilter("ignore")
            ds = dcmread(fp, defer_size=_MAX_VALUE, force=True)
            values = {
                name: _pydicom_value(ds, tag)
                for tag, name in _WANTED.items()
                if tag in ds or (tag >> 16 == 2 and tag in ds.file_meta)
            }
            pixel_data = any(tag in ds for tag in _PIXEL_TAGS)
            attributes = {
                keyword: _raw_text(ds, tag)
                for tag, keyword in RECONCILED.items()
                if tag in ds
            }
    except (InvalidDicomError, EOFError, ValueError, KeyError, TypeError) as exc:
        raise UnreadableFileError(f"not readable DICOM ({why}): {exc}") from exc
    except (struct.error, OverflowError, NotImplementedError, AttributeError) as exc:
        raise UnreadableFileError(f"not readable DICOM ({why}): {exc}") from exc
    except BytesLengthException as exc:
        raise UnreadableFileError(f"not readable DICOM ({why}): {exc}") from exc
    if "sop_instance_uid" not in values and "media_sop_instance_uid" not in values:
        raise UnreadableFileError(f"not a DICOM file: {why}, and no SOP Instance UID")
    if "sop_instance_uid" not in values:
        # the file meta is whole but what follows it is not a data set (overwritten,
        # or another format behind a DICOM header): nothing in it can be trusted
        raise UnreadableFileError(
            f"not readable DICOM ({why}): the data set after the file meta holds no "
            "SOP Instance UID of its own"
        )
    if "transfer_syntax" not in values:
        syntax = getattr(ds.file_meta, "TransferSyntaxUID", None) or (
            IMPLICIT_VR_LITTLE_ENDIAN
        )
        values["transfer_syntax"] = str(syntax)
    return _header_from(values, pixel_data, attributes)


class _CappedFile(io.FileIO):
    """A file that never reads past its end: a malformed length of 4 GB asks for
    what is left, not for a 4 GB buffer (which ``read(n)`` allocates first)."""

    def read(self, size: int | None = -1) -> bytes:
        if size is not None and size > 0:
            size = min(size, max(os.fstat(self.fileno()).st_size - self.tell(), 0))
        return super().read(size)


def _raw_text(ds: object, tag: int) -> str:
    """An element's raw value as Latin-1 text (as the fast walker keeps it)."""
    element = ds.get_item(tag)  # type: ignore[attr-defined]
    value = element.value
    if isinstance(value, bytes):
        return _decode(value)
    return str(value if value is not None else "").strip(" \x00")


def _pydicom_value(ds: object, tag: int) -> str:
    """A wanted element's value from a pydicom dataset, as text."""
    source = getattr(ds, "file_meta") if tag >> 16 == 2 else ds  # noqa: B009
    value = source[tag].value  # type: ignore[index]
    if isinstance(value, bytes):
        return _decode(value)
    return str(value if value is not None else "").strip(" \x00")
