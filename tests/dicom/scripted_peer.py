"""Scripted DICOM peers on loopback ports, for the faults real archives commit.

:func:`scripted_peer` runs a pynetdicom storage SCP that answers each C-STORE with
what the test's :class:`Script` says (a status with Error Comment and Offending
Element, an abort, a stall) and records every data set it receives as
raw bytes, so tests can compare them with what was sent.

:func:`raw_peer` drives the protocol by hand, with pynetdicom's PDU classes, to send
what a conformant SCP never would: a response to another message, an A-RELEASE-RQ
in the middle of a C-STORE, a PDU of an unknown type or of absurd length.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import AE, evt
from pynetdicom.dimse_messages import C_STORE_RSP, DIMSEMessage
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.pdu import A_ASSOCIATE_AC, A_ASSOCIATE_RQ, P_DATA_TF
from pynetdicom.pdu_primitives import (
    A_ASSOCIATE,
    ImplementationClassUIDNotification,
    MaximumLengthNotification,
)
from pynetdicom.presentation import PresentationContext

from pacsflow.dicom import Peer as SendTo
from tests.peers import free_port

VERIFICATION = "1.2.840.10008.1.1"
IMPLICIT = "1.2.840.10008.1.2"

# The longest a stalling handler waits: long past any test's dimse_timeout, short
# enough that a test never hangs on it.
STALL_LIMIT = 10.0


@dataclass(frozen=True)
class Script:
    """How the scripted peer behaves.

    Attributes
    ----------
    contexts : sequence of (str, str)
        The (SOP class, transfer syntax) pairs it accepts; Verification always.
    status : int
        The (0000,0900) Status of every C-STORE-RSP.
    error_comment, offending_element : str / list of int, optional
        Sent with the status when given.
    abort : bool
        Abort the association from inside the C-STORE handler.
    stall : bool
        Hold the C-STORE-RSP until the peer is stopped (at most STALL_LIMIT s).
    max_associations : int
        How many associations at once; the next is rejected transiently.
    require_called_aet : bool
        Reject requests whose called AE title is not ours (permanent, reason 7).
    max_pdu : int
        The Maximum Length Received it announces (0 for unlimited).
    """

    contexts: Sequence[tuple[str, str]] = ()
    status: int = 0x0000
    error_comment: str | None = None
    offending_element: list[int] | None = None
    abort: bool = False
    stall: bool = False
    max_associations: int = 10
    require_called_aet: bool = False
    max_pdu: int = 16382


@dataclass
class Received:
    """One C-STORE as the scripted peer saw it."""

    message_id: int
    sop_class: str
    sop_instance: str
    transfer_syntax: str
    dataset: bytes


@dataclass
class ScriptedPeer:
    """A running scripted peer, what it received and how its associations ended."""

    host: str
    port: int
    ae_title: str
    received: list[Received] = field(default_factory=list)
    endings: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def send_to(self, **options: Any) -> SendTo:
        """The pacsflow Peer that reaches this scripted peer."""
        return SendTo(self.host, self.port, self.ae_title, **options)


@contextmanager
def scripted_peer(script: Script, ae_title: str = "SCRIPTED") -> Iterator[ScriptedPeer]:
    """Run a pynetdicom SCP that follows ``script``; shut it down on exit."""
    ae = AE(ae_title=ae_title)
    ae.require_called_aet = script.require_called_aet
    ae.maximum_pdu_size = script.max_pdu
    ae.maximum_associations = script.max_associations
    ae.add_supported_context(VERIFICATION, IMPLICIT)
    for sop_class, syntax in script.contexts:
        ae.add_supported_context(sop_class, syntax)

    peer = ScriptedPeer("127.0.0.1", free_port(), ae_title)
    handlers: list[tuple[evt.EventType, Callable[[evt.Event], Any]]] = [
        (evt.EVT_C_STORE, _store_handler(script, peer)),
        (evt.EVT_RELEASED, lambda event: peer.endings.append("released")),
        (evt.EVT_ABORTED, lambda event: peer.endings.append("aborted")),
    ]
    server = ae.start_server((peer.host, peer.port), block=False, evt_handlers=handlers)
    try:
        yield peer
    finally:
        peer.stop.set()
        # Let each association finish before the server goes: shutting down under
        # a handler that is still stalled leaks pynetdicom's socket.
        for association in ae.active_associations:
            association.join(STALL_LIMIT)
        server.shutdown()


def _store_handler(
    script: Script, peer: ScriptedPeer
) -> Callable[[evt.Event], int | Dataset]:
    """The EVT_C_STORE handler that records the data set and follows the script."""

    def handle(event: evt.Event) -> int | Dataset:
        request = event.request
        peer.received.append(
            Received(
                int(request.MessageID),
                str(request.AffectedSOPClassUID),
                str(request.AffectedSOPInstanceUID),
                str(event.context.transfer_syntax),
                request.DataSet.getvalue(),
            )
        )
        if script.abort:
            event.assoc.abort()
            return 0x0000
        if script.stall:
            peer.stop.wait(STALL_LIMIT)
        return _status(script)

    return handle


def _status(script: Script) -> Dataset:
    """The status dataset the handler returns."""
    status = Dataset()
    status.Status = script.status
    if script.error_comment is not None:
        status.ErrorComment = script.error_comment
    if script.offending_element is not None:
        status.OffendingElement = script.offending_element
    return status


# A hand-driven acceptor, for protocol faults that pynetdicom's SCP never commits.

_RAW_TIMEOUT = 10.0
_PDU_HEADER = struct.Struct(">BxL")

Answer = Callable[[DIMSEMessage], list[bytes]]
"""Given the DIMSE request received, the PDUs to send back."""


@contextmanager
def raw_peer(answer: Answer, ae_title: str = "RAW") -> Iterator[ScriptedPeer]:
    """Accept one association (every context), read one request, send ``answer``.

    After answering it reads until the requestor closes the connection, then stops.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(_RAW_TIMEOUT)
    peer = ScriptedPeer("127.0.0.1", listener.getsockname()[1], ae_title)
    failures: list[BaseException] = []

    def serve() -> None:
        try:
            connection, _ = listener.accept()
            with connection:
                connection.settimeout(_RAW_TIMEOUT)
                _accept_association(connection)
                for pdu in answer(_read_request(connection)):
                    connection.sendall(pdu)
                while connection.recv(65536):
                    pass
        except BaseException as exc:  # reported to the test below
            failures.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield peer
    finally:
        thread.join(_RAW_TIMEOUT + 1)
        listener.close()
    if failures:
        raise failures[0]


def store_response(
    request: DIMSEMessage,
    *,
    message_id: int | None = None,
    sop_instance: str | None = None,
    status: int = 0x0000,
) -> list[bytes]:
    """The PDUs of a C-STORE-RSP to ``request``, with the fields a test overrides."""
    command = request.command_set
    primitive = C_STORE()
    primitive.MessageIDBeingRespondedTo = (
        command.MessageID if message_id is None else message_id
    )
    primitive.AffectedSOPClassUID = command.AffectedSOPClassUID
    primitive.AffectedSOPInstanceUID = sop_instance or command.AffectedSOPInstanceUID
    primitive.Status = status
    message = C_STORE_RSP()
    message.primitive_to_message(primitive)
    return [
        P_DATA_TF(data).encode()
        for data in message.encode_msg(request.context_id, 16384)
    ]


def _read_pdu(connection: socket.socket) -> bytes:
    """One whole PDU from the socket."""
    header = _read_exactly(connection, _PDU_HEADER.size)
    _, length = _PDU_HEADER.unpack(header)
    return header + _read_exactly(connection, length)


def _read_exactly(connection: socket.socket, size: int) -> bytes:
    """``size`` bytes from the socket; EOFError if it closes first."""
    data = bytearray()
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise EOFError("the requestor closed the connection")
        data += chunk
    return bytes(data)


def _accept_association(connection: socket.socket) -> None:
    """Read an A-ASSOCIATE-RQ and accept every context it proposes."""
    request = A_ASSOCIATE_RQ()
    request.decode(_read_pdu(connection))
    proposed = request.to_primitive()

    results = []
    for context in proposed.presentation_context_definition_list:
        result = PresentationContext()
        result.context_id = context.context_id
        result.result = 0x00
        result.transfer_syntax = [context.transfer_syntax[0]]
        results.append(result)

    accept = A_ASSOCIATE()
    accept.application_context_name = proposed.application_context_name
    accept.calling_ae_title = proposed.calling_ae_title
    accept.called_ae_title = proposed.called_ae_title
    accept.result = 0x00
    accept.presentation_context_definition_results_list = results
    max_length = MaximumLengthNotification()
    max_length.maximum_length_received = 16384
    class_uid = ImplementationClassUIDNotification()
    class_uid.implementation_class_uid = "1.2.826.0.1.3680043.9.9999.1"
    accept.user_information = [max_length, class_uid]
    connection.sendall(A_ASSOCIATE_AC(accept).encode())


def _read_request(connection: socket.socket) -> DIMSEMessage:
    """Read P-DATA-TF PDUs until one whole DIMSE request has arrived."""
    message = DIMSEMessage()
    for _ in range(100_000):
        pdu = P_DATA_TF()
        pdu.decode(_read_pdu(connection))
        if message.decode_msg(pdu.to_primitive()):
            return message
    raise AssertionError("the request never ended")
