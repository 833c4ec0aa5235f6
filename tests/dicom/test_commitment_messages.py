"""Storage commitment on pacsflow's own association: N-ACTION out, reports in.

A peer may send its N-EVENT-REPORT-RQ on the requesting association instead of a
new one: before the N-ACTION-RSP, or while the association is being released. Both
are answered with an N-EVENT-REPORT-RSP and handed to the association's handler.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from typing import Any

import pytest
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pynetdicom import AE, evt
from pynetdicom.dimse_messages import (
    N_ACTION_RQ,
    N_ACTION_RSP,
    N_EVENT_REPORT_RQ,
    N_EVENT_REPORT_RSP,
    DIMSEMessage,
)
from pynetdicom.dimse_primitives import N_ACTION, N_EVENT_REPORT
from pynetdicom.pdu import A_RELEASE_RP, A_RELEASE_RQ, P_DATA_TF

from pacsflow.dicom import Peer, StoreAssociation
from pacsflow.dicom.commitment import (
    ListenAddress,
    Reports,
    failure_text,
    request_commitment,
)
from pacsflow.dicom.errors import CommitmentError
from pacsflow.dicom.messages import event_report
from pacsflow.dicom.negotiation import (
    IMPLICIT_VR_LITTLE_ENDIAN,
    STORAGE_COMMITMENT_INSTANCE,
    STORAGE_COMMITMENT_PUSH,
)
from pacsflow.dicom.wire import LinkError
from tests.dicom.scripted_peer import _accept_association, _read_pdu, _read_request
from tests.peers import free_port

CT = "1.2.840.10008.5.1.4.1.1.2"
PAIR = (STORAGE_COMMITMENT_PUSH, IMPLICIT_VR_LITTLE_ENDIAN)
RAW_TIMEOUT = 10.0


def report(transaction: str, committed: list[str], failed: list[str]) -> Dataset:
    """The Event Information of a storage commitment report."""
    ds = Dataset()
    ds.TransactionUID = transaction
    ds.ReferencedSOPSequence = [item(uid) for uid in committed]
    if failed:
        ds.FailedSOPSequence = [item(uid, reason=0x0112) for uid in failed]
    return ds


def item(uid: str, reason: int | None = None) -> Dataset:
    """A Referenced / Failed SOP Sequence item."""
    ds = Dataset()
    ds.ReferencedSOPClassUID = CT
    ds.ReferencedSOPInstanceUID = uid
    if reason is not None:
        ds.FailureReason = reason
    return ds


def implicit(ds: Dataset) -> bytes:
    """A data set in implicit VR little endian."""
    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, True
    write_dataset(buffer, ds)
    return buffer.getvalue()


# --- Reports: matching reports to transactions ------------------------------------


def test_reports_match_transactions_and_leave_the_rest_unanswered() -> None:
    reports = Reports()
    reports.expect("2.25.1", ["2.25.11", "2.25.12", "2.25.13"])
    reports.expect("2.25.2", ["2.25.21"])

    status = reports.receive(2, report("2.25.1", ["2.25.11", "2.25.99"], ["2.25.12"]))

    assert status == 0x0000
    assert reports.transactions_waiting == 1
    assert not reports.wait(0.01)
    answers = reports.answers()
    assert answers.committed == {"2.25.11"}  # 2.25.99 was not asked about
    assert answers.failed == {"2.25.12": 0x0112}
    assert answers.unanswered == {"2.25.13", "2.25.21"}


def test_unknown_transaction_is_acknowledged_and_ignored() -> None:
    reports = Reports()
    reports.expect("2.25.1", ["2.25.11"])

    assert reports.receive(1, report("2.25.7", ["2.25.11"], [])) == 0x0000
    assert reports.answers().unanswered == {"2.25.11"}


def test_bad_reports_get_failure_statuses(caplog: pytest.LogCaptureFixture) -> None:
    reports = Reports()
    reports.expect("2.25.1", ["2.25.11"])

    assert reports.receive(3, report("2.25.1", ["2.25.11"], [])) == 0x0113
    assert reports.receive(1, Dataset()) == 0x0110  # no Transaction UID
    assert reports.transactions_waiting == 1
    assert "Event Type ID 3" in caplog.text


def test_wait_ends_when_the_last_report_arrives_from_another_thread() -> None:
    reports = Reports()
    reports.expect("2.25.1", ["2.25.11"])
    sender = threading.Timer(
        0.05, reports.receive, (1, report("2.25.1", ["2.25.11"], []))
    )
    sender.start()
    try:
        assert reports.wait(RAW_TIMEOUT)
    finally:
        sender.join()
    assert reports.answers().committed == {"2.25.11"}


def test_failure_reasons_are_named() -> None:
    assert failure_text(0x0112) == "0x0112 no such object instance"
    assert failure_text(0x0777) == "0x0777 unknown failure reason"


def test_report_without_event_type_is_a_protocol_fault() -> None:
    primitive = N_EVENT_REPORT()
    primitive.MessageID = 3
    primitive.AffectedSOPClassUID = STORAGE_COMMITMENT_PUSH
    primitive.AffectedSOPInstanceUID = STORAGE_COMMITMENT_INSTANCE
    message = N_EVENT_REPORT_RQ()
    message.primitive_to_message(primitive)

    with pytest.raises(LinkError, match=r"without \(0000,1002\) Event Type ID$"):
        event_report(message)
    assert event_report(N_ACTION_RQ()) is None


# --- the N-ACTION-RQ as encoded ---------------------------------------------------


@contextmanager
def reporting_scp(
    committed: bool = True,
) -> Iterator[tuple[int, list[Any]]]:
    """A pynetdicom SCP that reports inside its N-ACTION handler, so the report
    arrives on the requesting association before the N-ACTION-RSP. Yields its port
    and what it saw: (request, Action Information, status of our answer)."""
    ae = AE(ae_title="REPORTING")
    ae.add_supported_context(STORAGE_COMMITMENT_PUSH, IMPLICIT_VR_LITTLE_ENDIAN)
    seen: list[Any] = []

    def on_action(event: evt.Event) -> tuple[int, None]:
        information = event.action_information
        uids = [
            str(i.ReferencedSOPInstanceUID) for i in information.ReferencedSOPSequence
        ]
        answer = report(
            str(information.TransactionUID),
            uids if committed else [],
            [] if committed else uids,
        )
        status, _ = event.assoc.send_n_event_report(
            answer,
            1 if committed else 2,
            STORAGE_COMMITMENT_PUSH,
            STORAGE_COMMITMENT_INSTANCE,
        )
        seen.append((event.request, information, status.Status if status else None))
        return 0x0000, None

    port = free_port()
    server = ae.start_server(
        ("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_N_ACTION, on_action)]
    )
    try:
        yield port, seen
    finally:
        server.shutdown()


@pytest.mark.network
def test_action_sends_the_request_and_answers_an_early_report() -> None:
    got: list[tuple[int, Dataset]] = []

    def on_report(event_type: int, information: Dataset) -> int:
        got.append((event_type, information))
        return 0x0000

    request = report("2.25.5", ["2.25.51", "2.25.52"], [])
    with (
        reporting_scp() as (port, seen),
        StoreAssociation(
            Peer("127.0.0.1", port, "REPORTING"), [PAIR], on_report=on_report
        ) as association,
    ):
        reply = association.action(
            STORAGE_COMMITMENT_PUSH, STORAGE_COMMITMENT_INSTANCE, 1, request
        )

    assert reply.status == 0x0000
    ((primitive, information, answered),) = seen
    assert primitive.RequestedSOPClassUID == STORAGE_COMMITMENT_PUSH
    assert primitive.RequestedSOPInstanceUID == STORAGE_COMMITMENT_INSTANCE
    assert primitive.ActionTypeID == 1
    assert information.TransactionUID == "2.25.5"
    assert [i.ReferencedSOPClassUID for i in information.ReferencedSOPSequence] == [
        CT,
        CT,
    ]
    assert answered == 0x0000  # our N-EVENT-REPORT-RSP
    ((event_type, event_information),) = got
    assert event_type == 1
    assert event_information.TransactionUID == "2.25.5"


@pytest.mark.network
def test_request_commitment_takes_reports_on_its_own_association() -> None:
    uids = [f"2.25.6{n}" for n in range(5)]
    with reporting_scp(committed=False) as (port, seen):
        answers = request_commitment(
            Peer("127.0.0.1", port, "REPORTING"),
            ListenAddress("127.0.0.1", free_port(), "PACSFLOW"),
            [(CT, uid) for uid in uids],
            batch=2,
            timeout=RAW_TIMEOUT,
        )

    assert len(seen) == 3  # batches of 2, 2 and 1
    assert answers.failed == dict.fromkeys(uids, 0x0112)
    assert not answers.committed
    assert not answers.unanswered


@pytest.mark.network
def test_peer_without_the_context_is_refused_before_anything_is_asked() -> None:
    ae = AE(ae_title="NOSC")
    ae.add_supported_context("1.2.840.10008.1.1")
    port = free_port()
    server = ae.start_server(("127.0.0.1", port), block=False)
    try:
        with pytest.raises(
            CommitmentError,
            match=r"NOSC@127\.0\.0\.1:\d+ does not accept the Storage Commitment Push "
            r"Model SOP class .* remove storage_commitment",
        ):
            request_commitment(
                Peer("127.0.0.1", port, "NOSC"),
                ListenAddress("127.0.0.1", free_port(), "PACSFLOW"),
                [(CT, "2.25.1")],
                timeout=RAW_TIMEOUT,
            )
    finally:
        server.shutdown()


# --- a report while releasing -----------------------------------------------------


@contextmanager
def report_at_release(transaction: str) -> Iterator[tuple[int, list[Any]]]:
    """A hand-driven peer: answers one N-ACTION, then, when asked to release,
    sends a report first and releases only after our N-EVENT-REPORT-RSP."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(RAW_TIMEOUT)
    seen: list[Any] = []

    def serve() -> None:
        try:
            connection, _ = listener.accept()
            with connection:
                connection.settimeout(RAW_TIMEOUT)
                _accept_association(connection)
                request = _read_request(connection)
                seen.append(type(request).__name__)
                context_id = request.context_id
                connection.sendall(b"".join(_action_response(request)))
                released = A_RELEASE_RQ()
                released.decode(_read_pdu(connection))
                seen.append("A-RELEASE-RQ")
                connection.sendall(b"".join(_event_report(transaction, context_id)))
                response = _read_request(connection)
                seen.append((type(response).__name__, response.command_set.Status))
                connection.sendall(A_RELEASE_RP().encode())
        except BaseException as exc:  # reported to the test
            seen.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], seen
    finally:
        thread.join(RAW_TIMEOUT + 1)
        listener.close()


def _action_response(request: DIMSEMessage) -> list[bytes]:
    """The PDUs of a successful N-ACTION-RSP to ``request``."""
    assert isinstance(request, N_ACTION_RQ)
    primitive = N_ACTION()
    primitive.MessageIDBeingRespondedTo = request.command_set.MessageID
    primitive.Status = 0x0000
    message = N_ACTION_RSP()
    message.primitive_to_message(primitive)
    return _pdus(message, request.context_id)


def _event_report(transaction: str, context_id: int) -> list[bytes]:
    """The PDUs of an N-EVENT-REPORT-RQ saying all is committed."""
    primitive = N_EVENT_REPORT()
    primitive.MessageID = 1
    primitive.AffectedSOPClassUID = STORAGE_COMMITMENT_PUSH
    primitive.AffectedSOPInstanceUID = STORAGE_COMMITMENT_INSTANCE
    primitive.EventTypeID = 1
    primitive.EventInformation = BytesIO(implicit(report(transaction, ["2.25.71"], [])))
    message = N_EVENT_REPORT_RQ()
    message.primitive_to_message(primitive)
    return _pdus(message, context_id)


def _pdus(message: DIMSEMessage, context_id: int) -> list[bytes]:
    """A message as encoded P-DATA-TF PDUs."""
    return [P_DATA_TF(p).encode() for p in message.encode_msg(context_id, 16384)]


@pytest.mark.network
def test_report_while_releasing_is_answered() -> None:
    got: list[tuple[int, str]] = []

    def on_report(event_type: int, information: Dataset) -> int:
        got.append((event_type, str(information.TransactionUID)))
        return 0x0000

    with report_at_release("2.25.7") as (port, seen):
        association = StoreAssociation(
            Peer("127.0.0.1", port, "RAW"), [PAIR], on_report=on_report
        )
        with association:
            association.action(
                STORAGE_COMMITMENT_PUSH,
                STORAGE_COMMITMENT_INSTANCE,
                1,
                report("2.25.7", ["2.25.71"], []),
            )

    assert seen == [
        "N_ACTION_RQ",
        "A-RELEASE-RQ",
        (N_EVENT_REPORT_RSP.__name__, 0x0000),
    ]
    assert got == [(1, "2.25.7")]
