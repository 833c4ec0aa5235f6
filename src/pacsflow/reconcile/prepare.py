"""Reconciliation as a run (or ``pacsflow reconcile``) takes it, step by step."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from pacsflow.config import Network
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
    network: Network, engine: Engine, *, refresh: bool = False, settling: bool = True
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
    """
    snapshot = None
    if network.legacy_database is not None:
        with engine.connect() as connection:
            present = has_snapshot(connection)
        if refresh or not present:
            snapshot = take_snapshot(network, engine)
    summary = reconcile(network, engine)
    settled: dict[str, int] = {}
    if settling:
        with engine.begin() as connection:
            settled = settle(connection, network)
    return Prepared(snapshot, summary, settled)
