"""What a C-STORE-RSP status means for the instance that was sent.

Every (0000,0900) Status falls into one category, and the run acts on the category:

=========  ==============================  =============================================
Category   Statuses                        What the run does
=========  ==============================  =============================================
SUCCESS    0x0000                          the instance is ``sent``
WARNING    0xBxxx (B000 coercion, B006     the instance is ``sent``; the warning status
           elements discarded, B007 data   and its Error Comment are recorded with it
           set does not match SOP class),
           0x0001, 0x0107, 0x0116
RETRY      0xA7xx out of resources,        the instance is sent again with back-off;
           0x0213 resource limitation      ``failed`` once the retries are spent
REFUSED    0x0124 not authorised           the destination is paused: no use sending
                                           more until someone fixes its configuration
FAILURE    0xA9xx, 0xCxxx, 0x0110,         the instance is ``failed`` with the status,
           0x0122, 0x0211 and every other  (0000,0902) Error Comment and (0000,0901)
           status, known or not            Offending Element recorded
=========  ==============================  =============================================

The warning and failure codes are those of PS3.4 Annex B (Storage Service Class) and
PS3.7 Annex C (general statuses).
"""

from __future__ import annotations

from enum import StrEnum


class StatusCategory(StrEnum):
    """How the run treats a C-STORE-RSP status (see the module docstring)."""

    SUCCESS = "success"
    WARNING = "warning"
    RETRY = "retry"
    FAILURE = "failure"
    REFUSED = "refused"


# Warnings outside 0xBxxx that PS3.7 Annex C defines.
_GENERAL_WARNINGS = frozenset({0x0001, 0x0107, 0x0116})

# Statuses for which resending later may succeed.
_TRANSIENT = frozenset({0x0213})

_REFUSED_NOT_AUTHORISED = 0x0124

_NAMES = {
    0x0000: "Success",
    0x0001: "Requested optional attributes are not supported",
    0x0107: "Attribute list error",
    0x0110: "Processing failure",
    0x0111: "Duplicate SOP Instance",
    0x0116: "Attribute value out of range",
    0x0117: "Invalid object instance",
    0x0118: "No such SOP Class",
    0x0119: "Class-instance conflict",
    0x0122: "SOP Class not supported",
    0x0124: "Not authorised",
    0x0210: "Duplicate invocation",
    0x0211: "Unrecognised operation",
    0x0212: "Mistyped argument",
    0x0213: "Resource limitation",
    0xB000: "Coercion of data elements",
    0xB006: "Elements discarded",
    0xB007: "Data set does not match SOP Class",
    0xFE00: "Cancelled",
    0xFF00: "Pending",
    0xFF01: "Pending",
}

# Ranges named by their high byte: 0xA7xx, 0xA9xx, 0xCxxx.
_RANGE_NAMES = {
    0xA7: "Out of resources",
    0xA9: "Data set does not match SOP Class",
}


def categorise(status: int) -> StatusCategory:
    """Return the category of a C-STORE-RSP (0000,0900) Status.

    Parameters
    ----------
    status : int
        The status value, 0x0000 to 0xFFFF.

    Returns
    -------
    StatusCategory
        ``FAILURE`` for any status this table does not know.
    """
    if status == 0x0000:
        return StatusCategory.SUCCESS
    if status & 0xF000 == 0xB000 or status in _GENERAL_WARNINGS:
        return StatusCategory.WARNING
    if status & 0xFF00 == 0xA700 or status in _TRANSIENT:
        return StatusCategory.RETRY
    if status == _REFUSED_NOT_AUTHORISED:
        return StatusCategory.REFUSED
    return StatusCategory.FAILURE


def describe(status: int) -> str:
    """Return the status in hex with a short name, e.g. ``"0xA700 Out of resources"``.

    Parameters
    ----------
    status : int
        The status value.

    Returns
    -------
    str
        ``"0x.... Unknown status"`` for a status this table does not know.
    """
    return f"0x{status:04X} {_name(status)}"


def _name(status: int) -> str:
    """The short name of a status, or ``Unknown status``."""
    if status in _NAMES:
        return _NAMES[status]
    if status >> 8 in _RANGE_NAMES:
        return _RANGE_NAMES[status >> 8]
    if status & 0xF000 == 0xC000:
        return "Cannot understand"
    if status & 0xF000 == 0xB000:
        return "Warning"
    return "Unknown status"
