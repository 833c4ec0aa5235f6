"""What every destination is: something that takes a batch of instances and says,
for each, what became of it.

Workers build a destination from its configuration (:func:`pacsflow.destinations.
open_sender`) and hand it a batch of :class:`Item`. Everything that crosses the
process boundary is a plain frozen value, so a local process pool or a cluster can run
the same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Item:
    """One instance to deliver: where its file is and what it is."""

    sop_instance_uid: str
    sop_class_uid: str
    transfer_syntax: str
    path: str
    size: int
    study_instance_uid: str
    series_instance_uid: str
    fixes: tuple[tuple[str, str], ...] = ()
    """(keyword, value) header fixes from reconciliation, applied when sent."""
    source: str = ""
    """The source folder the file is in."""
    read_mb_per_second: float | None = None
    """This worker's share of the source's read limit, if it has one."""


class Result(StrEnum):
    """What became of one instance at a destination."""

    DELIVERED = "delivered"
    """Stored (with or without a warning)."""
    FAILED = "failed"
    """Refused or not deliverable; retrying as is would not help."""
    NOT_TRIED = "not_tried"
    """The destination paused before this instance's turn; it stays pending."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try to deliver an instance."""

    at: datetime
    result: str
    """``stored``, ``warning``, ``retry``, ``failed``, ``lost`` or ``refused``."""
    status: int | None = None
    detail: str | None = None
    association: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """The end of one instance's turn at a destination."""

    sop_instance_uid: str
    result: Result
    status: int | None = None
    """The DICOM status of the last answer, if any."""
    detail: str | None = None
    """The warning, error comment or error, for people."""
    attempts: tuple[Attempt, ...] = ()


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What a destination did with a batch, and whether it must pause."""

    deliveries: list[Delivery] = field(default_factory=list)
    paused: str | None = None
    """Why the destination cannot take more now (unreachable, refused, disk full);
    the instances it did not try are in ``deliveries`` as NOT_TRIED."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry answers worth retrying."""

    attempts: int = 3
    backoff: float = 1.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after the ``attempt``-th failed try (1-based)."""
        return float(self.backoff * 2 ** (attempt - 1))


class Sender(Protocol):
    """A destination as a worker uses it."""

    def deliver(self, items: Sequence[Item]) -> BatchResult:
        """Deliver ``items`` in order and say what became of each."""
        ...


def now() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


def not_tried(items: Sequence[Item], why: str) -> list[Delivery]:
    """Deliveries for items a paused destination never reached."""
    return [Delivery(i.sop_instance_uid, Result.NOT_TRIED, detail=why) for i in items]


def failed(item: Item, detail: str, status: int | None = None) -> Delivery:
    """A failed delivery after a single attempt."""
    attempt = Attempt(now(), "failed", status=status, detail=detail)
    return Delivery(item.sop_instance_uid, Result.FAILED, status, detail, (attempt,))


def stored(item: Item, detail: str | None = None) -> Delivery:
    """A delivery stored at the first attempt."""
    attempt = Attempt(now(), "stored", detail=detail)
    return Delivery(item.sop_instance_uid, Result.DELIVERED, attempts=(attempt,))
