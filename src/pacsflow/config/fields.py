"""Validators and reusable field types for the network file's keys.

Relative paths are made absolute against the network file's folder (passed in the
validation context under ``base_dir``), and a relative SQLite file is anchored there;
names, texts and AE titles are checked; a single value is accepted where a list is
expected; SOP classes, transfer syntaxes and DICOM keywords are resolved through
pydicom's dictionaries.
"""

from __future__ import annotations

import os
import re
import types
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar

import sqlalchemy.exc
from pydantic import (
    AfterValidator,
    BeforeValidator,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    WrapSerializer,
)
from pydicom._uid_dict import UID_dictionary
from pydicom.config import IGNORE
from pydicom.datadict import dictionary_VR, keyword_dict, tag_for_keyword
from pydicom.uid import UID
from sqlalchemy.engine import make_url

from pacsflow.config.problems import _show, _suggest

_K = TypeVar("_K")
_V = TypeVar("_V")

_SIMPLE_NAME = re.compile(r"[A-Za-z0-9_-]+")
_BASE_DIR = "base_dir"
_SOP_CLASS = "SOP Class"
_TRANSFER_SYNTAX = "Transfer Syntax"


# --- helpers used by the field validators --------------------------------------------


def _base_dir(info: ValidationInfo) -> Path:
    """Return the directory relative paths start from (the network file's folder)."""
    context = info.context
    if isinstance(context, Mapping) and _BASE_DIR in context:
        return Path(context[_BASE_DIR])
    return Path.cwd()


def _absolute(path: Path, base: Path) -> Path:
    """Return ``path`` made absolute against ``base``, without resolving symlinks."""
    return Path(os.path.normpath(base / path.expanduser()))


def _resolve_path(value: object, info: ValidationInfo) -> Path:
    """Turn a path written in the network file into an absolute path."""
    if isinstance(value, Path):
        return _absolute(value, _base_dir(info))
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a file system path as text; got {_show(value)}")
    return _absolute(Path(value), _base_dir(info))


def _database_url(value: str, info: ValidationInfo) -> str:
    """Check a SQLAlchemy URL; anchor a relative SQLite file at the network file."""
    try:
        url = make_url(value)
        url.get_dialect()
    except sqlalchemy.exc.NoSuchModuleError as exc:
        raise ValueError(
            f"unknown database dialect or driver in {value!r}; expected one SQLAlchemy "
            "knows, such as sqlite, postgresql+psycopg, mysql+pymysql, mssql+pymssql"
        ) from exc
    except (sqlalchemy.exc.ArgumentError, ValueError) as exc:
        raise ValueError(
            f"cannot read {value!r} as a database URL; expected "
            "dialect+driver://user@host/database, such as sqlite:///pacsflow.db"
        ) from exc

    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return value
    if database.startswith("file:") or Path(database).is_absolute():
        return value
    anchored = _absolute(Path(database), _base_dir(info))
    return url.set(database=str(anchored)).render_as_string(hide_password=False)


def _simple_name(value: str) -> str:
    """Check a name made of letters, digits, ``-`` and ``_``."""
    if not _SIMPLE_NAME.fullmatch(value):
        raise ValueError(
            f"name {value!r} is not simple; use only letters, digits, '-' and '_'"
        )
    return value


def _text(value: str) -> str:
    """Check a non-blank string and strip surrounding whitespace."""
    if not value.strip():
        raise ValueError("expected text; got an empty string")
    return value.strip()


def _ae_title(value: str) -> str:
    """Check a DICOM AE title (leading and trailing spaces are not significant)."""
    title = value.strip(" ")
    if not title:
        raise ValueError(
            f"AE title {value!r} is empty or all spaces; write 1-16 letters"
        )
    if len(title) > 16:
        raise ValueError(
            f"AE title {title!r} has {len(title)} characters; DICOM allows at most 16"
        )
    if "\\" in title:
        raise ValueError(
            f"AE title {title!r} contains a backslash, which DICOM forbids"
        )
    if any(ord(char) < 32 or ord(char) == 127 for char in title):
        raise ValueError(f"AE title {title!r} contains a control character")
    if not title.isascii():
        raise ValueError(f"AE title {title!r} must be ASCII (DICOM default repertoire)")
    return title


def _one_or_many(value: object) -> object:
    """Accept a single value where a list is expected; refuse an empty list."""
    if isinstance(value, list | tuple):
        if not value:
            raise ValueError("empty list; give at least one value or leave the key out")
        return tuple(value)
    if isinstance(value, str | int | float | date):
        return (value,)
    return value


def _value_text(value: object) -> object:
    """Turn a number written in YAML into text; refuse booleans and dates."""
    if isinstance(value, bool):
        raise ValueError(
            f"YAML read {value!r} as a boolean; quote the value if you mean text"
        )
    if isinstance(value, date):
        raise ValueError(
            f"YAML read {value} as a date; quote it as DICOM writes it, "
            f"such as '{value:%Y%m%d}'"
        )
    if isinstance(value, int | float):
        return str(value)
    return value


def _uid_label(uid_type: str) -> str:
    """Return how a UID type is named in messages."""
    return {_SOP_CLASS: "SOP class", _TRANSFER_SYNTAX: "transfer syntax"}.get(
        uid_type, uid_type
    )


def _a(label: str) -> str:
    """Prefix ``label`` with the article it is read with ("an SOP class")."""
    return f"an {label}" if label[:1] in "AEIOSaeiou" else f"a {label}"


def _to_uid(value: str, uid_type: str) -> str:
    """Return the UID that ``value`` (a UID or a pydicom keyword) stands for."""
    label = _uid_label(uid_type)
    if value[:1].isdigit():
        uid = UID(value, validation_mode=IGNORE)
        if not uid.is_valid:
            raise ValueError(
                f"{value!r} is not a valid UID; expected digits in dot-separated "
                "groups without leading zeros, at most 64 characters"
            )
        known = UID_dictionary.get(str(uid))
        if known is not None and known[1] != uid_type:
            raise ValueError(
                f"{value!r} is {_a(_uid_label(known[1]))} ({known[4]}), not {_a(label)}"
            )
        return str(uid)

    by_keyword = {entry[4]: (uid, entry[1]) for uid, entry in UID_dictionary.items()}
    if value in by_keyword:
        found_uid, found_type = by_keyword[value]
        if found_type != uid_type:
            raise ValueError(
                f"{value!r} is {_a(_uid_label(found_type))} ({found_uid}), "
                f"not {_a(label)}"
            )
        return found_uid

    candidates = [kw for kw, (_, kind) in by_keyword.items() if kind == uid_type]
    raise ValueError(
        _suggest(
            f"unknown {label} {value!r}",
            value,
            candidates,
            "write a UID or a pydicom keyword.",
        )
    )


def _sop_class(value: str) -> str:
    """Normalise an SOP class keyword or UID to its UID."""
    return _to_uid(value, _SOP_CLASS)


def _transfer_syntax(value: str) -> str:
    """Normalise a transfer syntax keyword or UID to its UID."""
    return _to_uid(value, _TRANSFER_SYNTAX)


def _dicom_keyword(value: str) -> str:
    """Check a DICOM keyword that can be compared as text."""
    tag = tag_for_keyword(value)
    if tag is None:
        raise ValueError(
            _suggest(
                f"unknown DICOM keyword {value!r}",
                value,
                keyword_dict,
                "write a pydicom keyword such as InstitutionName",
            )
        )
    if dictionary_VR(tag) == "SQ":
        raise ValueError(
            f"{value!r} is a sequence, whose items cannot be compared as text; "
            "match on an element outside the sequence"
        )
    return value


def _freeze(value: Mapping[_K, _V]) -> Mapping[_K, _V]:
    """Return a read-only view of a copy of ``value``."""
    return types.MappingProxyType(dict(value))


def _dump_mapping(
    value: Mapping[Any, Any], handler: SerializerFunctionWrapHandler
) -> Any:
    """Serialise a read-only mapping as the dict pydantic expects."""
    return handler(dict(value))


# --- reusable field types -------------------------------------------------------------

_Text = Annotated[str, AfterValidator(_text)]
_Name = Annotated[str, AfterValidator(_simple_name)]
_AETitle = Annotated[str, AfterValidator(_ae_title)]
_AbsolutePath = Annotated[Path, BeforeValidator(_resolve_path)]
_DatabaseUrl = Annotated[str, AfterValidator(_database_url)]
_SopClasses = Annotated[
    tuple[Annotated[str, AfterValidator(_sop_class)], ...],
    BeforeValidator(_one_or_many),
]
_TransferSyntaxes = Annotated[
    tuple[Annotated[str, AfterValidator(_transfer_syntax)], ...],
    BeforeValidator(_one_or_many),
]
_Texts = Annotated[
    tuple[Annotated[_Text, BeforeValidator(_value_text)], ...],
    BeforeValidator(_one_or_many),
]
_TagValues = Annotated[
    Mapping[Annotated[str, AfterValidator(_dicom_keyword)], _Texts],
    AfterValidator(_freeze),
    WrapSerializer(_dump_mapping),
]


def _no_tags() -> Mapping[str, tuple[str, ...]]:
    """Return an empty read-only mapping of tag conditions."""
    return types.MappingProxyType({})
