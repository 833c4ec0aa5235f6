"""A run's sending rate, measured from the ledger's attempt timestamps.

A throttled run is steady while every worker has a study to send; at its end one
worker may finish its last study alone, at its share of the rate only. The steady part
therefore ends when the next-to-last study is done.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from pacsflow.ledger.database import open_ledger
from pacsflow.ledger.schema import attempts, files, instances


def stored_at(ledger: Path) -> list[tuple[datetime, str]]:
    """When each instance was stored, with its study, from the ledger at ``ledger``."""
    engine = open_ledger(f"sqlite:///{ledger}")
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(attempts.c.at, files.c.study_instance_uid)
                .select_from(
                    attempts.join(
                        instances,
                        instances.c.sop_instance_uid == attempts.c.sop_instance_uid,
                    ).join(files, files.c.id == instances.c.file_id)
                )
                .where(attempts.c.result == "stored")
            ).all()
    finally:
        engine.dispose()
    return [(row.at, row.study_instance_uid) for row in rows]


def steady_rate(stored: list[tuple[datetime, str]]) -> float:
    """Instances per second from the first store to the end of the next-to-last
    study (the whole run when there is one study)."""
    ends: dict[str, datetime] = {}
    for at, study in stored:
        ends[study] = max(at, ends.get(study, at))
    last = sorted(ends.values())
    until = last[-2] if len(last) > 1 else last[-1]
    times = sorted(at for at, _ in stored if at <= until)
    if len(times) < 20:
        raise AssertionError(f"too few stores to measure a rate: {len(times)}")
    return (len(times) - 1) / (times[-1] - times[0]).total_seconds()
