"""Association negotiation as requestor: the A-ASSOCIATE-RQ we send, the answer we read.

The PDUs are built and parsed by pynetdicom (PS3.8 §9.3.2-9.3.4). pacsflow proposes
one presentation context per (SOP class, transfer syntax) pair, each with exactly
that one transfer syntax: the data set goes out as the file holds it, so there is no
choice of syntax to offer. Verification with implicit VR little endian is always
proposed, for C-ECHO.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydicom.uid import UID
from pynetdicom.pdu import A_ASSOCIATE_AC, A_ASSOCIATE_RJ, A_ASSOCIATE_RQ
from pynetdicom.pdu_primitives import (
    A_ASSOCIATE,
    ImplementationClassUIDNotification,
    ImplementationVersionNameNotification,
    MaximumLengthNotification,
)
from pynetdicom.presentation import PresentationContext, negotiate_as_requestor

from pacsflow import __version__
from pacsflow.dicom.errors import AssociationRejectedError

VERIFICATION = "1.2.840.10008.1.1"
STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
"""Study Root Query/Retrieve Information Model - FIND."""
STORAGE_COMMITMENT_PUSH = "1.2.840.10008.1.20.1"
"""Storage Commitment Push Model SOP Class (PS3.4 Annex J)."""
STORAGE_COMMITMENT_INSTANCE = "1.2.840.10008.1.20.1.1"
"""Its well-known SOP Instance, the Requested SOP Instance of every N-ACTION."""
IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2"
IMPLEMENTATION_CLASS_UID = "2.25.722135998249151250445771949182789762"
IMPLEMENTATION_VERSION_NAME = "PACSFLOW_" + __version__.replace(".", "_")
MAX_CONTEXTS = 128  # context IDs are the odd numbers 1 to 255 (PS3.8 §9.3.2.2)

_APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"  # DICOM Application Context Name
_ACCEPTANCE = 0x00

ContextKey = tuple[str, str]
"""(SOP class UID, transfer syntax UID)."""

# PS3.8 Table 9-21: (source, reason) of an A-ASSOCIATE-RJ.
_REJECT_REASONS = {
    (1, 1): "no reason given",
    (1, 2): "application context name not supported",
    (1, 3): "calling AE title not recognised",
    (1, 7): "called AE title not recognised",
    (2, 1): "no reason given",
    (2, 2): "protocol version not supported",
    (3, 1): "temporary congestion",
    (3, 2): "local limit exceeded",
}


def propose(pairs: Iterable[tuple[str, str]]) -> list[PresentationContext]:
    """One presentation context per distinct pair, Verification first.

    Raises ValueError when a UID is not valid or there are more than 128 contexts.
    """
    unique = dict.fromkeys(
        [(VERIFICATION, IMPLICIT_VR_LITTLE_ENDIAN)]
        + [(str(sop_class), str(syntax)) for sop_class, syntax in pairs]
    )
    if len(unique) > MAX_CONTEXTS:
        raise ValueError(
            f"{len(unique)} presentation contexts (Verification included) were asked "
            f"for, but an association carries at most {MAX_CONTEXTS}; split the "
            "(SOP class, transfer syntax) pairs over several associations"
        )

    contexts = []
    for index, (sop_class, syntax) in enumerate(unique):
        context = PresentationContext()
        context.context_id = 2 * index + 1
        context.abstract_syntax = sop_class
        context.add_transfer_syntax(syntax)
        contexts.append(context)
    return contexts


def request_pdu(
    calling_ae: str, called_ae: str, max_pdu: int, contexts: list[PresentationContext]
) -> bytes:
    """The encoded A-ASSOCIATE-RQ PDU; ValueError for an invalid AE title."""
    primitive = A_ASSOCIATE()
    primitive.application_context_name = _APPLICATION_CONTEXT
    primitive.calling_ae_title = calling_ae
    primitive.called_ae_title = called_ae
    primitive.presentation_context_definition_list = contexts

    max_length = MaximumLengthNotification()
    max_length.maximum_length_received = max_pdu
    class_uid = ImplementationClassUIDNotification()
    class_uid.implementation_class_uid = IMPLEMENTATION_CLASS_UID
    version = ImplementationVersionNameNotification()
    version.implementation_version_name = IMPLEMENTATION_VERSION_NAME
    primitive.user_information = [max_length, class_uid, version]

    pdu: bytes = A_ASSOCIATE_RQ(primitive).encode()
    return pdu


def accepted(
    proposed: list[PresentationContext], answer: A_ASSOCIATE_AC
) -> tuple[dict[ContextKey, int], int | None]:
    """The accepted contexts by (SOP class, transfer syntax), and the peer's max PDU.

    A context counts as accepted only with the one transfer syntax we proposed.
    The max PDU is ``None`` when the peer sent no Maximum Length item.
    """
    primitive = answer.to_primitive()
    results = negotiate_as_requestor(
        proposed, primitive.presentation_context_definition_results_list
    )
    wanted = {cx.context_id: cx.transfer_syntax[0] for cx in proposed}
    contexts: dict[ContextKey, int] = {}
    for result in results:
        context_id = result.context_id
        syntax = wanted[context_id]
        ok = result.result == _ACCEPTANCE and result.transfer_syntax == [syntax]
        if ok and context_id is not None:
            contexts[(str(result.abstract_syntax), str(syntax))] = context_id
    peer_max: int | None = primitive.maximum_length_received
    return contexts, peer_max


def rejection(
    peer: str, calling_ae: str, answer: A_ASSOCIATE_RJ
) -> AssociationRejectedError:
    """The error for an A-ASSOCIATE-RJ, saying why and what to do."""
    result = int(answer.result or 0)
    source = int(answer.source or 0)
    reason = int(answer.reason_diagnostic or 0)
    why = _REJECT_REASONS.get((source, reason), "a reason the standard does not define")
    if result == 2:
        advice = "the rejection is transient: try again later"
    else:
        advice = (
            f"the rejection is permanent: check that the destination knows pacsflow "
            f"as calling AE title '{calling_ae}' and that the called AE title is right"
        )
    message = (
        f"{peer} rejected the association: {why} (result {result}, source {source}, "
        f"reason {reason}); {advice}"
    )
    return AssociationRejectedError(
        message, result=result, source=source, reason=reason
    )


def uid_text(uid: str) -> str:
    """A UID as ``"Name (uid)"``, or just the UID when pydicom has no name for it."""
    name = str(UID(uid).name)
    return uid if name == uid else f"{name} ({uid})"
