"""The network file's sections, apart from the destinations and the whole file.

:class:`Source`, :class:`ScanOptions`, :class:`LegacyDatabase`, and :class:`Match`
and :class:`Route` for the routes. Every section derives from :class:`_Frozen`:
immutable, unknown keys refused, and each field's docstring kept as its description,
which the message about a missing key quotes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.engine import URL, make_url

from pacsflow.config.fields import (
    _AbsolutePath,
    _DatabaseUrl,
    _Name,
    _no_tags,
    _SopClasses,
    _TagValues,
    _Text,
    _Texts,
    _TransferSyntaxes,
)
from pacsflow.config.problems import _ProblemsError
from pacsflow.errors import ConfigError

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_EMPTY_MATCH = (
    "empty match; give at least one condition, or leave match out for a route that "
    "takes every instance"
)


class _Frozen(BaseModel):
    """Base of the network file's sections: immutable, unknown keys refused."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", use_attribute_docstrings=True
    )


class Source(_Frozen):
    """A storage folder of the old PACS."""

    name: _Name
    """Short unique name of the folder (letters, digits, '-' and '_')."""
    path: _AbsolutePath
    """The folder, absolute or relative to the network file; need not exist yet."""
    read_mb_per_second: float | None = Field(default=None, gt=0)
    """At most this many megabytes per second read from it while sending, over all
    workers, to spare the old storage; default no limit."""


class ScanOptions(_Frozen):
    """How a scan runs."""

    workers: int | None = Field(default=None, ge=1)
    """Processes that read headers while scanning, at least 1; default one per core."""


class RunOptions(_Frozen):
    """How a migration run sends."""

    order: Literal["newest_first", "oldest_first", "as_found"] = "newest_first"
    """Which studies go first, by (0008,0020) Study Date; as_found: scan order."""
    workers: int | None = Field(default=None, ge=1)
    """Processes that read and send; default one per core."""
    attempts: int = Field(default=3, ge=1)
    """Tries per instance for answers worth retrying (0xA7xx, transient rejection,
    lost association) before it ends failed."""
    backoff: float = Field(default=1.0, gt=0)
    """Seconds to wait before the first retry; doubled for each further one."""
    batch: int = Field(default=500, ge=1)
    """Instances handed to a worker at once: whole studies, at most this many unless
    one study is larger."""
    reconnect_seconds: float = Field(default=300, ge=0)
    """How long a run keeps trying to reach the tracking database after losing its
    connection (a restart, a failover) before it stops; what was recorded stays."""


class EventsOptions(_Frozen):
    """Where the event log (one JSON line per instance transition) goes."""

    path: _AbsolutePath | None = Field(
        default=Path("events.jsonl"), validate_default=True
    )
    """The file, absolute or relative to the network file; null for none."""
    max_bytes: int = Field(default=100 * 2**20, ge=4096)
    """Rotate the file before it grows past this many bytes."""
    backups: int = Field(default=10, ge=0)
    """Rotated files kept beside it (events.jsonl.1 is the newest)."""


VerdictAction = Literal["sinbin", "send", "skip"]
"""What becomes of an instance with a reconciliation verdict."""


class Verdicts(_Frozen):
    """What to do with the instances reconciliation puts a verdict on.

    ``sinbin`` (the default) puts the instance aside, as it is on disk, with the
    verdict as its reason; ``send`` migrates it anyway, routed as usual and its header
    reconciled where the database knows it; ``skip`` sends it nowhere and records
    the verdict (outcome ``skipped``).
    """

    not_in_database: VerdictAction = "sinbin"
    """The file's SOP Instance UID has no row in the legacy database (an orphan)."""
    stale_file: VerdictAction = "sinbin"
    """The database's FilePath for the UID names another file, not on disk."""
    excluded_study: VerdictAction = "sinbin"
    """The reconciled Study Instance UID is on the exclusion list."""
    duplicate_conflict: VerdictAction = "sinbin"
    """The UID is on disk more than once with different content, and the database
    does not say which copy is right."""


class LegacyDatabase(_Frozen):
    """The old PACS's database, read once to reconcile headers."""

    url: _DatabaseUrl
    """SQLAlchemy URL of the old PACS's database, best without the password."""
    password_env: str | None = None
    """Name of the environment variable holding the password, read on connect."""
    query: _Text
    """SQL with one row per instance, each column named by a DICOM keyword."""

    @field_validator("password_env")
    @classmethod
    def _check_password_env(cls, value: str | None) -> str | None:
        """Check that the variable's name is one a shell can set."""
        if value is not None and not _ENV_NAME.fullmatch(value):
            raise ValueError(
                f"{value!r} is not an environment variable name; expected letters, "
                "digits and '_', not starting with a digit"
            )
        return value

    @model_validator(mode="after")
    def _one_password_source(self) -> LegacyDatabase:
        """Refuse a password both in the URL and in an environment variable."""
        if self.password_env is not None and make_url(self.url).password is not None:
            raise _ProblemsError(
                [
                    (
                        ("url",),
                        f"the URL holds a password although password_env names "
                        f"{self.password_env}; remove the password from the URL",
                    )
                ]
            )
        return self

    def connect_url(self) -> URL:
        """Return the URL to connect with, the password taken from the environment.

        Returns
        -------
        sqlalchemy.engine.URL
            :attr:`url` with the value of :attr:`password_env` as its password.

        Raises
        ------
        ConfigError
            If :attr:`password_env` is set but that variable is not.
        """
        url = make_url(self.url)
        if self.password_env is None:
            return url
        password = os.environ.get(self.password_env)
        if password is None:
            raise ConfigError(
                f"legacy_database.password_env: the environment variable "
                f"{self.password_env} is not set; set it to the password of "
                f"{url.render_as_string()} before running pacsflow"
            )
        return url.set(password=password)


class Match(_Frozen):
    """Conditions a route puts on an instance; all given ones must hold."""

    sop_class: _SopClasses = ()
    """SOP classes accepted, as UIDs or pydicom keywords."""
    not_sop_class: _SopClasses = ()
    """SOP classes refused, as UIDs or pydicom keywords."""
    transfer_syntax: _TransferSyntaxes = ()
    """Transfer syntaxes accepted, as UIDs or pydicom keywords."""
    not_transfer_syntax: _TransferSyntaxes = ()
    """Transfer syntaxes refused, as UIDs or pydicom keywords."""
    pixel_data: bool | None = None
    """true: must have pixel data; false: must have none."""
    modality: _Texts = ()
    """(0008,0060) Modality values accepted."""
    not_modality: _Texts = ()
    """(0008,0060) Modality values refused."""
    tags: _TagValues = Field(default_factory=_no_tags)
    """DICOM keyword to the values accepted, compared as text."""
    not_tags: _TagValues = Field(default_factory=_no_tags)
    """DICOM keyword to the values refused, compared as text."""

    @field_validator("tags", "not_tags", mode="before")
    @classmethod
    def _not_empty(cls, value: object) -> object:
        """Refuse an empty mapping of tags."""
        if isinstance(value, Mapping) and not value:
            raise ValueError("empty mapping; give keyword: values or leave the key out")
        return value

    @model_validator(mode="after")
    def _has_a_condition(self) -> Match:
        """Refuse a match without conditions (a catch-all has no match at all)."""
        if self.pixel_data is None and not any(
            getattr(self, name)
            for name in type(self).model_fields
            if name != "pixel_data"
        ):
            raise ValueError(_EMPTY_MATCH)
        return self


class Route(_Frozen):
    """Sends the instances its match accepts to one destination."""

    name: _Text
    """Unique name of the route, used in logs and in the ledger."""
    match: Match | None = None
    """Conditions an instance must meet; leave out on the last, catch-all route."""
    to: str
    """Name of the destination that receives the instances this route takes."""

    @field_validator("match", mode="before")
    @classmethod
    def _match_written_out(cls, value: object) -> object:
        """Refuse ``match:`` written with nothing after it."""
        if value is None:
            raise ValueError(_EMPTY_MATCH)
        return value
