"""Making instances pending again: a retry, a resend, a release from the sin bin.

Every path that takes an instance back to ``pending`` goes through :func:`reopen`, so
each one is recorded the same way and tells the event log what moved.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from pacsflow.events import Transition
from pacsflow.ledger.index import now
from pacsflow.ledger.legacy import instance_files, reconciled_study
from pacsflow.ledger.schema import instances
from pacsflow.outcomes import Outcome


def reopen(connection: Connection, where: Any, *, why: str) -> list[Transition]:
    """Make the instances that meet ``where`` pending again.

    Their verification and storage commitment are cleared (what is sent again is
    checked again); outcome details stay until the next outcome replaces them.

    Parameters
    ----------
    connection : Connection
        A connection inside the caller's transaction.
    where : ColumnElement
        A condition on instances, their primary file and their snapshot row
        (:func:`~pacsflow.ledger.legacy.instance_files`).
    why : str
        What reopened them (``retry_failed``, ``resend_missing``, ``released``),
        the reason the event log gives.
    """
    at = now()
    chosen = connection.execute(
        select(instances.c.sop_instance_uid, reconciled_study().label("study"))
        .select_from(instance_files())
        .where(where)
    ).all()
    if chosen:
        connection.execute(
            update(instances)
            .where(instances.c.sop_instance_uid == bindparam("_uid"))
            .values(
                outcome=Outcome.PENDING.value,
                verification=None,
                commitment=None,
                committed_at=None,
                commitment_detail=None,
                updated_at=at,
            ),
            [{"_uid": row.sop_instance_uid} for row in chosen],
        )
    pending = Outcome.PENDING.value
    return [Transition(pending, uid, at, study, reason=why) for uid, study in chosen]
