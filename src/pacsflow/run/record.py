"""Writing what became of each instance into the ledger: the run's one writer.

Each finished batch is recorded in one transaction: the instances' outcomes, and one
``attempts`` row per try. Instances a paused destination never tried stay pending.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from pacsflow.destinations.base import BatchResult, Delivery, Result
from pacsflow.errors import LedgerError
from pacsflow.events import Transition
from pacsflow.ledger.index import now
from pacsflow.ledger.reopen import reopen
from pacsflow.ledger.schema import attempts, instances, runs
from pacsflow.outcomes import Outcome, Verification


@dataclass
class Tally:
    """Outcomes recorded so far in one run."""

    sent: int = 0
    sinbinned: int = 0
    failed: int = 0
    paused: dict[str, str] = field(default_factory=dict)
    """Destination → why it paused."""
    failures: dict[str, int] = field(default_factory=dict)
    """Failure detail (first line) → how many instances."""
    by_destination: dict[str, dict[str, int]] = field(default_factory=dict)
    """Destination → outcome → how many instances."""


def live_run(connection: Connection) -> Any | None:
    """Another run of this host that is working on the ledger now, if any.

    Runs on other hosts cannot be checked from here: a run left unfinished there is
    taken as dead.
    """
    host, pid = socket.gethostname(), os.getpid()
    for other in connection.execute(select(runs).where(runs.c.finished_at.is_(None))):
        if other.host == host and other.pid != pid and _alive(other.pid):
            return other
    return None


def begin_run(connection: Connection, *, dry_run: bool) -> int:
    """Record the start of a run; refuse if another live run holds the ledger."""
    other = live_run(connection)
    if other is not None:
        raise LedgerError(
            f"another pacsflow run (pid {other.pid} on {other.host}, started "
            f"{other.started_at:%Y-%m-%d %H:%M}) is working on this ledger; wait "
            "for it to finish or stop it first"
        )
    host, pid = socket.gethostname(), os.getpid()
    result = connection.execute(
        insert(runs).values(
            started_at=now(),
            host=host,
            pid=pid,
            dry_run=dry_run,
            sent=0,
            sinbinned=0,
            failed=0,
        )
    )
    key = result.inserted_primary_key
    assert key is not None  # an insert always has one
    return int(key[0])


def _alive(pid: int) -> bool:
    """Whether a process with this id runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def finish_run(connection: Connection, run_id: int, tally: Tally) -> None:
    """Record the end of a run and its counts."""
    connection.execute(
        update(runs)
        .where(runs.c.id == run_id)
        .values(
            finished_at=now(),
            sent=tally.sent,
            sinbinned=tally.sinbinned,
            failed=tally.failed,
        )
    )


def record_batch(
    connection: Connection,
    run_id: int,
    destination: str,
    routes: Mapping[str, str | None],
    result: BatchResult,
    *,
    sinbin: str | None,
    tally: Tally,
    reasons: Mapping[str, str] | None = None,
    studies: Mapping[str, str] | None = None,
) -> list[Transition]:
    """Write a finished batch's outcomes and attempts in one transaction.

    ``reasons`` gives the verdict of instances a verdict sent to the sin bin; others
    sin-binned are so by their route. ``studies`` gives each instance's study for
    the transitions returned, which the caller hands to the event log once the
    transaction is committed.
    """
    rows = [
        row
        for d in result.deliveries
        if (row := _outcome_row(d, destination, routes, sinbin, reasons or {}))
        is not None
    ]
    if rows:
        connection.execute(
            update(instances)
            .where(instances.c.sop_instance_uid == bindparam("_uid"))
            .values({key: bindparam(key) for key in rows[0] if key != "_uid"}),
            rows,
        )
    tries = [
        {
            "sop_instance_uid": d.sop_instance_uid,
            "run_id": run_id,
            "destination": destination,
            "association": a.association,
            "at": a.at,
            "result": a.result,
            "status": a.status,
            "detail": a.detail,
        }
        for d in result.deliveries
        for a in d.attempts
    ]
    if tries:
        connection.execute(insert(attempts), tries)
    _count(rows, result, destination, tally)
    return [_transition(row, studies or {}) for row in rows]


def _transition(row: dict[str, Any], studies: Mapping[str, str]) -> Transition:
    """The event log's view of one outcome row."""
    return Transition(
        row["outcome"],
        row["_uid"],
        row["updated_at"],
        studies.get(row["_uid"]),
        row["destination"],
        row["reason"],
        row["status"],
    )


def _outcome_row(
    delivery: Delivery,
    destination: str,
    routes: Mapping[str, str | None],
    sinbin: str | None,
    reasons: Mapping[str, str],
) -> dict[str, Any] | None:
    """The instance's new ledger values, or None when it stays pending."""
    if delivery.result is Result.NOT_TRIED:
        return None
    uid = delivery.sop_instance_uid
    route = routes[uid]
    if delivery.result is Result.FAILED:
        outcome, reason = Outcome.FAILED, None
    elif destination == sinbin:
        outcome, reason = Outcome.SINBINNED, reasons.get(uid) or f"routed:{route}"
    else:
        outcome, reason = Outcome.SENT, None
    return {
        "_uid": delivery.sop_instance_uid,
        "outcome": outcome.value,
        "reason": reason,
        "detail": delivery.detail,
        "route": route,
        "destination": destination,
        "status": delivery.status,
        "attempts": len(delivery.attempts),
        "updated_at": now(),
    }


def _count(
    rows: list[dict[str, Any]], result: BatchResult, destination: str, tally: Tally
) -> None:
    """Add a batch's outcomes to the run's tally."""
    counts = tally.by_destination.setdefault(destination, {})
    for row in rows:
        counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
        if row["outcome"] == Outcome.SENT:
            tally.sent += 1
        elif row["outcome"] == Outcome.SINBINNED:
            tally.sinbinned += 1
        else:
            tally.failed += 1
            first_line = (row["detail"] or "unknown error").split(";")[0]
            tally.failures[first_line] = tally.failures.get(first_line, 0) + 1
    if result.paused:
        tally.paused[destination] = result.paused


def reopen_failed(connection: Connection) -> list[Transition]:
    """Make every failed instance pending again (``--retry-failed``)."""
    return reopen(
        connection, instances.c.outcome == Outcome.FAILED.value, why="retry_failed"
    )


def reopen_missing(connection: Connection) -> list[Transition]:
    """Make every instance verification found missing pending again
    (``--resend-missing``)."""
    return reopen(
        connection,
        instances.c.verification == Verification.MISSING.value,
        why="resend_missing",
    )
