"""The sin bin as people review it: what was put aside and why, and its release.

Whatever a route sends to the sin bin, or a reconciliation verdict puts aside, ends
``sinbinned`` with its reason; a verdict whose action is ``skip`` ends ``skipped``.
:func:`sinbin_contents` groups them by reason and study for review.

Once the department has fixed the cause (the exclusion list edited, the legacy
database corrected and snapshotted again, a route added), :func:`release` makes the
chosen instances ``pending`` again and records each release in ``releases``. The next
run takes them through reconciliation and routing afresh: an instance whose cause is
gone goes where it belongs, one whose cause remains goes back to the sin bin with
its reason. The copy already in the sin-bin folder is left there for the record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, insert, select

from pacsflow.events import Transition
from pacsflow.ledger.index import now
from pacsflow.ledger.legacy import instance_files, reconciled_study
from pacsflow.ledger.reopen import reopen
from pacsflow.ledger.schema import files, instances, releases
from pacsflow.outcomes import Outcome

RELEASABLE = (Outcome.SINBINNED.value, Outcome.SKIPPED.value)
"""The outcomes a release takes back: put aside on purpose, not failed."""


@dataclass(frozen=True)
class StudyInBin:
    """One study's instances held back for one reason."""

    study_instance_uid: str
    instances: int
    modalities: str
    study_date: str | None
    destination: str | None
    """Where they were put (the sin-bin destination), if anywhere."""


@dataclass
class ReasonInBin:
    """Everything held back for one reason."""

    reason: str
    outcome: str
    """``sinbinned`` or ``skipped``."""
    instances: int = 0
    studies: list[StudyInBin] = field(default_factory=list)


def sinbin_contents(
    connection: Connection, *, reason: str | None = None, skipped: bool = False
) -> list[ReasonInBin]:
    """What is held back, by reason then study, grouped in the database.

    Parameters
    ----------
    connection : Connection
        The ledger.
    reason : str, optional
        Only this reason (``not_in_database``, ``routed:unsupported`` ...).
    skipped : bool
        Include ``skipped`` instances (a verdict whose action is ``skip``).
    """
    outcomes = RELEASABLE if skipped else (Outcome.SINBINNED.value,)
    study = reconciled_study()
    query = (
        select(
            instances.c.outcome,
            instances.c.reason,
            study.label("study"),
            func.count().label("instances"),
            func.min(files.c.modality).label("first_modality"),
            func.max(files.c.modality).label("last_modality"),
            func.max(files.c.study_date).label("study_date"),
            func.max(instances.c.destination).label("destination"),
        )
        .select_from(instance_files())
        .where(instances.c.outcome.in_(outcomes))
        .group_by(instances.c.outcome, instances.c.reason, study)
        .order_by(instances.c.outcome, instances.c.reason, study)
    )
    if reason is not None:
        query = query.where(instances.c.reason == reason)
    groups: dict[tuple[str, str], ReasonInBin] = {}
    for row in connection.execute(query):
        key = (row.outcome, row.reason or "unknown")
        group = groups.setdefault(key, ReasonInBin(key[1], row.outcome))
        group.instances += row.instances
        group.studies.append(
            StudyInBin(
                row.study,
                row.instances,
                _modalities(row.first_modality, row.last_modality),
                row.study_date,
                row.destination,
            )
        )
    return list(groups.values())


def _modalities(first: str | None, last: str | None) -> str:
    """The range of modalities in a group, as people read it."""
    if first is None:
        return ""
    return first if first == last else f"{first}…{last}"


@dataclass(frozen=True)
class Selection:
    """What to release: exactly one of a reason, a study or an instance."""

    reason: str | None = None
    study: str | None = None
    instance: str | None = None

    def __post_init__(self) -> None:
        given = [v for v in (self.reason, self.study, self.instance) if v]
        if len(given) != 1:
            raise ValueError("give exactly one of a reason, a study or an instance")

    def __str__(self) -> str:
        if self.reason:
            return f"reason={self.reason}"
        if self.study:
            return f"study={self.study}"
        return f"instance={self.instance}"

    def condition(self) -> Any:
        """The condition on :func:`~pacsflow.ledger.legacy.instance_files` rows."""
        held = instances.c.outcome.in_(RELEASABLE)
        if self.reason:
            return held & (instances.c.reason == self.reason)
        if self.study:
            study = (reconciled_study() == self.study) | (
                files.c.study_instance_uid == self.study
            )
            return held & study
        return held & (instances.c.sop_instance_uid == self.instance)


def release(connection: Connection, selection: Selection) -> list[Transition]:
    """Record the release of the selected instances and make them pending.

    Returns one transition per instance released (none when nothing matched).
    """
    held = connection.execute(
        select(instances.c.sop_instance_uid, instances.c.outcome, instances.c.reason)
        .select_from(instance_files())
        .where(selection.condition())
    ).all()
    if not held:
        return []
    at = now()
    connection.execute(
        insert(releases),
        [
            {
                "sop_instance_uid": row.sop_instance_uid,
                "at": at,
                "outcome": row.outcome,
                "reason": row.reason,
                "selection": str(selection)[:128],
            }
            for row in held
        ],
    )
    return reopen(connection, selection.condition(), why="released")
