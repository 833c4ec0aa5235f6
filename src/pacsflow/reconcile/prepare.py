"""Reconciliation as a run (or ``pacsflow reconcile``) takes it, step by step."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import Engine

from pacsflow.config import Network
from pacsflow.events import EventSink, Transition
from pacsflow.reconcile.snapshot import SnapshotSummary, take_snapshot
from pacsflow.reconcile.verdicts import (
    ReconcileSummary,
    has_snapshot,
    reconcile,
    settle,
)


@dataclass
class Prepared:
    """What reconciliation did before a run."""

    snapshot: SnapshotSummary | None
    """The snapshot taken now, if one was (None: the ledger's was used, or none)."""
    summary: ReconcileSummary
    settled: dict[str, int] = field(default_factory=dict)
    """Outcome → instances given it without delivery (``skip`` verdicts, ...)."""


def prepare(
    network: Network,
    engine: Engine,
    *,
    refresh: bool = False,
    settling: bool = True,
    events: EventSink | None = None,
) -> Prepared:
    """Snapshot the legacy database if needed, reconcile, and settle the verdicts.

    Parameters
    ----------
    network : Network
        The network file.
    engine : Engine
        The scanned ledger.
    refresh : bool
        Read the legacy database again even when the ledger holds a snapshot.
    settling : bool
        Give verdicts that are not delivered their outcome (not for a review or a
        dry run, which record no outcome).
    events : EventSink, optional
        Told of every instance settled, once it is committed.
    """
    snapshot = None
    if network.legacy_database is not None:
        with engine.connect() as connection:
            present = has_snapshot(connection)
        if refresh or not present:
            snapshot = take_snapshot(network, engine)
    summary = reconcile(network, engine)
    transitions: list[Transition] = []
    if settling:
        with engine.begin() as connection:
            transitions = settle(connection, network)
    if events is not None:
        events.emit(transitions)
    settled = Counter(t.event for t in transitions)
    return Prepared(snapshot, summary, dict(settled))
