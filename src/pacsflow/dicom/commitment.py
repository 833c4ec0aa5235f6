"""Storage commitment (Push Model, PS3.4 Annex J) as the SCU: ask, then listen.

:func:`request_commitment` asks a destination to take responsibility for instances
it was sent:

1. :class:`ReportListener` listens on pacsflow's own port (a pynetdicom server in a
   thread) for the N-EVENT-REPORTs that carry the answers. It accepts the Storage
   Commitment Push Model context with the peer in the SCP role (SCP/SCU role
   selection accepted as proposed) and Verification (so the destination's
   administrators can C-ECHO it), and refuses associations that call another AE
   title than its own. When the destination has ``tls``, the listener serves TLS
   with pacsflow's certificate and, given ``tls.ca``, takes only connections that
   present a certificate signed by it (:mod:`pacsflow.dicom.tls`); a connection
   that fails the handshake is logged and named in the timeout's warning.
2. One N-ACTION-RQ per batch of instances (Action Type ID 1, "request storage
   commitment"; a transaction with a fresh (0008,1195) Transaction UID and one
   (0008,1199) Referenced SOP Sequence item per instance) goes over pacsflow's own
   :class:`~pacsflow.dicom.association.StoreAssociation`. A report the peer sends
   on that association before it is released is taken there and answered.
3. :class:`Reports` matches each report to its transaction by Transaction UID;
   the caller waits on a condition, not a polling loop, until every transaction
   is answered or the timeout passes.

Event Type 1 says every instance of the transaction is committed; Event Type 2 lists
those that are not in (0008,1198) Failed SOP Sequence, each with its (0008,1197)
Failure Reason. An instance no report mentions stays *unanswered*: nothing was
learnt of it.
"""

from __future__ import annotations

import errno
import logging
import ssl
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from pynetdicom import AE, evt

from pacsflow.dicom import tls
from pacsflow.dicom.association import Peer, StoreAssociation
from pacsflow.dicom.errors import AssociationLostError, CommitmentError
from pacsflow.dicom.negotiation import (
    IMPLICIT_VR_LITTLE_ENDIAN,
    STORAGE_COMMITMENT_INSTANCE,
    STORAGE_COMMITMENT_PUSH,
    VERIFICATION,
)
from pacsflow.dicom.status import StatusCategory
from pacsflow.dicom.tls import TlsFiles
from pacsflow.dicom.wire import LinkError

log = logging.getLogger(__name__)

REQUEST_COMMITMENT = 1
"""(0000,1008) Action Type ID of a storage commitment request."""
ALL_COMMITTED, SOME_FAILED = 1, 2
"""(0000,1002) Event Type IDs of a storage commitment report."""

# PS3.3 C.14.1.1: (0008,1197) Failure Reason values.
_FAILURE_REASONS = {
    0x0110: "processing failure",
    0x0112: "no such object instance",
    0x0119: "class / instance conflict",
    0x0122: "referenced SOP class not supported",
    0x0131: "duplicate transaction UID",
    0x0213: "resource limitation",
}
_SUCCESS = 0x0000
_PROCESSING_FAILURE = 0x0110
_NO_SUCH_EVENT_TYPE = 0x0113
_PAIR = (STORAGE_COMMITMENT_PUSH, IMPLICIT_VR_LITTLE_ENDIAN)
_ACCEPTED = (StatusCategory.SUCCESS, StatusCategory.WARNING)


@dataclass(frozen=True)
class ListenAddress:
    """Where pacsflow listens for storage commitment reports.

    Attributes
    ----------
    bind : str
        The local address, ``0.0.0.0`` for every interface.
    port : int
        The TCP port.
    ae_title : str
        The AE title pacsflow answers as; associations calling another are refused.
    tls : TlsFiles, optional
        Serve TLS with pacsflow's certificate (the destination's ``tls``).
    """

    bind: str
    port: int
    ae_title: str
    tls: TlsFiles | None = None

    def __str__(self) -> str:
        """The address as ``AE_TITLE@bind:port``."""
        return f"{self.ae_title}@{self.bind}:{self.port}"


@dataclass
class CommitmentAnswers:
    """What the destination answered, by SOP Instance UID.

    Attributes
    ----------
    committed : set of str
        Instances it took responsibility for.
    failed : dict of str to int
        Instances it refused, with the (0008,1197) Failure Reason.
    unanswered : set of str
        Instances asked about that no report mentioned before the timeout.
    """

    committed: set[str] = field(default_factory=set)
    failed: dict[str, int] = field(default_factory=dict)
    unanswered: set[str] = field(default_factory=set)


def failure_text(reason: int) -> str:
    """A Failure Reason as ``"0x0112 no such object instance"``."""
    return f"0x{reason:04X} {_FAILURE_REASONS.get(reason, 'unknown failure reason')}"


class Reports:
    """The transactions awaiting a report, and what the reports said; thread-safe.

    The listener's threads and the requesting thread hand reports to
    :meth:`receive`; the requesting thread waits in :meth:`wait` for the last one.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._waiting: dict[str, frozenset[str]] = {}
        self._asked: set[str] = set()
        self._answers = CommitmentAnswers()
        self._refused: list[str] = []
        self._failed_handshakes: list[str] = []

    def expect(self, transaction: str, instances: Collection[str]) -> None:
        """Await a report for ``transaction`` about these SOP Instance UIDs."""
        with self._changed:
            self._waiting[transaction] = frozenset(instances)
            self._asked.update(instances)

    @property
    def transactions_waiting(self) -> int:
        """How many transactions no report has answered yet."""
        with self._changed:
            return len(self._waiting)

    def receive(self, event_type: int, information: Dataset) -> int:
        """Take one N-EVENT-REPORT; return the Status to answer it with.

        Parameters
        ----------
        event_type : int
            (0000,1002) Event Type ID: 1 all committed, 2 some failed.
        information : Dataset
            The Event Information.

        Returns
        -------
        int
            0x0000 for a report taken, or one about a transaction not awaited;
            0x0113 for another event type; 0x0110 for a data set that cannot be
            read.
        """
        if event_type not in (ALL_COMMITTED, SOME_FAILED):
            log.warning(
                "a storage commitment report has Event Type ID %s, neither 1 nor 2; "
                "answered 0x0113 no such event type",
                event_type,
            )
            return _NO_SUCH_EVENT_TYPE
        try:
            transaction, committed, failed = _read_report(information)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            log.warning(
                "a storage commitment report cannot be read (%s); answered 0x0110 "
                "processing failure",
                exc,
            )
            return _PROCESSING_FAILURE
        with self._changed:
            self._take(transaction, committed, failed)
            self._changed.notify_all()
        return _SUCCESS

    def wait(self, timeout: float) -> bool:
        """Wait until every transaction is answered; False if ``timeout`` passed."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._waiting, timeout)

    def answers(self) -> CommitmentAnswers:
        """What the reports said so far; the rest of what was asked is unanswered."""
        with self._changed:
            answers = self._answers
            known = answers.committed | answers.failed.keys()
            return CommitmentAnswers(
                set(answers.committed), dict(answers.failed), self._asked - known
            )

    def refuse(self, who: str) -> None:
        """Note an association the listener refused (``AE@address calling 'AE'``)."""
        with self._changed:
            self._refused.append(who)

    def refusals(self) -> list[str]:
        """The associations refused so far: a peer reporting to another AE title."""
        with self._changed:
            return list(self._refused)

    def refuse_handshake(self, what: str) -> None:
        """Note a connection that failed its TLS handshake (``host:port: why``)."""
        with self._changed:
            self._failed_handshakes.append(what)

    def failed_handshakes(self) -> list[str]:
        """The connections that failed their TLS handshake so far, and why."""
        with self._changed:
            return list(self._failed_handshakes)

    def _take(
        self, transaction: str, committed: list[str], failed: list[tuple[str, int]]
    ) -> None:
        """Record a report's answers about its transaction's instances."""
        instances = self._waiting.pop(transaction, None)
        if instances is None:
            log.info(
                "ignored a storage commitment report for transaction %s, which "
                "this verification did not ask (or was answered already)",
                transaction,
            )
            return
        for uid in committed:
            if uid in instances:
                self._answers.committed.add(uid)
        for uid, reason in failed:
            if uid in instances:
                self._answers.failed[uid] = reason
                log.debug("not committed: %s, %s", uid, failure_text(reason))
        log.debug(
            "storage commitment report for transaction %s: %d committed, %d failed "
            "of %d asked",
            transaction,
            sum(uid in instances for uid in committed),
            sum(uid in instances for uid, _ in failed),
            len(instances),
        )


def _read_report(information: Dataset) -> tuple[str, list[str], list[tuple[str, int]]]:
    """Transaction UID, committed UIDs and (failed UID, Failure Reason) of a report."""
    transaction = str(information.TransactionUID)
    committed = [
        str(item.ReferencedSOPInstanceUID)
        for item in information.get("ReferencedSOPSequence") or []
    ]
    failed = [
        (
            str(item.ReferencedSOPInstanceUID),
            int(item.get("FailureReason", _PROCESSING_FAILURE)),
        )
        for item in information.get("FailedSOPSequence") or []
    ]
    return transaction, committed, failed


class ReportListener:
    """pacsflow's storage commitment SCU side: a server that takes the reports.

    Parameters
    ----------
    address : ListenAddress
        Where to listen and as which AE title.
    reports : Reports
        What receives each report.

    Notes
    -----
    Use it as a context manager: entering starts the server (in threads of this
    process), leaving stops it and closes every association.
    """

    def __init__(self, address: ListenAddress, reports: Reports) -> None:
        self.address = address
        self._reports = reports
        self._server: Any = None

    def start(self) -> None:
        """Listen; CommitmentError if the address cannot be listened on, or its
        TLS files cannot be used."""
        ae = AE(ae_title=self.address.ae_title)
        ae.require_called_aet = True
        ae.add_supported_context(STORAGE_COMMITMENT_PUSH, scu_role=True, scp_role=True)
        ae.add_supported_context(VERIFICATION)
        where = (self.address.bind, self.address.port)
        handlers: list[Any] = [
            (evt.EVT_N_EVENT_REPORT, self._report),
            (evt.EVT_REJECTED, self._rejected),
        ]
        files = self.address.tls
        context = None if files is None else _listening_context(files)
        try:
            if context is None:
                self._server = ae.start_server(
                    where, block=False, evt_handlers=handlers
                )
            else:
                self._server = tls.start_tls_server(
                    ae, where, context, handlers, self._refused
                )
        except OSError as exc:
            raise CommitmentError(self._cannot_listen(exc)) from exc
        log.info("listening for storage commitment reports as %s", self.address)

    def stop(self) -> None:
        """Stop listening and close every association. Safe to call twice."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()

    def __enter__(self) -> Self:
        """Start listening."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop listening."""
        self.stop()

    def _report(self, event: evt.Event) -> tuple[int, None]:
        """EVT_N_EVENT_REPORT: hand the report over; answer with its status."""
        try:
            information = event.event_information
        except Exception as exc:  # pydicom raises many kinds for bad bytes
            log.warning("a storage commitment report cannot be decoded: %r", exc)
            return _PROCESSING_FAILURE, None
        event_type = int(getattr(event.request, "EventTypeID", None) or 0)
        return self._reports.receive(event_type, information), None

    def _rejected(self, event: evt.Event) -> None:
        """EVT_REJECTED: remember who was refused, for the timeout's warning."""
        requestor = event.assoc.requestor
        called = requestor.primitive.called_ae_title if requestor.primitive else "?"
        self._reports.refuse(
            f"{requestor.ae_title}@{requestor.address} calling '{called}'"
        )

    def _refused(self, who: str, why: str) -> None:
        """A connection failed its TLS handshake: say so, and keep it for the
        timeout's warning."""
        log.info(
            "refused a connection to the storage commitment port from %s: %s",
            who,
            why,
        )
        self._reports.refuse_handshake(f"{who}: {why}")

    def _cannot_listen(self, exc: OSError) -> str:
        """What went wrong listening, and what to do."""
        bind, port = self.address.bind, self.address.port
        if exc.errno == errno.EADDRINUSE:
            return (
                f"port {port} for storage commitment reports is in use on {bind}; "
                "stop what listens there or choose another storage_commitment.port"
            )
        if exc.errno == errno.EACCES:
            return (
                f"pacsflow may not listen on port {port} for storage commitment "
                "reports (ports below 1024 need privileges); choose another "
                "storage_commitment.port"
            )
        if exc.errno == errno.EADDRNOTAVAIL:
            return (
                f"cannot listen for storage commitment reports on {bind}: it is not "
                "an address of this machine; set storage_commitment.bind to one of "
                "its addresses, or to 0.0.0.0"
            )
        return (
            f"cannot listen for storage commitment reports on {bind}:{port} ({exc}); "
            "check storage_commitment.bind and storage_commitment.port"
        )


def _listening_context(files: TlsFiles) -> ssl.SSLContext:
    """The listener's TLS context; CommitmentError if it cannot be made."""
    try:
        return tls.server_context(files)
    except ValueError as exc:
        raise CommitmentError(str(exc)) from exc
    except OSError as exc:  # ssl.SSLError included
        raise CommitmentError(tls.load_failure(exc)) from exc


def request_commitment(
    peer: Peer,
    listen: ListenAddress,
    instances: Sequence[tuple[str, str]],
    *,
    batch: int = 1000,
    timeout: float = 300,
) -> CommitmentAnswers:
    """Ask ``peer`` to commit ``instances``; wait for its reports.

    Parameters
    ----------
    peer : Peer
        The storage commitment SCP (usually the storage SCP the instances went to).
    listen : ListenAddress
        Where pacsflow listens for the reports; the peer must send them there.
    instances : sequence of (str, str)
        (SOP Class UID, SOP Instance UID) of each instance.
    batch : int
        Most instances in one N-ACTION request (one transaction).
    timeout : float
        Seconds to wait, after the last request, for every report.

    Returns
    -------
    CommitmentAnswers
        Committed and failed instances; those of transactions no report answered
        before the timeout are unanswered (a warning says so).

    Raises
    ------
    CommitmentError
        The port cannot be listened on, the peer refused the Storage Commitment
        Push Model context, or it answered an N-ACTION with a failure status.
        Nothing is known then of any instance.
    DicomError
        The association could not be opened, or broke (its subclasses).
    """
    if batch < 1:
        raise ValueError(f"batch must be at least 1; got {batch}")
    reports = Reports()
    with ReportListener(listen, reports):
        transactions = _ask(peer, instances, batch, reports)
        log.info(
            "asked %s for storage commitment of %d instances in %d transactions; "
            "waiting up to %g s for the reports",
            peer,
            len(instances),
            transactions,
            timeout,
        )
        if not reports.wait(timeout):
            log.warning("%s", _no_report(peer, listen, reports, transactions, timeout))
    return reports.answers()


def _ask(
    peer: Peer, instances: Sequence[tuple[str, str]], batch: int, reports: Reports
) -> int:
    """Send one N-ACTION-RQ per batch; the number of transactions asked."""
    transactions = 0
    problem = None
    with StoreAssociation(peer, [_PAIR], on_report=reports.receive) as association:
        if not association.accepts(*_PAIR):
            problem = (
                f"{peer} does not accept the Storage Commitment Push Model SOP class "
                f"({STORAGE_COMMITMENT_PUSH}) in implicit VR little endian; enable "
                "storage commitment on the destination, or remove "
                "storage_commitment from its options"
            )
        for start in range(0, 0 if problem else len(instances), batch):
            chunk = instances[start : start + batch]
            transaction = generate_uid(prefix=None)
            reports.expect(transaction, [uid for _, uid in chunk])
            try:
                reply = association.action(
                    STORAGE_COMMITMENT_PUSH,
                    STORAGE_COMMITMENT_INSTANCE,
                    REQUEST_COMMITMENT,
                    _request(transaction, chunk),
                )
            except AssociationLostError as exc:
                raise CommitmentError(_lost(peer, exc)) from exc
            if reply.category() not in _ACCEPTED:
                problem = (
                    f"{peer} answered the storage commitment request with {reply}; "
                    "check that the destination lets pacsflow's AE title "
                    f"'{peer.calling_ae}' ask for storage commitment"
                )
                break
            transactions += 1
            log.debug(
                "asked %s for storage commitment of %d instances, transaction %s",
                peer,
                len(chunk),
                transaction,
            )
    if problem:
        raise CommitmentError(problem)
    return transactions


def _lost(peer: Peer, exc: AssociationLostError) -> str:
    """The message for an association lost during a storage commitment request."""
    cause = exc.__cause__
    what = cause.reason if isinstance(cause, LinkError) else "ended the association"
    return (
        f"{peer} {what} during the storage commitment request; check that the "
        f"destination knows pacsflow's AE title '{peer.calling_ae}' at this host "
        "(in Orthanc: DicomModalities) and lets it ask for storage commitment"
    )


def _request(transaction: str, chunk: Sequence[tuple[str, str]]) -> Dataset:
    """The Action Information of a storage commitment request."""
    ds = Dataset()
    ds.TransactionUID = transaction
    items = []
    for sop_class, sop_instance in chunk:
        item = Dataset()
        item.ReferencedSOPClassUID = sop_class
        item.ReferencedSOPInstanceUID = sop_instance
        items.append(item)
    ds.ReferencedSOPSequence = items
    return ds


def _no_report(
    peer: Peer, listen: ListenAddress, reports: Reports, asked: int, timeout: float
) -> str:
    """The warning for transactions still unanswered after the timeout."""
    waiting = reports.transactions_waiting
    message = (
        f"{peer} sent no storage commitment report for {waiting} of {asked} "
        f"requests within {timeout:g} s; the commitment of their instances stays "
        f"unknown: check that the destination sends its reports to AE title "
        f"'{listen.ae_title}' at this machine's port {listen.port} (and that "
        "nothing blocks that port), or raise storage_commitment.timeout"
    )
    refused = reports.refusals()
    if refused:
        message += (
            f"; the listener refused {len(refused)} association(s), the first from "
            f"{refused[0]}: reports must call '{listen.ae_title}'"
        )
    failed = reports.failed_handshakes()
    if failed:
        message += (
            f"; {len(failed)} connection(s) to the listener failed the TLS "
            f"handshake, the first from {failed[0]}"
        )
    return message
