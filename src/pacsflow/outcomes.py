"""The values an instance's and a file's journey can end in.

Every instance ends in exactly one outcome, recorded in the ledger. Later stages extend
the reasons, never the meaning of these values.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """Where an instance stands.

    ``pending`` until processed, then exactly one of the others. ``failed`` is
    retryable; ``sinbinned`` and ``skipped`` carry the reason (a route or a
    reconciliation verdict).
    """

    PENDING = "pending"
    SENT = "sent"
    SINBINNED = "sinbinned"
    FAILED = "failed"
    SKIPPED = "skipped"
    """Sent nowhere on purpose: a verdict whose action is ``skip``; recorded only."""


class Verdict(StrEnum):
    """What reconciliation with the legacy database found wrong with an instance.

    At most one per instance, the first that applies in this order.
    """

    NOT_IN_DATABASE = "not_in_database"
    """No row of the legacy database has the instance's SOP Instance UID."""
    STALE_FILE = "stale_file"
    """The database holds the instance in another file, which is not on disk; for a
    file (not an instance): a copy the database no longer points at."""
    DUPLICATE_CONFLICT = "duplicate_conflict"
    """On disk more than once with different content; the database does not say
    which copy is right."""
    EXCLUDED_STUDY = "excluded_study"
    """The reconciled Study Instance UID is on the exclusion list."""


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


class Verification(StrEnum):
    """What the destination said of a sent instance when asked; beside the outcome.

    An instance never checked has none (``unchecked`` in reports).
    """

    VERIFIED = "verified"
    """The destination holds it."""
    MISSING = "missing"
    """The destination does not know it; ``pacsflow run --resend-missing`` sends it
    again."""


class Commitment(StrEnum):
    """What the destination answered when asked for storage commitment.

    Recorded beside the outcome, never instead of it. An instance not asked, or
    asked with no answer before the timeout, has none (``unknown`` in reports).
    """

    COMMITTED = "committed"
    """The destination took responsibility for it (in the N-EVENT-REPORT's
    (0008,1199) Referenced SOP Sequence)."""
    FAILED = "failed"
    """The destination refused it (in (0008,1198) Failed SOP Sequence); the
    (0008,1197) Failure Reason is recorded beside it."""
