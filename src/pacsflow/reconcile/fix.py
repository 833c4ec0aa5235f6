"""Header fixes from reconciliation, applied to one DICOM file as a worker sends it.

The legacy database is authoritative, so its values replace the header's; nothing
else in the file changes:

- the preamble and the file meta group are kept byte for byte;
- in the common case (little endian, values the character set can encode) the new
  elements are spliced into the data set's bytes without parsing it
  (:mod:`pacsflow.reconcile.splice`); otherwise
- pydicom parses the data set only up to the pixel data group (7FE0,xxxx); that
  header is written again with the fixes, in the file's own transfer syntax, and the
  rest of the file follows as it is: pixel data is never parsed, let alone decoded;
- elements not fixed stay pydicom's raw bytes and are written back as read;
- a new value the (0008,0005) Specific Character Set cannot encode switches the data
  set to ``ISO_IR 192`` (UTF-8). Text already there, sequence items included, is
  decoded with the old character set first, so it reads the same afterwards.

Known limits: pydicom leaves out the retired group length elements (gggg,0000) of
the header it writes; on a switch, private text elements of an implicit VR data set
(whose VR is unknown) are left as they are. ::

    PacsflowError
    └── HeaderFixError    the file cannot be read or patched; the message says why
"""

from __future__ import annotations

import logging
import os
import struct
import warnings
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from pydicom import config
from pydicom.charset import convert_encodings
from pydicom.datadict import (
    dictionary_description,
    dictionary_has_tag,
    dictionary_VR,
    tag_for_keyword,
)
from pydicom.dataelem import DataElement, RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset
from pydicom.filewriter import write_dataset
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag
from pydicom.uid import UID

from pacsflow.dicom.dataset import dataset_bytes, split_file
from pacsflow.dicom.errors import UnreadableDatasetError
from pacsflow.errors import PacsflowError
from pacsflow.reconcile.splice import NotSimpleError, splice

log = logging.getLogger(__name__)

Fixes = tuple[tuple[str, str], ...]
"""(DICOM keyword, new value as DICOM text) pairs, e.g.
``(("PatientName", "Müller^Hans"), ("PatientID", "123"))``."""

_CHARSET = BaseTag(0x00080005)
_UTF8 = "ISO_IR 192"
_PIXEL_GROUP = 0x7FE00000
_UNDEFINED = 0xFFFFFFFF
_TEXT_VRS = frozenset(
    {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM"}
    | {"UC", "UI", "UR", "UT"}
)
_CHARSET_VRS = frozenset({"LO", "LT", "PN", "SH", "ST", "UC", "UT"})
_DEFAULT_TERMS = frozenset({"", "ISO_IR 6", "ISO 2022 IR 6"})  # ASCII only
_REPAIR = "check the file (e.g. with dcmdump), then repair or exclude it"
_FAULTS = (Warning, InvalidDicomError, EOFError, OSError, ValueError, KeyError)
_MORE_FAULTS = (TypeError, AttributeError, NotImplementedError, OverflowError)
_Parts = list[bytes | memoryview]


class HeaderFixError(PacsflowError):
    """A file's header cannot be patched; the message says which, why, what to do."""


def patched_file(path: str | os.PathLike[str], fixes: Fixes) -> bytes:
    """Return a whole Part 10 file with header fixes applied.

    Parameters
    ----------
    path : str or os.PathLike
        A DICOM Part 10 file.
    fixes : Fixes
        (keyword, DICOM text) pairs; ``""`` sets an empty value, ``\\`` separates
        values.

    Returns
    -------
    bytes
        The preamble, ``DICM`` and file meta group as they are, then the data set in
        the same transfer syntax with the fixes applied and its pixel data unchanged.
        With no fixes, the file's own bytes.

    Raises
    ------
    HeaderFixError
        The file cannot be read or parsed, a keyword is unknown or not a text
        attribute, or a value is not valid for its VR.
    """
    name = os.fspath(path)
    try:
        raw = Path(name).read_bytes()
        if not fixes:
            return raw
        syntax, data = split_file(raw, name)
    except OSError as exc:
        why = f"the file cannot be read ({exc.strerror or exc})"
        raise _unreadable(name, why) from exc
    except UnreadableDatasetError as exc:
        raise _unreadable(name, exc.reason) from exc
    head = raw[: len(raw) - len(data)]
    del raw  # one large buffer less while patching: fewer page faults
    return b"".join([head, *_patch(data, syntax, fixes, name)])


def patched_dataset(path: str | os.PathLike[str], fixes: Fixes) -> tuple[str, bytes]:
    """Return what a C-STORE carries for a file, with header fixes applied.

    Parameters
    ----------
    path : str or os.PathLike
        A DICOM Part 10 file.
    fixes : Fixes
        As for :func:`patched_file`.

    Returns
    -------
    tuple of (str, bytes)
        The (0002,0010) Transfer Syntax UID, unchanged, and the data set without the
        file meta group, encoded in it. With no fixes, the file's own data set.

    Raises
    ------
    HeaderFixError
        As for :func:`patched_file`.
    """
    name = os.fspath(path)
    try:
        syntax, data = dataset_bytes(name)
    except UnreadableDatasetError as exc:
        raise _unreadable(name, exc.reason) from exc
    if not fixes:
        return syntax, data
    return syntax, b"".join(_patch(data, syntax, fixes, name))


def _unreadable(name: str, reason: str) -> HeaderFixError:
    """The HeaderFixError for a file that cannot be read or is not Part 10."""
    return HeaderFixError(f"cannot patch {name}: {reason}; {_REPAIR}")


def _patch(data: bytes, syntax: str, fixes: Fixes, name: str) -> _Parts:
    """The data set ``data`` with ``fixes`` applied, as buffers to join."""
    uid = UID(syntax)
    if not uid.is_transfer_syntax:
        raise _unreadable(
            name, f"(0002,0010) Transfer Syntax UID {syntax} is not one pydicom knows"
        )
    with _strict(name):
        try:
            simple = [(*_checked(keyword, value), value) for keyword, value in fixes]
        except _BadFixError as exc:
            raise HeaderFixError(f"cannot patch {name}: {exc}") from None
        if uid.is_little_endian and not uid.is_deflated:
            try:
                return splice(data, not uid.is_implicit_VR, simple)
            except NotSimpleError as exc:
                log.debug("%s: %s; patching through pydicom", name, exc)
        new = [(DataElement(tag, vr, value), value) for tag, vr, value in simple]
        if uid.is_deflated:
            data = zlib.decompress(data, -zlib.MAX_WBITS)
        header, rest = _rewrite(data, uid, new, name)
    if uid.is_deflated:
        packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        return [packer.compress(header), packer.compress(data[rest:]), packer.flush()]
    return [header, memoryview(data)[rest:]]


class _BadFixError(Exception):
    """A fix no file can take; the message says why, without the value."""


@lru_cache(maxsize=4096)
def _checked(keyword: str, value: str) -> tuple[int, str]:
    """The (tag, VR) that sets ``keyword`` to ``value``, validated for its VR.

    Cached: the instances of a study carry the same fixes.
    """
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise _BadFixError(
            f"{keyword!r} is not a DICOM keyword; correct the attribute name in the "
            "legacy database configuration"
        )
    vr, label = dictionary_VR(tag), _label(tag)
    if vr not in _TEXT_VRS or tag == _CHARSET or tag >> 16 == 2:
        raise _BadFixError(
            f"{label} (VR {vr}) cannot be fixed; fixes set text attributes of the "
            "data set, and (0008,0005) is chosen by the fix itself"
        )
    try:
        DataElement(tag, vr, value, validation_mode=config.RAISE)
    except ValueError:
        # not chained: pydicom's message quotes the value, maybe a patient's name
        raise _BadFixError(
            f"the new value of {label} ({len(value)} characters) is not valid {vr} "
            "text (PS3.5 Table 6.2-1); correct it in the legacy database"
        ) from None
    return tag, vr


def _rewrite(
    data: bytes, syntax: UID, new: list[tuple[DataElement, str]], name: str
) -> tuple[bytes, int]:
    """The header re-encoded with the fixes, and the offset of the untouched rest."""
    limit = max(_PIXEL_GROUP, *(elem.tag + 1 for elem, _ in new))
    ds, rest = _parse(data, syntax, limit)
    if not _charset_fits(ds, new):
        log.debug("%s: (0008,0005) Specific Character Set becomes %s", name, _UTF8)
        ds, rest = _parse(data, syntax, None)  # any text past the pixel data too
        _to_utf8(ds, syntax)
    for elem, _ in new:
        ds[elem.tag] = elem

    fp = DicomBytesIO()
    fp.is_implicit_VR = syntax.is_implicit_VR
    fp.is_little_endian = syntax.is_little_endian
    write_dataset(fp, ds)
    return fp.getvalue(), rest


def _parse(data: bytes, syntax: UID, limit: int | None) -> tuple[Dataset, int]:
    """The data set up to tag ``limit`` (raw elements), and where parsing stopped."""
    fp = BytesIO(data)
    stop = None if limit is None else (lambda tag, *_: tag >= limit)
    ds = read_dataset(fp, syntax.is_implicit_VR, syntax.is_little_endian, None, stop)
    for tag in list(ds.keys()):  # pydicom keeps a value the end of the file cut short
        elem = ds.get_item(tag)
        if isinstance(elem, RawDataElement) and _UNDEFINED > elem.length > len(
            elem.value or b""
        ):
            raise EOFError(f"the file ends inside {_label(tag)}")
    return ds, fp.tell()


def _charset_fits(ds: Dataset, new: list[tuple[DataElement, str]]) -> bool:
    """Whether the data set's character set can encode every new value."""
    value = ds.get("SpecificCharacterSet")
    terms = [value] if isinstance(value, str) else []
    if isinstance(value, MultiValue):
        terms = [str(term) for term in value]
    texts = [text for elem, text in new if elem.VR in _CHARSET_VRS]
    return all(_encodable(text, terms) for text in texts)


def _encodable(text: str, terms: Sequence[str]) -> bool:
    """Whether the character set of (0008,0005) ``terms`` can encode ``text``."""
    if text.isascii():
        return True
    extensions = [term for term in terms if term not in _DEFAULT_TERMS]
    codecs = [convert_encodings(term)[0] for term in extensions]
    return bool(codecs) and all(any(_has(c, codec) for codec in codecs) for c in text)


def _has(char: str, codec: str) -> bool:
    """Whether Python's ``codec`` can encode ``char``."""
    try:
        char.encode(codec)
    except UnicodeError:
        return False
    return True


def _to_utf8(ds: Dataset, syntax: UID) -> None:
    """Switch ``ds`` to UTF-8, decoding its text with the old character set first."""
    _decode_text(ds)
    ds[_CHARSET] = DataElement(_CHARSET, "CS", _UTF8)
    # what is still raw is plain ASCII, the same in UTF-8: let pydicom copy it
    utf8 = convert_encodings(_UTF8)
    ds.set_original_encoding(syntax.is_implicit_VR, syntax.is_little_endian, utf8)


def _decode_text(ds: Dataset) -> None:
    """Decode, with the old character set, the raw text a switch would misread."""
    for tag in list(ds.keys()):
        elem = ds.get_item(tag)
        vr = elem.VR
        if vr is None or vr == "UN":  # implicit VR, or stored as UN
            if not dictionary_has_tag(tag):
                continue
            vr = dictionary_VR(tag)
        if vr == "SQ":
            for item in ds[tag].value:
                if _CHARSET not in item:  # an item with its own keeps it
                    _decode_text(item)
        elif vr in _CHARSET_VRS and isinstance(elem, RawDataElement):
            value = elem.value or b""
            if not value.isascii() or b"\x1b" in value:
                ds[tag] = convert_raw_data_element(
                    elem, encoding=ds.original_character_set, ds=ds
                )


def _label(tag: int) -> str:
    """A tag as ``(0010,0010) Patient's Name``."""
    name = dictionary_description(tag) if dictionary_has_tag(tag) else "(private)"
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X}) {name}"


@contextmanager
def _strict(name: str) -> Iterator[None]:
    """Turn pydicom's warnings, and its errors on a damaged header, into ours."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            yield
        except (*_FAULTS, *_MORE_FAULTS, struct.error, zlib.error) as exc:
            # the first line only: pydicom appends a traceback to some messages
            why = next(iter(str(exc).splitlines()), type(exc).__name__)
            raise HeaderFixError(
                f"cannot patch {name}: pydicom cannot parse or re-encode its header "
                f"({why}); {_REPAIR}"
            ) from exc
