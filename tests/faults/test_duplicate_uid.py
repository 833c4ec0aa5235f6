"""The same SOP Instance UID on disk twice: with different content (which copy is right
is unknown, so neither is sent: the instance goes to the sin bin with both copies kept
on disk), and byte for byte the same (sent once).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import select

from pacsflow.cli import main
from pacsflow.ledger.database import connect
from pacsflow.ledger.schema import attempts, instances
from tests.dicomfiles import ct_dataset, write
from tests.faults.accounting import check_accounting, held_in_folder

NETWORK = """\
tracking: sqlite:///ledger.db
sources: [{name: old, path: old}, {name: older, path: older}]
routes: [{name: all, to: archive}]
destinations:
  archive: {folder: {path: received}}
  review: {folder: {path: review}}
sinbin: review
"""

STUDY = "1.2.826.9.6.1"
CONFLICT = "1.2.826.9.6.1.100"
TWIN = "1.2.826.9.6.1.200"


def test_a_uid_twice_is_sinbinned_or_sent_once(tmp_path: Path) -> None:
    for n in range(4):
        ds = ct_dataset(uid=f"{STUDY}.{n}", number=n, study=STUDY)
        write(ds, tmp_path / f"old/{n}.dcm")
    write(ct_dataset(uid=CONFLICT, number=7, study=STUDY), tmp_path / "old/a.dcm")
    write(ct_dataset(uid=CONFLICT, number=8, study=STUDY), tmp_path / "older/a.dcm")
    twin = write(ct_dataset(uid=TWIN, number=9, study=STUDY), tmp_path / "old/b.dcm")
    (tmp_path / "older/copy").mkdir()
    shutil.copy(twin, tmp_path / "older/copy/b.dcm")
    (tmp_path / "network.yaml").write_text(NETWORK)

    assert main(["-q", "run", str(tmp_path / "network.yaml")]) == 0

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = connect(url)
    with engine.connect() as connection:
        rows = {
            uid: (outcome, reason, copies, duplicate)
            for uid, outcome, reason, copies, duplicate in connection.execute(
                select(
                    instances.c.sop_instance_uid,
                    instances.c.outcome,
                    instances.c.reason,
                    instances.c.copies,
                    instances.c.duplicate,
                )
            )
        }
        stored = connection.scalars(
            select(attempts.c.sop_instance_uid).where(attempts.c.result == "stored")
        ).all()
    engine.dispose()
    assert rows[CONFLICT][:3] == ("sinbinned", "duplicate_conflict", 2)
    assert rows[TWIN][0] == "sent" and rows[TWIN][2] == 2
    assert stored.count(TWIN) == 1  # sent once, not once per copy
    received = held_in_folder(tmp_path / "received")
    assert CONFLICT not in received
    books = check_accounting(
        url,
        [tmp_path / "old", tmp_path / "older"],
        {"archive": received, "review": held_in_folder(tmp_path / "review")},
    )
    assert books.extra_copies == 2
    assert books.sent["review"] == {CONFLICT}
    # both copies stay on disk for a person to compare
    assert (tmp_path / "old/a.dcm").exists() and (tmp_path / "older/a.dcm").exists()
