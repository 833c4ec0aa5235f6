"""The fast path of a header fix: splice the new elements into the data set's bytes.

Almost every fix sets a few short text attributes of groups 0008-0020, near the start
of the data set, to values the data set's own character set can encode. For that case
the data set need not be parsed: :func:`splice` walks the top-level elements with
``struct`` only as far as the last tag to fix (skipping sequences by their lengths and
delimiters), and rebuilds the bytes with each element replaced or inserted in tag
order. Everything else, pixel data included, is the same bytes, copied once.

When a new value needs more than the data set's single-byte character set can encode
(a corrected name in Polish in a Latin-1 data set), :func:`splice` switches the data
set to UTF-8: it walks every top-level element up to the pixel data, re-encodes each
non-ASCII text value from the old character set, and sets (0008,0005) to
``ISO_IR 192``. Non-ASCII bytes inside a sequence, in a private or unknown element, or
in an element stored as UN leave that to the general path.

Anything outside these cases raises :class:`NotSimpleError`, and the caller takes the
general path through pydicom (:mod:`pacsflow.reconcile.fix`): big endian or deflated
data sets, a value that needs another character set, a group length element in a
group that changes, a long-length VR, or any element this walk does not expect.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from pydicom.charset import python_encoding
from pydicom.datadict import dictionary_has_tag, dictionary_VR

Buffer = bytes | memoryview
"""A piece of the new data set; the caller joins them once."""

_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_CHARSET = 0x00080005
_UTF8 = "ISO_IR 192"
_PIXEL_DATA_TAG = 0x7FE00010
_TEXT_VRS = frozenset({"LO", "LT", "PN", "SH", "ST", "UC", "UT"})
"""The VRs whose values (0008,0005) governs (bar UR and others that stay ASCII)."""
_SINGLE_BYTE = frozenset(
    {"ascii", "latin_1", "iso8859_2", "iso8859_3", "iso8859_4", "iso_ir_126"}
    | {"iso_ir_127", "iso_ir_138", "iso_ir_144", "iso_ir_148", "iso_ir_166"}
)
"""Codecs of single-term, single-byte character sets, whose text can be re-encoded
value by value."""
_MAX_DEPTH = 32
_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR"}
    | {b"UT", b"UV"}
)
_TAG = struct.Struct("<HH")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")


class NotSimpleError(Exception):
    """This fix needs the general path; the message says why (for DEBUG logs)."""


def splice(
    data: bytes, explicit: bool, fixes: Sequence[tuple[int, str, str]]
) -> list[Buffer]:
    """The little-endian data set ``data`` with ``fixes`` spliced in, as pieces to
    join (the untouched tail, pixel data included, is a view of ``data``).

    Parameters
    ----------
    data : bytes
        The data set, without file meta.
    explicit : bool
        Explicit VR (else implicit VR) little endian.
    fixes : sequence of (tag, VR, value)
        The elements to set, values as DICOM text.

    Raises
    ------
    NotSimpleError
        When the general path must do it.
    """
    wanted = {tag: (vr, value) for tag, vr, value in fixes}
    walked = _walk(data, explicit, max(wanted), {t >> 16 for t in wanted})
    charset = next((data[v:e] for t, _s, v, e in walked if t == _CHARSET), b"")
    codec = _codec(charset)
    if not all(_fits(value, codec) for _vr, value in wanted.values()):
        return _to_utf8(data, explicit, wanted, codec)
    stop = walked[-1][3] if walked else 0
    parts: list[Buffer] = []
    done = 0
    for tag in sorted(wanted):
        # replace the element, or insert it before the first element past it
        start, end = next(
            ((s, e if t == tag else s) for t, s, _v, e in walked if t >= tag),
            (stop, stop),
        )
        vr, text = wanted[tag]
        parts += [data[done:start], _encode(tag, vr, text, codec, explicit)]
        done = end
    parts.append(memoryview(data)[done:])  # the pixel data: not copied here
    return parts


def _walk(
    data: bytes, explicit: bool, last: int, groups: set[int]
) -> list[tuple[int, int, int, int]]:
    """(tag, start, value offset, end) of the top-level elements up to the first
    past ``last``."""
    walked = []
    pos = 0
    while pos + 8 <= len(data):
        tag, vr, length, value = _header(data, pos, explicit)
        if tag & 0xFFFF == 0 and tag >> 16 in groups:
            raise NotSimpleError("a group length element in a group that changes")
        if tag > last:
            walked.append((tag, pos, value, pos))
            break
        end = _skip(data, value, length, explicit and vr != b"UN", 0)
        walked.append((tag, pos, value, end))
        pos = end
    return walked


def _header(data: bytes, pos: int, explicit: bool) -> tuple[int, bytes, int, int]:
    """(tag, VR, length, value offset) of the element at ``pos``."""
    if pos + 8 > len(data):
        raise NotSimpleError("the data set ends inside an element header")
    group, element = _TAG.unpack_from(data, pos)
    tag = group << 16 | element
    if not explicit or group == 0xFFFE:
        return tag, b"", _U32.unpack_from(data, pos + 4)[0], pos + 8
    vr = data[pos + 4 : pos + 6]
    if vr in _LONG_VRS:
        if pos + 12 > len(data):
            raise NotSimpleError("the data set ends inside an element header")
        return tag, vr, _U32.unpack_from(data, pos + 8)[0], pos + 12
    if not (vr.isalpha() and vr.isupper()):
        raise NotSimpleError(f"no VR at element {tag:08X}")
    return tag, vr, _U16.unpack_from(data, pos + 6)[0], pos + 8


def _skip(data: bytes, value: int, length: int, explicit: bool, depth: int) -> int:
    """The offset after an element whose value starts at ``value``."""
    if length != _UNDEFINED:
        if value + length > len(data):
            raise NotSimpleError("an element's value runs past the end of the data")
        return value + length
    if depth >= _MAX_DEPTH:
        raise NotSimpleError("sequences nested too deep")
    pos = value
    while True:
        tag, _vr, size, inner = _header(data, pos, False)
        if tag == _SEQUENCE_END:
            return inner
        if tag != _ITEM:
            raise NotSimpleError(f"element {tag:08X} where a sequence item was due")
        pos = _item_end(data, inner, size, explicit, depth + 1)


def _item_end(data: bytes, pos: int, size: int, explicit: bool, depth: int) -> int:
    """The offset after a sequence item whose content starts at ``pos``."""
    if size != _UNDEFINED:
        return _skip(data, pos, size, explicit, depth)
    while True:
        tag, vr, length, value = _header(data, pos, explicit)
        if tag == _ITEM_END:
            return value
        pos = _skip(data, value, length, explicit and vr != b"UN", depth)


def _fits(text: str, codec: str) -> bool:
    """Whether ``codec`` can encode ``text``."""
    try:
        text.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def _to_utf8(
    data: bytes, explicit: bool, wanted: dict[int, tuple[str, str]], codec: str
) -> list[Buffer]:
    """The data set switched to UTF-8, its text re-encoded, ``wanted`` spliced in."""
    if codec not in _SINGLE_BYTE:
        raise NotSimpleError(f"the value needs another character set than {codec}")
    wanted = {**wanted, _CHARSET: ("CS", _UTF8)}
    parts: list[Buffer] = []
    pos = 0
    while pos + 8 <= len(data):
        tag, vr, length, value = _header(data, pos, explicit)
        while wanted and min(wanted) < tag:  # insert what the data set lacks
            new = min(wanted)
            parts.append(_encode(new, *wanted.pop(new), "utf-8", explicit))
        if tag >= _PIXEL_DATA_TAG:
            break
        if tag & 0xFFFF == 0:
            raise NotSimpleError("a group length element where lengths change")
        end = _skip(data, value, length, explicit and vr != b"UN", 0)
        if tag in wanted:
            parts.append(_encode(tag, *wanted.pop(tag), "utf-8", explicit))
        elif data[value:end].isascii():
            parts.append(data[pos:end])
        else:
            parts.append(_recoded(data, (pos, value, end), tag, vr, codec, explicit))
        pos = end
    for new in sorted(wanted):
        parts.append(_encode(new, *wanted[new], "utf-8", explicit))
    parts.append(memoryview(data)[pos:])
    return parts


def _recoded(
    data: bytes,
    span: tuple[int, int, int],
    tag: int,
    vr: bytes,
    codec: str,
    explicit: bool,
) -> bytes:
    """A top-level element with non-ASCII bytes, its text re-encoded from ``codec``
    to UTF-8; other values (binary, or a private element's) copied as they are.

    ``span`` is the element's (start, value offset, end).
    """
    start, value, end = span
    name = vr.decode("ascii") if explicit else _dictionary_vr(tag)
    if name in ("SQ", "UN") or (explicit and name == ""):
        raise NotSimpleError(f"non-ASCII bytes in element {tag:08X} ({name or '?'})")
    if name not in _TEXT_VRS:
        return data[start:end]
    try:
        text = data[value:end].decode(codec).rstrip(" \x00")
    except UnicodeDecodeError as exc:
        raise NotSimpleError(f"element {tag:08X} is not in {codec}") from exc
    return _encode(tag, name, text, "utf-8", explicit)


def _dictionary_vr(tag: int) -> str:
    """The VR the dictionary gives a public tag; empty for private or unknown."""
    if tag >> 16 & 1 or not dictionary_has_tag(tag):
        return ""
    return str(dictionary_VR(tag))


def _codec(charset: bytes) -> str:
    """The Python codec of a single-term (0008,0005), or ``ascii`` for none."""
    terms = [t.strip() for t in charset.decode("ascii", "replace").split("\\")]
    terms = [t for t in terms if t]
    if not terms or terms == ["ISO_IR 6"]:
        return "ascii"
    if len(terms) > 1 or terms[0] not in python_encoding or "2022" in terms[0]:
        raise NotSimpleError(f"character set {charset!r} has code extensions")
    return python_encoding[terms[0]]


def _encode(tag: int, vr: str, text: str, codec: str, explicit: bool) -> bytes:
    """One element, padded to even length, in the data set's encoding."""
    try:
        value = text.encode(codec)
    except UnicodeEncodeError as exc:
        raise NotSimpleError("the value needs another character set") from exc
    if len(value) % 2:
        value += b"\x00" if vr == "UI" else b" "
    code = vr.encode("ascii")
    if code in _LONG_VRS or len(value) > 0xFFFE:
        raise NotSimpleError(f"VR {vr} or a value this long takes the general path")
    head = _TAG.pack(tag >> 16, tag & 0xFFFF)
    if explicit:
        return head + code + _U16.pack(len(value)) + value
    return head + _U32.pack(len(value)) + value
