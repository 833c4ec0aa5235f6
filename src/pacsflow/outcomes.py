"""The values an instance's and a file's journey can end in.

Every instance ends in exactly one outcome, recorded in the ledger. Later stages extend
the reasons, never the meaning of these values.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """Where an instance stands.

    ``pending`` until processed, then exactly one of the others. ``failed`` is
    retryable; ``sinbinned`` carries the reason it was put aside.
    """

    PENDING = "pending"
    SENT = "sent"
    SINBINNED = "sinbinned"
    FAILED = "failed"


class FileState(StrEnum):
    """What the scanner made of a file on disk."""

    INDEXED = "indexed"
    """Readable DICOM; its header is in the ledger."""
    UNREADABLE = "unreadable"
    """Not readable DICOM; the reason is recorded."""
    VANISHED = "vanished"
    """Indexed by an earlier scan, gone from its folder since."""


class Duplicate(StrEnum):
    """Whether an instance's SOP Instance UID is on disk more than once."""

    NONE = "none"
    SAME_CONTENT = "same_content"
    DIFFERENT_CONTENT = "different_content"
