"""What can go wrong sending to a DICOM destination, and what the run does about it.

Every error names the destination as ``CALLED_AE@host:port`` and says what to do::

    PacsflowError
    └── DicomError                    any failure of the DICOM sender
        ├── PeerUnreachableError      no association could be opened: connection
        │                             refused or timed out, name not resolved, or
        │                             the peer did not negotiate. The run pauses
        │                             that destination.
        ├── AssociationRejectedError  the peer answered A-ASSOCIATE-RJ (permanent or
        │                             transient, see ``transient``)
        ├── NoContextError            the peer accepted no presentation context for
        │                             this SOP class in this transfer syntax; nothing
        │                             was sent and the association is still usable
        ├── AssociationLostError      abort, closed connection, timeout or protocol
        │                             error while an instance was on the wire: its
        │                             outcome is unknown; resend on a new association
        ├── FindFailedError           a C-FIND was answered with a failure status
        ├── CommitmentError           storage commitment could not be asked: the
        │                             port for the reports cannot be listened on,
        │                             the peer refused the Storage Commitment
        │                             context, or failed an N-ACTION
        └── UnreadableDatasetError    a file's meta group could not be parsed

A DICOM status in a C-STORE-RSP is not an exception: it comes back as a value and
:mod:`pacsflow.dicom.status` says what it means.
"""

from __future__ import annotations

from pacsflow.errors import PacsflowError


class DicomError(PacsflowError):
    """Base class of the DICOM sender's errors."""


class PeerUnreachableError(DicomError):
    """No association could be opened with the peer; pause that destination."""


class AssociationRejectedError(DicomError):
    """The peer answered the association request with A-ASSOCIATE-RJ.

    Parameters
    ----------
    message : str
        What happened and what to do.
    result : int
        (PS3.8 Table 9-21) 1 rejected permanently, 2 rejected transiently.
    source : int
        1 service user, 2 service provider (ACSE), 3 service provider (presentation).
    reason : int
        The Reason/Diag. field, whose meaning depends on ``source``.
    """

    def __init__(self, message: str, *, result: int, source: int, reason: int) -> None:
        super().__init__(message)
        self.result = result
        self.source = source
        self.reason = reason

    @property
    def transient(self) -> bool:
        """Whether the peer said the rejection is transient (try again later)."""
        return self.result == 2


class NoContextError(DicomError):
    """The peer accepted no presentation context for a SOP class and transfer syntax."""


class AssociationLostError(DicomError):
    """The association broke while waiting on the peer; the outcome is unknown."""


class FindFailedError(DicomError):
    """The peer answered a C-FIND with a failure status."""


class CommitmentError(DicomError):
    """Storage commitment could not be asked; nothing is known of the instances."""


class UnreadableDatasetError(DicomError):
    """A DICOM file's meta group could not be parsed.

    Parameters
    ----------
    path : str
        The file.
    reason : str
        Why, for the ledger and for the person reviewing it.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"cannot send {path}: {reason}")
        self.path = path
        self.reason = reason
