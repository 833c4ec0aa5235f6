"""pacsflow: migrate a PACS archive straight from disk, and route DICOM.

The package is laid out as the pipeline an instance travels through::

    config      the network file, validated into typed objects
    scan/       walking the storage folders and indexing every file's header
    ledger/     the tracking database: the single source of truth
    sample      a generated demo archive with its legacy database
    status      what the ledger says, for people and for scripts
    cli         the thin command layer
"""

from pacsflow.errors import ConfigError, LedgerError, PacsflowError

__version__ = "0.1.0"

__all__ = ["ConfigError", "LedgerError", "PacsflowError", "__version__"]
