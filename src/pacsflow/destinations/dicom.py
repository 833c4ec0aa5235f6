"""The DICOM destination: C-STORE over one association per batch, in each file's own
transfer syntax.

A batch is whole studies in order, so a study arrives together over one association.
What the destination answers decides each instance's fate (the table is in
:mod:`pacsflow.dicom.status`): stored, stored with a warning, retried with back-off,
failed with the status, or the destination paused. An association lost mid-send
leaves the instance's fate unknown, so it is sent again on a fresh association
(at least once: a PACS keys on the SOP Instance UID).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from pacsflow.config import DicomDestination
from pacsflow.config.destinations import TlsOptions
from pacsflow.config.throttle import ThrottleOptions
from pacsflow.destinations.base import (
    Attempt,
    BatchResult,
    Delivery,
    Item,
    Result,
    RetryPolicy,
    not_tried,
    now,
)
from pacsflow.destinations.throttle import Pacer, ReadPacing
from pacsflow.dicom.association import (
    Peer,
    StoreAssociation,
    StoreStatus,
    dataset_bytes,
)
from pacsflow.dicom.errors import (
    AssociationLostError,
    AssociationRejectedError,
    NoContextError,
    PeerUnreachableError,
    UnreadableDatasetError,
)
from pacsflow.dicom.status import StatusCategory, describe
from pacsflow.dicom.tls import TlsFiles
from pacsflow.reconcile.fix import HeaderFixError, patched_dataset

log = logging.getLogger(__name__)

_RESULTS = {
    StatusCategory.SUCCESS: "stored",
    StatusCategory.WARNING: "warning",
    StatusCategory.RETRY: "retry",
    StatusCategory.FAILURE: "failed",
    StatusCategory.REFUSED: "refused",
}
"""An answer's category as the ``attempts`` table records it, the same words for
every kind of destination."""

MAX_CONTEXTS = 128
"""Presentation contexts one association may propose (PS3.8: odd IDs 1-255)."""


class _PauseError(Exception):
    """The destination must pause; the message says why."""


@dataclass
class _Turn:
    """One instance's attempts so far."""

    item: Item
    attempts: list[Attempt] = field(default_factory=list)

    def end(
        self, result: Result, status: int | None = None, detail: str | None = None
    ) -> Delivery:
        """The instance's delivery with every attempt made."""
        return Delivery(
            self.item.sop_instance_uid, result, status, detail, tuple(self.attempts)
        )


def peer_of(config: DicomDestination) -> Peer:
    """The association parameters of a configured destination."""
    return Peer(
        host=config.host,
        port=config.port,
        called_ae=config.ae_title,
        calling_ae=config.calling_ae_title,
        max_pdu=config.max_pdu,
        acse_timeout=config.acse_timeout,
        dimse_timeout=config.dimse_timeout,
        network_timeout=config.network_timeout,
        tls=tls_files(config.tls),
    )


def tls_files(options: TlsOptions | None) -> TlsFiles | None:
    """A destination's TLS options as the workers carry them."""
    if options is None:
        return None
    return TlsFiles(
        ca=None if options.ca is None else str(options.ca),
        cert=None if options.cert is None else str(options.cert),
        key=None if options.key is None else str(options.key),
        verify_hostname=options.verify_hostname,
    )


class DicomSender:
    """Delivers batches to one DICOM destination.

    Parameters
    ----------
    config : DicomDestination
        The destination.
    policy : RetryPolicy
        How often, and after how long, to try again.
    share : int, optional
        How many batches of the destination may be in flight at once, each paced at
        its share of the throttle; default its ``associations``.
    """

    def __init__(
        self, config: DicomDestination, policy: RetryPolicy, share: int | None = None
    ) -> None:
        self._peer = peer_of(config)
        self._policy = policy
        self._reads = ReadPacing()
        self._pacer = Pacer(
            config.throttle or ThrottleOptions(), share or config.associations
        )

    def deliver(self, items: Sequence[Item]) -> BatchResult:
        """Send ``items`` in order; pause on a refusal or an unreachable peer."""
        deliveries: list[Delivery] = []
        try:
            for part in _context_groups(items):
                deliveries.extend(self._deliver_part(part))
        except _PauseError as exc:
            done = {d.sop_instance_uid for d in deliveries}
            deliveries.extend(
                not_tried(
                    [i for i in items if i.sop_instance_uid not in done], str(exc)
                )
            )
            return BatchResult(deliveries, paused=str(exc))
        return BatchResult(deliveries)

    def _deliver_part(self, items: Sequence[Item]) -> list[Delivery]:
        """Send items that fit one association's presentation contexts."""
        turns = [_Turn(item) for item in items]
        done: list[Delivery] = []
        rejected = 0
        while len(done) < len(turns):
            remaining = turns[len(done) :]
            contexts = {
                (t.item.sop_class_uid, t.item.transfer_syntax) for t in remaining
            }
            association = StoreAssociation(self._peer, sorted(contexts))
            try:
                association.open()
            except PeerUnreachableError as exc:
                raise _PauseError(str(exc)) from exc
            except AssociationRejectedError as exc:
                rejected += 1
                if not exc.transient:
                    raise _PauseError(str(exc)) from exc
                if rejected >= self._policy.attempts:
                    detail = f"{exc} ({rejected} attempts)"
                    done.extend(t.end(Result.FAILED, detail=detail) for t in remaining)
                    return done
                time.sleep(self._policy.delay(rejected))
                continue
            with association:
                self._send(association, remaining, done)
        return done

    def _send(
        self, association: StoreAssociation, turns: list[_Turn], done: list[Delivery]
    ) -> None:
        """Send turns in order until all are done or the association is lost."""
        for turn in turns:
            delivery = self._send_one(association, turn)
            if delivery is None:  # lost: the caller opens a fresh association
                association.abort()
                return
            done.append(delivery)

    def _send_one(self, association: StoreAssociation, turn: _Turn) -> Delivery | None:
        """Store one instance, retrying what is worth it; None if the link is lost."""
        item = turn.item
        self._reads.wait(item)
        try:
            if item.fixes:
                syntax, data = patched_dataset(item.path, item.fixes)
            else:
                syntax, data = dataset_bytes(item.path)
        except (UnreadableDatasetError, HeaderFixError, OSError) as exc:
            turn.attempts.append(Attempt(now(), "failed", detail=str(exc)))
            return turn.end(Result.FAILED, detail=str(exc))
        while True:
            self._pacer.wait(item.size)
            started = time.monotonic()
            try:
                answer = association.store(
                    item.sop_class_uid, item.sop_instance_uid, syntax, data
                )
            except NoContextError as exc:
                turn.attempts.append(Attempt(now(), "failed", detail=str(exc)))
                return turn.end(Result.FAILED, detail=str(exc))
            except AssociationLostError as exc:
                return self._lost(association, turn, exc)
            busy = answer.category() is StatusCategory.RETRY
            self._pacer.adapt(time.monotonic() - started, busy=busy)
            delivery = self._judge(association, turn, answer)
            if delivery is not None:
                return delivery

    def _lost(
        self, association: StoreAssociation, turn: _Turn, exc: AssociationLostError
    ) -> Delivery | None:
        """Record a lost association; give up on the instance after enough tries."""
        turn.attempts.append(
            Attempt(
                now(), "lost", detail=str(exc), association=association.association_id
            )
        )
        log.warning("%s; sending again on a fresh association", exc)
        if len(turn.attempts) >= self._policy.attempts:
            detail = f"no answer after {len(turn.attempts)} attempts: {exc}"
            return turn.end(Result.FAILED, detail=detail)
        return None

    def _judge(
        self, association: StoreAssociation, turn: _Turn, answer: StoreStatus
    ) -> Delivery | None:
        """Turn a C-STORE answer into a delivery, or None to try again."""
        status = answer.status
        parts = [describe(status)]
        if answer.error_comment:
            parts.append(f"Error Comment: {answer.error_comment}")
        if answer.offending_element:
            parts.append(f"Offending Element: {answer.offending_element}")
        detail = "; ".join(parts)
        category = answer.category()
        attempt = Attempt(
            now(), _RESULTS[category], status, detail, association.association_id
        )
        turn.attempts.append(attempt)
        if category is StatusCategory.SUCCESS:
            return turn.end(Result.DELIVERED, status)
        if category is StatusCategory.WARNING:
            return turn.end(Result.DELIVERED, status, detail)
        if category is StatusCategory.REFUSED:
            raise _PauseError(
                f"{association.association_id} refused to store ({detail}); check "
                "that the destination lets pacsflow's AE title store, then run again"
            )
        if (
            category is StatusCategory.RETRY
            and len(turn.attempts) < self._policy.attempts
        ):
            time.sleep(self._policy.delay(len(turn.attempts)))
            return None
        return turn.end(Result.FAILED, status, detail)


def _context_groups(items: Sequence[Item]) -> list[Sequence[Item]]:
    """Split a batch, in order, where it would need more than 128 contexts."""
    groups: list[Sequence[Item]] = []
    start = 0
    seen: set[tuple[str, str]] = set()
    for position, item in enumerate(items):
        pair = (item.sop_class_uid, item.transfer_syntax)
        if pair not in seen and len(seen) == MAX_CONTEXTS:
            groups.append(items[start:position])
            start, seen = position, set()
        seen.add(pair)
    groups.append(items[start:])
    return [group for group in groups if group]
