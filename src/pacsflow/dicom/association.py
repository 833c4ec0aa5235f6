"""A lean, single-threaded association requestor: C-STORE, C-ECHO, C-FIND, N-ACTION.

pynetdicom's ``Association`` hands every message between a DUL thread and a reactor
thread; that costs throughput and, in pynetdicom 3.0, can drop a C-STORE-RSP when the
reactor takes it off the queue while ``send_c_store`` pauses it. This module keeps
pynetdicom for what it does well, encoding and decoding PDUs and DIMSE messages, and
replaces the rest with one blocking socket driven by the calling thread:

- :meth:`StoreAssociation.open` connects (TCP_NODELAY), sends A-ASSOCIATE-RQ and
  reads the answer;
- :meth:`StoreAssociation.store` sends the C-STORE-RQ command, then the caller's data
  set byte for byte in P-DATA-TF fragments within the peer's maximum PDU length, and
  reads the C-STORE-RSP;
- :meth:`StoreAssociation.echo`, :meth:`StoreAssociation.find` and
  :meth:`StoreAssociation.action` (a storage commitment request) send one request
  and read its answer;
- :meth:`StoreAssociation.release` and :meth:`StoreAssociation.abort` end it.

A peer may send an N-EVENT-REPORT-RQ (a storage commitment report) on the association
while an N-ACTION's answer or the release is awaited; when the association was given
an ``on_report`` handler it is handed the report and the peer gets an
N-EVENT-REPORT-RSP with the status the handler returns.

Timeouts by phase: ``acse_timeout`` for connecting, negotiating and releasing,
``network_timeout`` for each send, ``dimse_timeout`` for a whole response to arrive.
Anything that breaks the association while an instance is in flight (A-ABORT, closed
connection, timeout, a response that answers another request, any unexpected PDU)
aborts it and raises :class:`AssociationLostError`: the instance's outcome is unknown
and it must be sent again on a new association.
"""

from __future__ import annotations

import logging
import secrets
import socket
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from io import BytesIO
from types import TracebackType

from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset
from pydicom.filewriter import write_dataset
from pydicom.uid import UID
from pynetdicom.dimse_messages import DIMSEMessage
from pynetdicom.pdu import (
    A_ASSOCIATE_AC,
    A_ASSOCIATE_RJ,
    A_RELEASE_RP,
    A_RELEASE_RQ,
    P_DATA_TF,
)

from pacsflow.dicom import messages, negotiation, tls
from pacsflow.dicom.dataset import dataset_bytes
from pacsflow.dicom.errors import (
    AssociationLostError,
    FindFailedError,
    NoContextError,
    PeerUnreachableError,
)
from pacsflow.dicom.negotiation import (
    IMPLICIT_VR_LITTLE_ENDIAN,
    STUDY_ROOT_FIND,
    VERIFICATION,
)
from pacsflow.dicom.status import StatusCategory, categorise, describe
from pacsflow.dicom.tls import TlsFiles
from pacsflow.dicom.wire import Link, LinkError, Wait, unexpected

log = logging.getLogger(__name__)

_SMALLEST_PEER_PDU = 7  # a PDV needs 6 bytes of header and at least one of data
_ASSUMED_PEER_PDU = 16384  # when the peer announces no Maximum Length
_FIND_PENDING = frozenset({0xFF00, 0xFF01})
_PROCESSING_FAILURE = 0x0110

ReportHandler = Callable[[int, Dataset], int]
"""Takes an N-EVENT-REPORT's (0000,1002) Event Type ID and Event Information, and
returns the (0000,0900) Status to answer it with."""


@dataclass(frozen=True)
class Peer:
    """A destination to send to, and how long to wait for it.

    Attributes
    ----------
    host, port : str, int
        Where the destination listens.
    called_ae : str
        The destination's AE title.
    calling_ae : str
        pacsflow's AE title, as the destination knows it.
    max_pdu : int
        The largest PDU we accept, announced as Maximum Length Received; 0 for no
        limit. What we send is cut to the destination's own maximum.
    acse_timeout : float
        Seconds to connect, to negotiate the association and to release it.
    dimse_timeout : float
        Seconds for a whole C-STORE-RSP or C-ECHO-RSP to arrive.
    network_timeout : float
        Seconds each send may wait for the destination to take our data.
    tls : TlsFiles, optional
        Speak DICOM over TLS, with these trust and identity files.
    """

    host: str
    port: int
    called_ae: str
    calling_ae: str = "PACSFLOW"
    max_pdu: int = 0
    acse_timeout: float = 30
    dimse_timeout: float = 60
    network_timeout: float = 60
    tls: TlsFiles | None = None

    def __str__(self) -> str:
        """The destination as ``CALLED_AE@host:port``."""
        return f"{self.called_ae}@{self.host}:{self.port}"


@dataclass(frozen=True)
class StoreStatus:
    """The answer to one C-STORE (or the status fields of another response).

    Attributes
    ----------
    status : int
        (0000,0900) Status.
    error_comment : str or None
        (0000,0902) Error Comment, if the destination sent one.
    offending_element : str or None
        (0000,0901) Offending Element as ``"(gggg,eeee), ..."``, if sent.
    """

    status: int
    error_comment: str | None = None
    offending_element: str | None = None

    def category(self) -> StatusCategory:
        """What the status means for the instance (see :mod:`pacsflow.dicom.status`).

        Returns
        -------
        StatusCategory
        """
        return categorise(self.status)

    def __str__(self) -> str:
        """The status in hex with its name, and the comment and offending element."""
        parts = [describe(self.status)]
        if self.error_comment:
            parts.append(f"Error Comment '{self.error_comment}'")
        if self.offending_element:
            parts.append(f"Offending Element {self.offending_element}")
        return ", ".join(parts)


class StoreAssociation:
    """One association to a destination, for C-STORE and C-ECHO.

    Parameters
    ----------
    peer : Peer
        The destination.
    contexts : iterable of (str, str)
        (SOP class UID, transfer syntax UID) pairs. One presentation context is
        proposed per distinct pair, with exactly that transfer syntax, and one for
        Verification with implicit VR little endian.
    on_report : callable, optional
        Handles an N-EVENT-REPORT-RQ the peer sends on this association (see
        :data:`ReportHandler`); without it such a request is a protocol fault.

    Raises
    ------
    ValueError
        A UID or AE title is not valid, or there are more than 128 contexts.

    Notes
    -----
    Use it as a context manager to release it on success and abort it on an
    exception; entering opens it unless :meth:`open` was called already::

        with StoreAssociation(peer, pairs) as association:
            status = association.store(sop_class, sop_instance, syntax, data)
    """

    def __init__(
        self,
        peer: Peer,
        contexts: Iterable[tuple[str, str]],
        *,
        on_report: ReportHandler | None = None,
    ) -> None:
        self.peer = peer
        self._on_report = on_report
        self.association_id = f"{peer}#{secrets.token_hex(3)}"
        self._proposed = negotiation.propose(contexts)
        self._syntaxes = {
            cx.context_id: str(cx.transfer_syntax[0]) for cx in self._proposed
        }
        self._request = negotiation.request_pdu(
            peer.calling_ae, peer.called_ae, peer.max_pdu, self._proposed
        )
        self._link: Link | None = None
        self._accepted: dict[negotiation.ContextKey, int] = {}
        self._peer_max = 0
        self._next_id = 1
        self._stores = 0

    def open(self) -> None:
        """Connect, propose the presentation contexts and wait for the answer.

        Raises
        ------
        PeerUnreachableError
            The connection was refused or timed out, the host name does not
            resolve, or the peer did not complete the negotiation.
        AssociationRejectedError
            The peer answered A-ASSOCIATE-RJ.
        RuntimeError
            The association was opened before.
        """
        if self._link is not None:
            raise RuntimeError(f"association {self.association_id} was opened before")
        link = Link(self._connect(), self.peer.max_pdu)
        self._link = link
        try:
            link.send(self._request, self.peer.acse_timeout)
            answer = link.receive(self.peer.acse_timeout)
            if isinstance(answer, A_ASSOCIATE_RJ):
                link.close()
                raise negotiation.rejection(
                    str(self.peer), self.peer.calling_ae, answer
                )
            if not isinstance(answer, A_ASSOCIATE_AC):
                raise unexpected(answer)
            self._accept(answer)
        except LinkError as exc:
            self._end(exc)
            raise PeerUnreachableError(
                f"{self.peer} took the connection but {exc.reason} during association "
                "negotiation; check that a DICOM node listens at that port and that "
                "it answers this AE title"
            ) from exc
        log.info(
            "opened association %s: %s of %s presentation contexts accepted, "
            "peer max PDU %s",
            self.association_id,
            len(self._accepted),
            len(self._proposed),
            self._peer_max or "unlimited",
        )

    def accepts(self, sop_class: str, transfer_syntax: str) -> bool:
        """Whether the peer accepted this SOP class in this transfer syntax.

        Parameters
        ----------
        sop_class, transfer_syntax : str
            The UIDs.

        Returns
        -------
        bool
            ``False`` before :meth:`open`.
        """
        return (sop_class, transfer_syntax) in self._accepted

    def store(
        self,
        sop_class: str,
        sop_instance: str,
        transfer_syntax: str,
        dataset: bytes | memoryview,
        message_id: int | None = None,
    ) -> StoreStatus:
        """C-STORE one data set and return the destination's answer.

        Parameters
        ----------
        sop_class, sop_instance : str
            (0000,0002) Affected SOP Class UID and (0000,1000) Affected SOP
            Instance UID.
        transfer_syntax : str
            The transfer syntax ``dataset`` is encoded in; it is sent as is.
        dataset : bytes or memoryview
            The encoded data set, everything after the file meta group.
        message_id : int, optional
            (0000,0110) Message ID; by default the association counts 1 to 65535
            and wraps.

        Returns
        -------
        StoreStatus
            The status, whatever it is: a failure status is a value, not an error.

        Raises
        ------
        NoContextError
            The peer accepted no context for this SOP class in this transfer
            syntax; nothing was sent and the association is still usable.
        AssociationLostError
            The association broke before the response came; it is aborted.
        ValueError
            ``dataset`` is empty, or a UID or ``message_id`` is not valid.
        """
        link = self._open_link()
        context_id = self._context(sop_class, transfer_syntax)
        view = _byte_view(dataset)
        number = self._message_id(message_id)
        command = messages.store_request(
            number, sop_class, sop_instance, context_id, self._peer_max
        )
        log.debug(
            "%s: C-STORE-RQ %s, %s, %s bytes",
            self.association_id,
            number,
            sop_instance,
            len(view),
        )
        try:
            link.send_message(
                command, context_id, view, self._peer_max, self.peer.network_timeout
            )
            response = link.receive_message(self.peer.dimse_timeout)
            reply = StoreStatus(*messages.store_reply(response, number, sop_instance))
        except LinkError as exc:
            doing = f"the C-STORE of SOP Instance {sop_instance} (message {number})"
            raise self._lost(exc, doing) from exc
        self._stores += 1
        log.debug("%s: C-STORE-RSP %s, %s", self.association_id, number, reply)
        return reply

    def echo(self) -> int:
        """C-ECHO the peer and return the (0000,0900) Status of its answer.

        Returns
        -------
        int
            0x0000 when the peer answered as expected.

        Raises
        ------
        NoContextError
            The peer did not accept the Verification context.
        AssociationLostError
            The association broke before the response came; it is aborted.
        """
        link = self._open_link()
        context_id = self._context(VERIFICATION, IMPLICIT_VR_LITTLE_ENDIAN)
        number = self._message_id(None)
        command = messages.echo_request(number, context_id, self._peer_max)
        log.debug("%s: C-ECHO-RQ %s", self.association_id, number)
        try:
            link.send_message(
                command, context_id, None, self._peer_max, self.peer.network_timeout
            )
            response = link.receive_message(self.peer.dimse_timeout)
            return messages.echo_reply(response, number)
        except LinkError as exc:
            raise self._lost(exc, f"the C-ECHO (message {number})") from exc

    def find(
        self, identifier: Dataset, sop_class: str = STUDY_ROOT_FIND
    ) -> list[Dataset]:
        """C-FIND with ``identifier`` and return every match the peer sends.

        Parameters
        ----------
        identifier : Dataset
            The query keys, encoded in implicit VR little endian (the context
            proposed for ``sop_class`` must be that syntax).
        sop_class : str
            The query/retrieve information model; Study Root by default.

        Returns
        -------
        list of Dataset
            The identifiers of the pending responses, in order.

        Raises
        ------
        NoContextError
            The peer did not accept the information model.
        FindFailedError
            The peer answered with a failure status.
        AssociationLostError
            The association broke before the final response came; it is aborted.
        """
        link = self._open_link()
        context_id = self._context(sop_class, IMPLICIT_VR_LITTLE_ENDIAN)
        number = self._message_id(None)
        command = messages.find_request(
            number, sop_class, _implicit_bytes(identifier), context_id, self._peer_max
        )
        matches: list[Dataset] = []
        try:
            link.send_message(
                command, context_id, None, self._peer_max, self.peer.network_timeout
            )
            while True:
                response = link.receive_message(self.peer.dimse_timeout)
                status, data = messages.find_reply(response, number)
                if status not in _FIND_PENDING:
                    break
                if data:
                    matches.append(_read_implicit(data))
        except LinkError as exc:
            raise self._lost(exc, f"the C-FIND (message {number})") from exc
        if status != 0x0000:
            raise FindFailedError(
                f"{self.peer} answered the C-FIND with {describe(status)}; check that "
                "it lets pacsflow's AE title query, and its query/retrieve settings"
            )
        return matches

    def action(
        self,
        sop_class: str,
        sop_instance: str,
        action_type: int,
        information: Dataset,
    ) -> StoreStatus:
        """N-ACTION the peer and return the status fields of its answer.

        Parameters
        ----------
        sop_class, sop_instance : str
            (0000,0003) Requested SOP Class UID and (0000,1001) Requested SOP
            Instance UID; the context proposed for ``sop_class`` must be implicit
            VR little endian.
        action_type : int
            (0000,1008) Action Type ID.
        information : Dataset
            The Action Information.

        Returns
        -------
        StoreStatus
            The status and Error Comment, whatever the status: a failure is a
            value, not an error.

        Raises
        ------
        NoContextError
            The peer did not accept ``sop_class``.
        AssociationLostError
            The association broke before the response came; it is aborted.
        """
        link = self._open_link()
        context_id = self._context(sop_class, IMPLICIT_VR_LITTLE_ENDIAN)
        number = self._message_id(None)
        command = messages.action_request(
            number,
            sop_class,
            sop_instance,
            action_type,
            _implicit_bytes(information),
            context_id,
            self._peer_max,
        )
        log.debug(
            "%s: N-ACTION-RQ %s, type %s", self.association_id, number, action_type
        )
        try:
            link.send_message(
                command, context_id, None, self._peer_max, self.peer.network_timeout
            )
            response = self._response(link)
            reply = StoreStatus(*messages.action_reply(response, number))
        except LinkError as exc:
            raise self._lost(exc, f"the N-ACTION (message {number})") from exc
        log.debug("%s: N-ACTION-RSP %s, %s", self.association_id, number, reply)
        return reply

    def release(self) -> None:
        """Ask the peer to release the association, wait (bounded) and close.

        A peer that does not confirm within ``acse_timeout`` is aborted: every
        C-STORE was answered already, so nothing is lost. Does nothing if the
        association is not open.
        """
        link = self._link
        if link is None or not link.is_open:
            return
        try:
            link.send(A_RELEASE_RQ().encode(), self.peer.network_timeout)
            self._await_release(link)
        except LinkError as exc:
            log.warning(
                "association %s: %s %s while releasing; aborted it instead",
                self.association_id,
                self.peer,
                exc.reason,
            )
            self._end(exc)
            return
        link.close()
        log.info(
            "released association %s after %s C-STOREs",
            self.association_id,
            self._stores,
        )

    def abort(self) -> None:
        """Send A-ABORT and close. Never raises; does nothing if not open."""
        link = self._link
        if link is None or not link.is_open:
            return
        link.abort()
        log.info(
            "aborted association %s after %s C-STOREs",
            self.association_id,
            self._stores,
        )

    def __enter__(self) -> StoreAssociation:
        """Open the association unless it was opened already."""
        if self._link is None:
            self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Release on success, abort on an exception."""
        if exc_type is None:
            self.release()
        else:
            self.abort()

    def _connect(self) -> socket.socket:
        """A connected TCP socket with TCP_NODELAY; PeerUnreachableError otherwise."""
        timeout = self.peer.acse_timeout
        try:
            sock = socket.create_connection((self.peer.host, self.peer.port), timeout)
        except socket.gaierror as exc:
            why = f"the host name '{self.peer.host}' does not resolve ({exc.strerror})"
            raise self._unreachable(why) from exc
        except TimeoutError as exc:
            why = f"no TCP connection within {timeout:g} s"
            raise self._unreachable(why) from exc
        except ConnectionRefusedError as exc:
            why = "the connection was refused: nothing listens at that port"
            raise self._unreachable(why) from exc
        except OSError as exc:
            raise self._unreachable(f"the connection failed ({exc})") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.peer.tls is None:
            return sock
        try:
            context = tls.client_context(self.peer.tls)
        except (ssl.SSLError, OSError, ValueError) as exc:
            sock.close()
            raise self._unreachable(tls.load_failure(exc)) from exc
        try:
            return context.wrap_socket(sock, server_hostname=self.peer.host)
        except OSError as exc:  # ssl.SSLError included
            sock.close()
            raise self._unreachable(tls.handshake_failure(exc)) from exc

    def _unreachable(self, why: str) -> PeerUnreachableError:
        """The error for a failed connection attempt."""
        return PeerUnreachableError(
            f"cannot connect to {self.peer}: {why}; check the host and port in the "
            "network file and that the destination is running"
        )

    def _accept(self, answer: A_ASSOCIATE_AC) -> None:
        """Record the accepted contexts and the peer's max PDU from A-ASSOCIATE-AC."""
        self._accepted, peer_max = negotiation.accepted(self._proposed, answer)
        if peer_max is None:
            peer_max = _ASSUMED_PEER_PDU
        if 0 < peer_max < _SMALLEST_PEER_PDU:
            raise LinkError(f"announced a maximum PDU length of {peer_max} bytes")
        self._peer_max = peer_max

    def _await_release(self, link: Link) -> None:
        """Wait for A-RELEASE-RP; answer a peer's own A-RELEASE-RQ (collision).

        A storage commitment report the peer sends meanwhile is answered too.
        """
        wait = Wait.of(self.peer.acse_timeout)
        message = DIMSEMessage()
        while True:
            answer = link.receive(wait)
            if isinstance(answer, A_RELEASE_RP):
                return
            if isinstance(answer, P_DATA_TF) and self._on_report is not None:
                if messages.assemble(message, answer):
                    if not self._answer_report(link, message):
                        raise LinkError("sent a DIMSE message while we released")
                    message = DIMSEMessage()
                continue
            if not isinstance(answer, A_RELEASE_RQ):
                raise unexpected(answer)
            link.send(A_RELEASE_RP().encode(), self.peer.network_timeout)

    def _response(self, link: Link) -> DIMSEMessage:
        """The next message that is not a storage commitment report it answers."""
        while True:
            message = link.receive_message(self.peer.dimse_timeout)
            if not self._answer_report(link, message):
                return message

    def _answer_report(self, link: Link, message: DIMSEMessage) -> bool:
        """Hand an N-EVENT-REPORT-RQ to the handler and answer it; False if not one."""
        handler = self._on_report
        report = messages.event_report(message) if handler else None
        if handler is None or report is None:
            return False
        syntax = self._syntaxes.get(report.context_id)
        if syntax is None:
            raise LinkError(
                f"sent an N-EVENT-REPORT-RQ on presentation context "
                f"{report.context_id}, which this association did not propose"
            )
        log.debug(
            "%s: N-EVENT-REPORT-RQ %s, type %s",
            self.association_id,
            report.message_id,
            report.event_type,
        )
        try:
            information = _read(report.information, syntax)
        except Exception as exc:  # pydicom raises many kinds for bad bytes
            log.warning(
                "%s sent an N-EVENT-REPORT whose data set cannot be read (%r); "
                "answered it with 0x0110 processing failure",
                self.peer,
                exc,
            )
            status = _PROCESSING_FAILURE
        else:
            status = handler(report.event_type, information)
        response = messages.event_report_response(report, status, self._peer_max)
        link.send_buffers(response, self.peer.network_timeout)
        return True

    def _open_link(self) -> Link:
        """The link of an open association; an error saying why there is none."""
        if self._link is None:
            raise RuntimeError(
                f"association {self.association_id} is not open: call open() first"
            )
        if not self._link.is_open:
            raise AssociationLostError(
                f"association {self.association_id} is closed (released or lost); "
                "open a new association"
            )
        return self._link

    def _context(self, sop_class: str, transfer_syntax: str) -> int:
        """The accepted context ID for the pair; NoContextError if there is none."""
        context_id = self._accepted.get((sop_class, transfer_syntax))
        if context_id is not None:
            return context_id
        proposed = any(
            (str(cx.abstract_syntax), str(cx.transfer_syntax[0]))
            == (sop_class, transfer_syntax)
            for cx in self._proposed
        )
        hint = (
            "configure the destination to accept it, or route these instances elsewhere"
            if proposed
            else "it was not among the contexts this association proposed"
        )
        raise NoContextError(
            f"{self.peer}: the destination accepts no presentation context for "
            f"{negotiation.uid_text(sop_class)} in "
            f"{negotiation.uid_text(transfer_syntax)}; no transcoding is done: {hint}"
        )

    def _message_id(self, given: int | None) -> int:
        """``given`` if valid, else the association's next Message ID (1-65535)."""
        if given is not None:
            if not 0 <= given <= 0xFFFF:
                raise ValueError(f"Message ID {given} is not between 0 and 65535")
            return given
        number = self._next_id
        self._next_id = number % 0xFFFF + 1
        return number

    def _lost(self, exc: LinkError, doing: str) -> AssociationLostError:
        """Abort the association and return the error for losing it mid-operation."""
        self._end(exc)
        log.info("association %s lost: %s", self.association_id, exc.reason)
        return AssociationLostError(
            f"{self.peer} {exc.reason} during {doing}; its outcome is unknown: "
            "send it again on a new association"
        )

    def _end(self, exc: LinkError) -> None:
        """Close the link after a failure: abort it unless the peer ended it."""
        if self._link is None:
            return
        if exc.peer_closed:
            self._link.close()
        else:
            self._link.abort()


def _implicit_bytes(ds: Dataset) -> bytes:
    """A data set encoded in implicit VR little endian."""
    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, True
    write_dataset(buffer, ds)
    return buffer.getvalue()


def _read_implicit(data: bytes) -> Dataset:
    """A data set from implicit VR little endian bytes."""
    dataset: Dataset = read_dataset(BytesIO(data), True, True)
    return dataset


def _read(data: bytes, syntax: str) -> Dataset:
    """A data set from bytes in an uncompressed transfer syntax."""
    uid = UID(syntax)
    if uid.is_deflated:
        raise ValueError(f"cannot read a data set in {negotiation.uid_text(syntax)}")
    dataset: Dataset = read_dataset(
        BytesIO(data), uid.is_implicit_VR, uid.is_little_endian
    )
    return dataset


def _byte_view(dataset: bytes | memoryview) -> memoryview:
    """A flat byte view of the data set; ValueError if it is empty."""
    view = memoryview(dataset)
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    if not len(view):
        raise ValueError("the data set is empty; a C-STORE-RQ must carry one")
    return view


__all__ = [
    "Peer",
    "ReportHandler",
    "StoreAssociation",
    "StoreStatus",
    "dataset_bytes",
]
