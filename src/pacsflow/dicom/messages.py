"""The DIMSE messages the requestor exchanges, encoded and checked with pynetdicom.

Command sets are built from pynetdicom's DIMSE primitives and messages and encoded
(implicit VR little endian, PS3.7 §6.3.1) into P-DATA-TF PDUs by pynetdicom. The data
set of a C-STORE-RQ is not handed to pynetdicom, whose ``encode_msg`` copies it
several times over: the command says a data set follows (0000,0800) and
:mod:`pacsflow.dicom.wire` sends it from the caller's buffer.

Storage commitment adds the N-ACTION-RQ that asks for it and its N-ACTION-RSP, and
the N-EVENT-REPORT-RQ a peer may send with the answer on the same association, with
the N-EVENT-REPORT-RSP that acknowledges it.

A response that does not answer the request just sent (wrong command, Message ID Being
Responded To or Affected SOP Instance UID) is a protocol fault: :class:`LinkError`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom.dimse_messages import (
    C_ECHO_RQ,
    C_ECHO_RSP,
    C_FIND_RQ,
    C_FIND_RSP,
    C_STORE_RQ,
    C_STORE_RSP,
    N_ACTION_RQ,
    N_ACTION_RSP,
    N_EVENT_REPORT_RQ,
    N_EVENT_REPORT_RSP,
    DIMSEMessage,
)
from pynetdicom.dimse_primitives import (
    C_ECHO,
    C_FIND,
    C_STORE,
    N_ACTION,
    N_EVENT_REPORT,
)
from pynetdicom.pdu import P_DATA_TF

from pacsflow.dicom.negotiation import VERIFICATION
from pacsflow.dicom.wire import LinkError

_PRIORITY_MEDIUM = 0x0000
_EVENT_REPORT_FIELDS = {
    "MessageID": "(0000,0110) Message ID",
    "AffectedSOPClassUID": "(0000,0002) Affected SOP Class UID",
    "AffectedSOPInstanceUID": "(0000,1000) Affected SOP Instance UID",
    "EventTypeID": "(0000,1002) Event Type ID",
}
_DATA_SET_PRESENT = 0x0001

StoreReply = tuple[int, str | None, str | None]
"""(Status, Error Comment, Offending Element) of a C-STORE-RSP."""


@dataclass(frozen=True)
class EventReport:
    """An N-EVENT-REPORT-RQ as received: its command fields and encoded data set."""

    message_id: int
    sop_class: str
    sop_instance: str
    event_type: int
    context_id: int
    information: bytes
    """The encoded Event Information, in the context's transfer syntax."""


def store_request(
    message_id: int, sop_class: str, sop_instance: str, context_id: int, max_pdu: int
) -> list[bytes]:
    """The encoded PDUs of a C-STORE-RQ command set announcing a data set."""
    primitive = C_STORE()
    primitive.MessageID = message_id
    primitive.AffectedSOPClassUID = sop_class
    primitive.AffectedSOPInstanceUID = sop_instance
    primitive.Priority = _PRIORITY_MEDIUM

    message = C_STORE_RQ()
    message.primitive_to_message(primitive)
    # The data set travels separately (see the module docstring); the value has
    # the same length, so (0000,0000) Command Group Length stays right.
    message.command_set.CommandDataSetType = _DATA_SET_PRESENT
    message.data_set = None
    return _encode(message, context_id, max_pdu)


def echo_request(message_id: int, context_id: int, max_pdu: int) -> list[bytes]:
    """The encoded PDUs of a C-ECHO-RQ."""
    primitive = C_ECHO()
    primitive.MessageID = message_id
    primitive.AffectedSOPClassUID = VERIFICATION
    message = C_ECHO_RQ()
    message.primitive_to_message(primitive)
    return _encode(message, context_id, max_pdu)


def find_request(
    message_id: int, sop_class: str, identifier: bytes, context_id: int, max_pdu: int
) -> list[bytes]:
    """The encoded PDUs of a C-FIND-RQ with its identifier (already encoded)."""
    primitive = C_FIND()
    primitive.MessageID = message_id
    primitive.AffectedSOPClassUID = sop_class
    primitive.Priority = _PRIORITY_MEDIUM
    primitive.Identifier = BytesIO(identifier)
    message = C_FIND_RQ()
    message.primitive_to_message(primitive)
    return _encode(message, context_id, max_pdu)


def action_request(
    message_id: int,
    sop_class: str,
    sop_instance: str,
    action_type: int,
    information: bytes,
    context_id: int,
    max_pdu: int,
) -> list[bytes]:
    """The encoded PDUs of an N-ACTION-RQ with its Action Information (encoded)."""
    primitive = N_ACTION()
    primitive.MessageID = message_id
    primitive.RequestedSOPClassUID = sop_class
    primitive.RequestedSOPInstanceUID = sop_instance
    primitive.ActionTypeID = action_type
    primitive.ActionInformation = BytesIO(information)
    message = N_ACTION_RQ()
    message.primitive_to_message(primitive)
    return _encode(message, context_id, max_pdu)


def action_reply(message: DIMSEMessage, message_id: int) -> tuple[int, str | None]:
    """Check an N-ACTION-RSP answers our request; (status, Error Comment)."""
    command = _response(message, N_ACTION_RSP, "N-ACTION-RSP", message_id)
    return _status(command), _comment_text(command.get("ErrorComment"))


def event_report(message: DIMSEMessage) -> EventReport | None:
    """The fields of an N-EVENT-REPORT-RQ; None for any other message.

    Raises LinkError when a field the reply needs is missing.
    """
    if not isinstance(message, N_EVENT_REPORT_RQ):
        return None
    command: Dataset = message.command_set
    fields = [command.get(keyword) for keyword in _EVENT_REPORT_FIELDS]
    absent = [
        name
        for name, value in zip(_EVENT_REPORT_FIELDS.values(), fields, strict=True)
        if value is None
    ]
    if absent:
        raise LinkError(f"sent an N-EVENT-REPORT-RQ without {', '.join(absent)}")
    number, sop_class, sop_instance, event_type = fields
    data = message.data_set.getvalue() if message.data_set is not None else b""
    return EventReport(
        int(number),
        str(sop_class),
        str(sop_instance),
        int(event_type),
        int(message.context_id or 0),
        data,
    )


def event_report_response(
    report: EventReport, status: int, max_pdu: int
) -> list[bytes]:
    """The encoded PDUs of the N-EVENT-REPORT-RSP answering ``report``."""
    primitive = N_EVENT_REPORT()
    primitive.MessageIDBeingRespondedTo = report.message_id
    primitive.AffectedSOPClassUID = report.sop_class
    primitive.AffectedSOPInstanceUID = report.sop_instance
    primitive.EventTypeID = report.event_type
    primitive.Status = status
    message = N_EVENT_REPORT_RSP()
    message.primitive_to_message(primitive)
    return _encode(message, report.context_id, max_pdu)


def assemble(message: DIMSEMessage, pdu: P_DATA_TF) -> bool:
    """Add a P-DATA-TF's fragments to ``message``; whether it is now complete."""
    try:
        return bool(message.decode_msg(pdu.to_primitive()))
    except Exception as exc:
        reason = f"sent a DIMSE message that cannot be decoded ({exc!r})"
        raise LinkError(reason) from exc


def find_reply(message: DIMSEMessage, message_id: int) -> tuple[int, bytes | None]:
    """Check a C-FIND-RSP answers our request; (status, identifier bytes or None)."""
    command = _response(message, C_FIND_RSP, "C-FIND-RSP", message_id)
    data = message.data_set.getvalue() if message.data_set is not None else b""
    return _status(command), data or None


def store_reply(
    message: DIMSEMessage, message_id: int, sop_instance: str
) -> StoreReply:
    """Check a C-STORE-RSP answers our request; return its status fields."""
    command = _response(message, C_STORE_RSP, "C-STORE-RSP", message_id)
    answered = command.get("AffectedSOPInstanceUID")
    if answered is not None and str(answered).rstrip("\x00 ") != sop_instance:
        raise LinkError(
            f"answered the C-STORE of SOP Instance {sop_instance} with a response "
            f"for SOP Instance {answered}"
        )
    return (
        _status(command),
        _comment_text(command.get("ErrorComment")),
        _offending_text(command.get("OffendingElement")),
    )


def echo_reply(message: DIMSEMessage, message_id: int) -> int:
    """Check a C-ECHO-RSP answers our request; return its status."""
    return _status(_response(message, C_ECHO_RSP, "C-ECHO-RSP", message_id))


def _encode(message: DIMSEMessage, context_id: int, max_pdu: int) -> list[bytes]:
    """The P-DATA-TF PDUs of a message's command set, encoded by pynetdicom."""
    return [
        P_DATA_TF(primitive).encode()
        for primitive in message.encode_msg(context_id, max_pdu)
    ]


def _response(
    message: DIMSEMessage, kind: type[DIMSEMessage], name: str, message_id: int
) -> Dataset:
    """The command set of ``message`` if it is a ``kind`` answering ``message_id``."""
    if not isinstance(message, kind):
        got = type(message).__name__.replace("_", "-")
        raise LinkError(
            f"answered message {message_id} with a {got} instead of a {name}"
        )
    command: Dataset = message.command_set
    answered = command.get("MessageIDBeingRespondedTo")
    if answered != message_id:
        raise LinkError(
            f"answered message {message_id} with a {name} for message {answered}"
        )
    return command


def _status(command: Dataset) -> int:
    """The (0000,0900) Status of a response; LinkError if it has none."""
    status = command.get("Status")
    if status is None:
        raise LinkError("sent a response without (0000,0900) Status")
    return int(status)


def _comment_text(value: Any) -> str | None:
    """(0000,0902) Error Comment without padding, or None if absent or empty."""
    text = str(value).strip() if value is not None else ""
    return text or None


def _offending_text(value: Any) -> str | None:
    """(0000,0901) Offending Element as ``"(gggg,eeee), (gggg,eeee)"``."""
    if value is None or value == "":
        return None
    tags = list(value) if isinstance(value, Iterable) else [value]
    return ", ".join(f"({int(tag) >> 16:04X},{int(tag) & 0xFFFF:04X})" for tag in tags)
