"""The one exception tree of pacsflow.

Third-party errors (pydantic, SQLAlchemy, OS) are mapped to these at the boundary with
``raise ... from exc``, so callers catch pacsflow's errors and nothing else::

    PacsflowError                 every error pacsflow raises on purpose
    ├── ConfigError               the network file is missing, malformed or invalid
    ├── LedgerError               the tracking database cannot be opened or written
    ├── SourceError               a storage folder cannot be walked
    ├── LegacyDatabaseError       the old PACS's database cannot be read as asked
    ├── SampleError               the demo archive cannot be generated
    └── ReportError               the report's folder or files cannot be written

A file that is not readable DICOM is not an exception at this level: the scanner
records it as ``unreadable`` with its reason and carries on.
"""

from __future__ import annotations


class PacsflowError(Exception):
    """Base class of every error pacsflow raises on purpose."""


class ConfigError(PacsflowError):
    """The network file is missing, malformed or does not validate."""


class LedgerError(PacsflowError):
    """The tracking database cannot be reached, migrated or written."""


class SourceError(PacsflowError):
    """A storage folder named in the network file cannot be walked."""


class LegacyDatabaseError(PacsflowError):
    """The legacy database cannot be reached, or its query is refused or malformed."""


class SampleError(PacsflowError):
    """The demo archive cannot be generated where it was asked for."""


class ReportError(PacsflowError):
    """The report's folder or files cannot be written."""
