"""Running a migration: every pending instance to exactly one outcome.

:func:`run_network` plans the pending instances into study batches
(:mod:`~pacsflow.run.plan`), hands them to workers within each destination's limit
(:mod:`~pacsflow.run.dispatch`, :mod:`~pacsflow.run.worker`) and records each
finished batch in the ledger (:mod:`~pacsflow.run.record`). A run killed at any moment
loses nothing: instances are recorded only once their destination answered, so the
next run sends what was in flight again and nothing recorded ``sent``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import DBAPIError

from pacsflow.config import Destination, Network, TerminatorDestination
from pacsflow.destinations.base import BatchResult, Result, RetryPolicy
from pacsflow.errors import LedgerError
from pacsflow.events import EventSink, NoEvents, Transition
from pacsflow.executor import default_workers, make_executor
from pacsflow.ledger.controls import paused
from pacsflow.ledger.reconnect import Reconnecting, connection_lost, why
from pacsflow.ledger.schema import instances
from pacsflow.outcomes import Outcome
from pacsflow.reconcile.prepare import Prepared, prepare
from pacsflow.run.dispatch import Dispatcher
from pacsflow.run.plan import Batch, Planner, pending_rows
from pacsflow.run.record import (
    Tally,
    begin_run,
    finish_run,
    record_batch,
    reopen_failed,
    reopen_missing,
)

log = logging.getLogger(__name__)

MOST_REPLANS = 50
"""Lost connections one run rides out before it stops."""

DRY_RUN = "dry-run"
"""The destination name every instance goes to on a dry run (a terminator)."""


class RunObserver(Protocol):
    """Receives a run's progress; the CLI's progress display is one."""

    def add_total(self, instances: int) -> None:
        """This many instances are pending."""

    def batch_done(self, destination: str, instances: int, size: int) -> None:
        """A batch of ``instances`` (``size`` bytes) got its answers."""


@dataclass
class RunSummary:
    """What one run did."""

    pending: int = 0
    sent: int = 0
    sinbinned: int = 0
    failed: int = 0
    skipped: int = 0
    left_pending: int = 0
    paused: dict[str, str] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    by_destination: dict[str, dict[str, int]] = field(default_factory=dict)
    dry_run: bool = False
    seconds: float = 0.0
    prepared: Prepared | None = None
    """What reconciliation did first."""

    @property
    def images_per_second(self) -> float:
        """Instances done per second of the whole run."""
        done = self.sent + self.sinbinned + self.failed
        return done / self.seconds if self.seconds else 0.0


def run_network(
    network: Network,
    engine: Engine,
    *,
    dry_run: bool = False,
    retry_failed: bool = False,
    resend_missing: bool = False,
    workers: int | None = None,
    observer: RunObserver | None = None,
    events: EventSink | None = None,
) -> RunSummary:
    """Bring every pending instance of the ledger to an outcome.

    Parameters
    ----------
    network : Network
        The loaded network file.
    engine : Engine
        The ledger, already scanned (:func:`pacsflow.scan.indexer.scan_network`).
    dry_run : bool
        Route as usual but read every file into a terminator, and leave every
        outcome as it was: measures read speed without touching the new PACS.
    retry_failed : bool
        Make ``failed`` instances pending again first.
    resend_missing : bool
        Make the instances ``pacsflow verify`` found missing pending again first.
    workers : int, optional
        Processes; default the network's ``run.workers``, else one per core.
    observer : RunObserver, optional
        Told of the total and of every finished batch.
    events : EventSink, optional
        Told of every instance's transition once the ledger holds it (the event
        log); none by default.
    """
    events = events or NoEvents()
    started = time.perf_counter()
    reopened: list[Transition] = []
    with engine.begin() as connection:
        run_id = begin_run(connection, dry_run=dry_run)
        if retry_failed:
            reopened += reopen_failed(connection)
            log.info("%d failed instances made pending again", len(reopened))
        if resend_missing:
            missing = reopen_missing(connection)
            log.info(
                "%d instances missing at their destination made pending again",
                len(missing),
            )
            reopened += missing
    events.emit(reopened)
    prepared = prepare(
        network, engine, settling=not dry_run, events=None if dry_run else events
    )
    with engine.connect() as connection:
        pending = connection.scalar(
            select(func.count()).where(instances.c.outcome == Outcome.PENDING.value)
        )
    summary = RunSummary(pending=pending or 0, dry_run=dry_run, prepared=prepared)
    summary.sinbinned = prepared.settled.get(Outcome.SINBINNED, 0)
    summary.skipped = prepared.settled.get(Outcome.SKIPPED, 0)
    if observer is not None:
        observer.add_total(summary.pending)
    log.info("run %d started: %d instances pending", run_id, summary.pending)

    tally = Tally()
    count = workers or network.run.workers or default_workers()
    ledger = Reconnecting(engine, network.run.reconnect_seconds)
    with make_executor(count) as executor:

        def on_done(batch: Batch, result: BatchResult) -> None:
            recorded = ledger.call(
                lambda: _record(engine, run_id, network, batch, result, tally, dry_run),
                "recording a batch",
            )
            events.emit(recorded)
            _log_batch(batch, recorded)
            if observer is not None:
                observer.batch_done(batch.destination, len(batch.items), batch.size)

        configs = _configs(network, dry_run)
        dispatcher = Dispatcher(
            executor,
            configs,
            {name: _limit(config, count) for name, config in configs.items()},
            RetryPolicy(network.run.attempts, network.run.backoff),
            on_done,
            held=lambda: ledger.call(lambda: _held(engine), "checking for a pause"),
        )
        _dispatch(engine, network, dispatcher, ledger, dry_run=dry_run, workers=count)

    ledger.call(lambda: _finish(engine, run_id, tally), "finishing the run")
    summary.sent, summary.failed = tally.sent, tally.failed
    summary.sinbinned += tally.sinbinned
    summary.paused, summary.failures = dispatcher.paused, tally.failures
    summary.by_destination = tally.by_destination
    summary.left_pending = summary.pending - tally.sent - tally.sinbinned - tally.failed
    summary.seconds = time.perf_counter() - started
    log.info(
        "run %d finished in %.0f s: %d sent, %d sin-binned, %d failed, %d pending",
        run_id,
        summary.seconds,
        summary.sent,
        summary.sinbinned,
        summary.failed,
        summary.left_pending,
    )
    return summary


def _log_batch(batch: Batch, recorded: list[Transition]) -> None:
    """One INFO line per finished batch: where it went and what became of it."""
    studies = len({item.study_instance_uid for item in batch.items})
    counts = Counter(t.event for t in recorded)
    outcome = ", ".join(f"{n} {event}" for event, n in sorted(counts.items()))
    log.info(
        "batch to %s: %d instances of %d studies: %s",
        batch.destination,
        len(batch.items),
        studies,
        outcome or "nothing recorded",
    )


def _dispatch(
    engine: Engine,
    network: Network,
    dispatcher: Dispatcher,
    ledger: Reconnecting,
    *,
    dry_run: bool,
    workers: int,
) -> None:
    """Plan the pending instances and deliver them; after a lost connection, let
    what is in flight finish and plan again from what the ledger still holds
    pending (so nothing is planned twice)."""
    for _ in range(MOST_REPLANS):
        reader = engine.connect()
        try:
            planner = Planner(network, dry_run=dry_run, workers=workers)
            rows = pending_rows(reader, network.run.order)
            dispatcher.run(planner.batches(rows))
            return
        except DBAPIError as exc:
            if not connection_lost(exc):
                raise
            log.warning(
                "lost the connection to the tracking database while reading what is "
                "pending (%s); finishing the batches in flight, then planning again",
                why(exc),
            )
            dispatcher.drain()
            ledger.wait_until_back("planning again")
        finally:
            _close(reader)
    raise LedgerError(
        f"lost the connection to the tracking database {MOST_REPLANS} times in one "
        "run; what was recorded is kept: check the database server, then run again"
    )


def _close(connection: Connection) -> None:
    """Close a connection whose database may be gone (then there is nothing to
    close, and no error to hide the one that ended the work)."""
    try:
        connection.close()
    except DBAPIError as exc:
        if not connection_lost(exc):
            raise


def _finish(engine: Engine, run_id: int, tally: Tally) -> None:
    with engine.begin() as connection:
        finish_run(connection, run_id, tally)


def _held(engine: Engine) -> bool:
    """Whether an operator paused the migration (``pacsflow pause``)."""
    with engine.connect() as connection:
        return paused(connection) is not None


def _configs(network: Network, dry_run: bool) -> dict[str, Destination]:
    """The destinations batches may go to."""
    if dry_run:
        return {DRY_RUN: TerminatorDestination()}
    return dict(network.destinations)


def _limit(config: Destination, workers: int) -> int:
    """How many batches a destination may have in flight."""
    associations = getattr(config, "associations", None)
    return min(associations, workers) if associations else workers


def _record(
    engine: Engine,
    run_id: int,
    network: Network,
    batch: Batch,
    result: BatchResult,
    tally: Tally,
    dry_run: bool,
) -> list[Transition]:
    """Write a batch's outcomes (on a dry run only count them); what moved."""
    if dry_run:
        read = sum(d.result is Result.DELIVERED for d in result.deliveries)
        tally.sent += read
        tally.failed += sum(d.result is Result.FAILED for d in result.deliveries)
        counts = tally.by_destination.setdefault(batch.destination, {})
        counts["read"] = counts.get("read", 0) + read
        return []
    with engine.begin() as connection:
        return record_batch(
            connection,
            run_id,
            batch.destination,
            batch.routes,
            result,
            sinbin=network.sinbin,
            tally=tally,
            reasons=batch.reasons,
            studies={i.sop_instance_uid: i.study_instance_uid for i in batch.items},
        )
