"""Reading a DICOM file as the sender needs it: its transfer syntax and raw data set.

A C-STORE carries the data set exactly as the file holds it, so nothing is decoded:
the file meta group (always explicit VR little endian, PS3.10 §7.1) is walked with
``struct`` to find (0002,0010) Transfer Syntax UID and where the data set begins, and
the rest of the file is returned as read. The walk stops at the first element whose
group is not 0x0002, as the scanner's does, so both agree on where the data set starts.
"""

from __future__ import annotations

import logging
import os
import struct

from pacsflow.dicom.errors import UnreadableDatasetError

log = logging.getLogger(__name__)

_PREFIX = b"DICM"
_META_START = 132  # 128-byte preamble + "DICM"
_META_LIMIT = 1 << 16  # a file meta group longer than this is not one we trust
_UNDEFINED = 0xFFFFFFFF
_GROUP_LENGTH = 0x0000
_TRANSFER_SYNTAX = 0x0010
_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR"}
    | {b"UT", b"UV"}
)
_UID_CHARS = frozenset("0123456789.")
_TAG = struct.Struct("<HH")
_SHORT_LENGTH = struct.Struct("<H")
_LONG_LENGTH = struct.Struct("<I")


class _MetaError(Exception):
    """The meta group cannot be parsed; the argument is the reason."""


def dataset_bytes(path: str | os.PathLike[str]) -> tuple[str, bytes]:
    """Return a DICOM file's transfer syntax and the bytes of its data set.

    Parameters
    ----------
    path : str or os.PathLike
        A DICOM Part 10 file: 128-byte preamble, ``DICM``, file meta group.

    Returns
    -------
    tuple of (str, bytes)
        The (0002,0010) Transfer Syntax UID, and every byte of the file after the
        file meta group, unchanged.

    Raises
    ------
    UnreadableDatasetError
        The file cannot be read, is not a Part 10 file, its meta group is truncated
        or malformed, or it has no transfer syntax or no data set.
    """
    name = os.fspath(path)
    try:
        with open(name, "rb") as fp:
            head = fp.read(_META_START + _META_LIMIT)
            whole = len(head) < _META_START + _META_LIMIT
            syntax, end = _parse_meta(head, whole)
            if whole:
                data = head[end:]
            else:
                fp.seek(end)
                data = fp.read()
    except OSError as exc:
        reason = f"the file cannot be read ({exc.strerror or exc})"
        raise UnreadableDatasetError(name, reason) from exc
    except _MetaError as exc:
        raise UnreadableDatasetError(name, str(exc)) from exc

    if not data:
        raise UnreadableDatasetError(
            name, f"there is no data set after the file meta group (byte {end})"
        )
    return syntax, data


def split_file(data: bytes, name: str) -> tuple[str, bytes]:
    """Split a whole Part 10 file held in memory: (transfer syntax, data set bytes).

    Raises
    ------
    UnreadableDatasetError
        As :func:`dataset_bytes` does; ``name`` says which file it was.
    """
    try:
        syntax, end = _parse_meta(data, True)
    except _MetaError as exc:
        raise UnreadableDatasetError(name, str(exc)) from exc
    if end >= len(data):
        raise UnreadableDatasetError(
            name, f"there is no data set after the file meta group (byte {end})"
        )
    return syntax, data[end:]


def _parse_meta(head: bytes, whole: bool) -> tuple[str, int]:
    """Walk the meta group in ``head``: (transfer syntax, offset of the data set)."""
    if len(head) < _META_START:
        raise _MetaError(
            f"the file is {len(head)} bytes long, too short for a DICOM file "
            "(128-byte preamble and 'DICM' prefix)"
        )
    if head[128:_META_START] != _PREFIX:
        raise _MetaError(
            "there is no 'DICM' prefix at byte 128: this is not a DICOM Part 10 file"
        )

    syntax: str | None = None
    declared_end: int | None = None
    pos = _META_START
    while pos < len(head) or not whole:
        _need(head, pos, 8, whole, "an element header")
        group, element = _TAG.unpack_from(head, pos)
        if group != 0x0002:
            break
        value, pos = _element_value(head, pos, element, whole)
        if element == _GROUP_LENGTH and len(value) == 4:
            declared_end = pos + _LONG_LENGTH.unpack(value)[0]
        elif element == _TRANSFER_SYNTAX:
            syntax = _transfer_syntax(value)

    if declared_end is not None and declared_end != pos:
        log.debug(
            "meta group ends at byte %s, its group length says %s", pos, declared_end
        )
    if syntax is None:
        raise _MetaError("there is no (0002,0010) Transfer Syntax UID in the file meta")
    return syntax, pos


def _element_value(
    head: bytes, pos: int, element: int, whole: bool
) -> tuple[bytes, int]:
    """Decode the meta element at ``pos``: (its value, the offset after it)."""
    label = f"(0002,{element:04X})"
    vr = head[pos + 4 : pos + 6]
    if not (vr.isalpha() and vr.isupper()):
        raise _MetaError(
            f"element {label} of the file meta group has no explicit VR; the file "
            "meta group must be explicit VR little endian"
        )
    if vr in _LONG_VRS:
        _need(head, pos, 12, whole, f"the header of {label}")
        (length,) = _LONG_LENGTH.unpack_from(head, pos + 8)
        start = pos + 12
    else:
        (length,) = _SHORT_LENGTH.unpack_from(head, pos + 6)
        start = pos + 8
    if length == _UNDEFINED:
        raise _MetaError(f"element {label} of the file meta group has undefined length")
    _need(head, start, length, whole, f"the value of {label}")
    return head[start : start + length], start + length


def _need(head: bytes, pos: int, size: int, whole: bool, what: str) -> None:
    """Raise _MetaError unless ``head`` holds ``size`` bytes at ``pos``."""
    if pos + size <= len(head):
        return
    if whole:
        raise _MetaError(
            f"the file meta group is truncated: the file ends at byte {len(head)}, "
            f"inside {what}, which needs bytes up to {pos + size}"
        )
    raise _MetaError(
        f"the file meta group is longer than {_META_LIMIT} bytes, which no real "
        "file meta group is; the file is damaged"
    )


def _transfer_syntax(value: bytes) -> str:
    """Decode the (0002,0010) value; _MetaError unless it is a UID."""
    syntax = value.decode("latin-1").strip("\x00 ")
    if not syntax or not set(syntax) <= _UID_CHARS:
        raise _MetaError(f"(0002,0010) Transfer Syntax UID is {syntax!r}, not a UID")
    return syntax
