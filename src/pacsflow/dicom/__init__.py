"""pacsflow's DICOM sender: C-STORE files to a destination, byte for byte.

::

    association   Peer, StoreAssociation, StoreStatus: the public API
    dataset       dataset_bytes: a file's transfer syntax and raw data set
    status        what each C-STORE-RSP status means for the run
    errors        DicomError and its subclasses
    negotiation   the A-ASSOCIATE-RQ we propose and reading the peer's answer
    messages      C-STORE, C-ECHO, C-FIND and N-ACTION / N-EVENT-REPORT command
                  sets, encoded by pynetdicom
    commitment    storage commitment: the N-ACTION requests and the listener that
                  receives their N-EVENT-REPORTs
    wire          the single-threaded socket loop: PDUs in, PDUs and fragments out

pynetdicom encodes and decodes every PDU and command set; the socket loop, the
timeouts and the fragmentation of data sets are pacsflow's, with no threads.
"""

from pacsflow.dicom.association import Peer, StoreAssociation, StoreStatus
from pacsflow.dicom.dataset import dataset_bytes
from pacsflow.dicom.errors import (
    AssociationLostError,
    AssociationRejectedError,
    CommitmentError,
    DicomError,
    NoContextError,
    PeerUnreachableError,
    UnreadableDatasetError,
)
from pacsflow.dicom.status import StatusCategory, categorise, describe

__all__ = [
    "AssociationLostError",
    "AssociationRejectedError",
    "CommitmentError",
    "DicomError",
    "NoContextError",
    "Peer",
    "PeerUnreachableError",
    "StatusCategory",
    "StoreAssociation",
    "StoreStatus",
    "UnreadableDatasetError",
    "categorise",
    "dataset_bytes",
    "describe",
]
