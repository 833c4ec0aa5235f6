"""Operator controls: ``pacsflow pause`` and ``resume`` from another terminal.

The ledger carries the request, so it reaches a run on this host or another: the run
checks it before starting each batch. Batches already in flight finish, and their
outcomes are recorded; no new batch starts until the pause is lifted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select

from pacsflow.ledger.index import now
from pacsflow.ledger.schema import controls

_PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class Pause:
    """A pause an operator asked for."""

    why: str
    at: datetime


def pause(connection: Connection, why: str) -> None:
    """Ask every run on this ledger to start no new batch (replaces an earlier ask)."""
    connection.execute(delete(controls).where(controls.c.name == _PAUSED))
    connection.execute(insert(controls).values(name=_PAUSED, value=why, at=now()))


def resume(connection: Connection) -> Pause | None:
    """Lift the pause; the pause that was lifted, if there was one."""
    held = paused(connection)
    connection.execute(delete(controls).where(controls.c.name == _PAUSED))
    return held


def paused(connection: Connection) -> Pause | None:
    """The pause in force, if any."""
    row = connection.execute(
        select(controls.c.value, controls.c.at).where(controls.c.name == _PAUSED)
    ).first()
    return None if row is None else Pause(row.value or "", row.at)
