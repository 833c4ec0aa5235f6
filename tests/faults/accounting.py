"""The accounting check every fault test ends with.

After a fault, and after whatever recovery the test runs, the ledger must still account
for every file found on disk exactly once, and must claim nothing that the receiver
does not hold:

- every instance is in exactly one outcome, one of the known ones;
- sent + sin-binned + failed + skipped + pending + unreadable + extra copies of a
  duplicated UID = the files found on disk (counted here by walking the sources, not
  from the ledger);
- every instance recorded ``sent`` (or ``sinbinned`` into a sin-bin destination) is
  held by that destination, as the test saw it from the receiver's side.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydicom import dcmread
from sqlalchemy import func, select

from pacsflow.ledger.database import connect
from pacsflow.ledger.schema import files, instances
from pacsflow.outcomes import FileState, Outcome


@dataclass(frozen=True)
class Books:
    """The numbers the check added up, for the test to assert more on."""

    files_found: int
    outcomes: Counter[str]
    unreadable: int
    extra_copies: int
    sent: dict[str, set[str]]
    """Instances recorded sent (or sin-binned into a destination), per destination."""

    def total(self, outcome: Outcome) -> int:
        """Instances in ``outcome``."""
        return self.outcomes.get(outcome.value, 0)


def files_on_disk(sources: Iterable[Path]) -> int:
    """Regular files below the source folders, counted without the ledger."""
    found = 0
    for root in sources:
        for _folder, _dirs, names in os.walk(root):
            found += len(names)
    return found


def held_in_folder(folder: Path) -> set[str]:
    """SOP Instance UIDs of the whole DICOM files below ``folder`` (a receiver's
    store); a file cut short (a receiver killed while writing it) holds nothing."""
    uids: set[str] = set()
    for path in folder.rglob("*"):
        if not path.is_file() or path.name.startswith("."):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                ds = dcmread(path)  # every value read: to the end of the file
        except Exception:
            continue
        uids.add(str(ds.SOPInstanceUID))
    return uids


def check_accounting(
    ledger: str,
    sources: Iterable[Path],
    held: Mapping[str, Iterable[str]],
    *,
    pending: int | None = 0,
) -> Books:
    """Assert the ledger at URL ``ledger`` accounts for everything; return the books.

    Parameters
    ----------
    ledger : str
        The tracking database's URL.
    sources : iterable of Path
        The source folders, walked to count the files found.
    held : mapping
        Per destination, the SOP Instance UIDs its receiver holds. Every destination
        the ledger says it delivered to must be here: the check never passes for want
        of a receiver to look at.
    pending : int, optional
        Instances expected to be still pending: 0 once the migration is complete,
        None for any number (a run a fault stopped part-way).
    """
    engine = connect(ledger)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(
                    instances.c.sop_instance_uid,
                    instances.c.outcome,
                    instances.c.destination,
                )
            ).all()
            unreadable = connection.scalar(
                select(func.count()).where(files.c.state == FileState.UNREADABLE.value)
            )
            indexed = connection.execute(
                select(files.c.sop_instance_uid).where(
                    files.c.state == FileState.INDEXED.value
                )
            ).all()
    finally:
        engine.dispose()

    uids = [uid for uid, _, _ in rows]
    assert len(uids) == len(set(uids)), "an instance is in the ledger twice"
    known = {outcome.value for outcome in Outcome}
    outcomes = Counter(outcome for _, outcome, _ in rows)
    assert set(outcomes) <= known, f"unknown outcomes: {set(outcomes) - known}"
    on_disk = Counter(uid for (uid,) in indexed)
    assert set(on_disk) <= set(uids), "an indexed file's instance is not in the ledger"
    extra = sum(n - 1 for n in on_disk.values())

    found = files_on_disk(sources)
    counted = sum(outcomes.values()) + (unreadable or 0) + extra
    assert counted == found, (
        f"files found {found} != outcomes {dict(outcomes)} + unreadable "
        f"{unreadable} + extra copies {extra}"
    )
    if pending is not None:
        assert outcomes.get(Outcome.PENDING.value, 0) == pending, dict(outcomes)

    delivered: dict[str, set[str]] = {}
    for uid, outcome, destination in rows:
        if outcome in (Outcome.SENT, Outcome.SINBINNED) and destination is not None:
            delivered.setdefault(destination, set()).add(uid)
    for destination, sent in delivered.items():
        assert destination in held, f"nobody looked at what {destination} holds"
        missing = sent - set(held[destination])
        assert not missing, (
            f"{len(missing)} instances recorded delivered to {destination} that it "
            f"does not hold, e.g. {sorted(missing)[:3]}"
        )
    return Books(found, outcomes, unreadable or 0, extra, delivered)
