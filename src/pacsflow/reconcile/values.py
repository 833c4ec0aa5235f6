"""DICOM text from both sides: a header's raw value and a database column's value.

Reconciliation compares what a file's header holds with what the legacy database
holds, attribute by attribute, and both must first be put in the same form:

- a header value is kept by the scanner as its raw bytes (read as Latin-1, which is
  lossless) and decoded here with the file's (0008,0005) Specific Character Set;
- a database value arrives as the driver returns it (``str``, ``date``, ``time``,
  ``datetime``, ``int``, ``Decimal``, ``bytes`` or ``None``) and is written here as
  DICOM text: dates as ``YYYYMMDD``, times as ``HHMMSS[.ffffff]``, ``None`` as an
  empty value, padding (a CHAR column's spaces, NULs) removed.

Both are then normalised (:func:`normalise`): padding and surrounding spaces go,
empty trailing components of a person name go (``DOE^JOHN^^`` is ``DOE^JOHN``), a
number loses leading zeros. Two values are the same when their normal forms are.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Iterable, Mapping
from decimal import Decimal
from functools import cache

from pydicom.charset import convert_encodings, decode_bytes
from pydicom.datadict import dictionary_VR, keyword_dict

from pacsflow.scan.header import RECONCILED

SPECIAL_COLUMNS = ("SOPInstanceUID", "FilePath")
"""Query columns that are not attributes to reconcile."""

AUTHORITATIVE = frozenset(RECONCILED.values()) - {"SpecificCharacterSet"}
"""The attributes a legacy database may be authoritative for: those the scanner
records of every file."""

_CHARSET_VRS = frozenset({"PN", "SH", "LO", "ST", "LT", "UC", "UT"})
_PN_DELIMITERS = {0x5E, 0x3D}  # ^ and =
_TEXT_DELIMITERS = {0x5C, 0x0D, 0x0A, 0x09, 0x0C}  # \ CR LF TAB FF
_DIGITS_ONLY = re.compile(r"[^0-9]")
_TIME = re.compile(r"(\d{2}):?(\d{2})?:?(\d{2})?(\.\d{1,6})?")


@cache
def vr_of(keyword: str) -> str:
    """The VR of a reconciled attribute, by its keyword."""
    return str(dictionary_VR(keyword_dict[keyword]))


def from_header(keyword: str, raw: str, charset: str | None) -> str:
    """Decode a header value the scanner kept (raw bytes as Latin-1 text).

    Parameters
    ----------
    keyword : str
        The attribute's keyword.
    raw : str
        Its raw bytes, read as Latin-1.
    charset : str or None
        The file's (0008,0005) Specific Character Set, raw, as the scanner kept it.

    Returns
    -------
    str
        The value as text; bytes the character set cannot decode are replaced.
    """
    if raw.isascii():  # most values: Latin-1 and ASCII read them alike
        return raw
    data = raw.encode("latin-1")
    vr = vr_of(keyword)
    if vr not in _CHARSET_VRS:
        return data.decode("ascii", "replace")
    delimiters = _PN_DELIMITERS if vr == "PN" else _TEXT_DELIMITERS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undecodable bytes are replaced, not fatal
        return decode_bytes(data, _encodings(charset or ""), delimiters)


@cache
def _encodings(charset: str) -> list[str]:
    """Python codecs for a raw (0008,0005) value."""
    terms = [term.strip() for term in charset.split("\\")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return list(convert_encodings(terms if any(terms) else None))


def from_database(keyword: str, value: object) -> str:
    """Write a database column's value as DICOM text for ``keyword``.

    Parameters
    ----------
    keyword : str
        The attribute the column holds.
    value : object
        What the database driver returned.

    Returns
    -------
    str
        DICOM text; ``None`` (SQL NULL) is an empty value.
    """
    vr = vr_of(keyword)
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return _datetime(vr, value)
    if isinstance(value, dt.date):
        return value.strftime("%Y%m%d")
    if isinstance(value, dt.time):
        return _time(value)
    if isinstance(value, bytes | bytearray | memoryview):
        value = bytes(value).decode("utf-8", "replace")
    if isinstance(value, Decimal | float) and value == int(value):
        value = int(value)
    text = str(value).strip(" \x00")  # CHAR columns pad, some drivers keep NULs
    if vr == "UI":
        return text.replace(" ", "")
    if vr == "DA":
        digits = _DIGITS_ONLY.sub("", text)
        return digits if len(digits) == 8 else text.strip()
    if vr == "TM":
        return _time_text(text)
    return text


def _datetime(vr: str, value: dt.datetime) -> str:
    """A datetime column as a DA, TM or text value."""
    if vr == "DA":
        return value.strftime("%Y%m%d")
    if vr == "TM":
        return _time(value.time())
    return value.strftime("%Y%m%d%H%M%S")


def _time(value: dt.time) -> str:
    """A time as HHMMSS, with the fraction only when there is one."""
    text = value.strftime("%H%M%S")
    return f"{text}.{value.microsecond:06d}" if value.microsecond else text


def _time_text(text: str) -> str:
    """A time written ``HH:MM:SS`` (or already DICOM) as DICOM ``HHMMSS``."""
    text = text.strip()
    match = _TIME.fullmatch(text)
    if match is None:
        return text
    return "".join(part or "" for part in match.groups())


def normalise(keyword: str, value: str) -> str:
    """The form in which two values of ``keyword`` are compared."""
    text = value.strip(" \x00")
    vr = vr_of(keyword)
    if vr == "PN":
        groups = [
            "^".join(part.strip() for part in group.split("^")).rstrip("^")
            for group in text.split("=")
        ]
        return "=".join(groups).rstrip("=")
    if vr == "IS" and text.lstrip("+-").isdigit():
        return str(int(text))
    if vr == "UI":
        return text.replace(" ", "")
    return text


def differences(
    header: Mapping[str, str], database: Mapping[str, str]
) -> list[tuple[str, str, str]]:
    """The attributes on which a header and the database disagree.

    Parameters
    ----------
    header : Mapping[str, str]
        Decoded header values by keyword; an absent keyword is an empty value.
    database : Mapping[str, str]
        The database's values (DICOM text) by keyword: every keyword there is one
        the database is authoritative for.

    Returns
    -------
    list of (keyword, header value, database value)
        In keyword order, each value as written less its padding; they differ
        in their normal forms.
    """
    found = []
    for keyword in sorted(database):
        old = header.get(keyword, "").strip(" \x00")
        new = database[keyword].strip(" \x00")
        if normalise(keyword, old) != normalise(keyword, new):
            found.append((keyword, old, new))
    return found


def decoded_header(
    attributes: Mapping[str, str], wanted: Iterable[str]
) -> dict[str, str]:
    """The ``wanted`` values of a file's header, decoded (:func:`from_header`)."""
    charset = attributes.get("SpecificCharacterSet")
    return {
        keyword: from_header(keyword, attributes[keyword], charset)
        for keyword in wanted
        if keyword in attributes
    }
