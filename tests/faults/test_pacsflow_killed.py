"""pacsflow itself killed with SIGKILL mid-run, then run again: nothing lost, nothing
recorded twice.

pacsflow runs as a real process (the CLI) against a real receiver that is slow enough
for the kill to land mid-run; the second run completes, and the final accounting is
that of an uninterrupted run.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from pacsflow.ledger.database import open_ledger
from pacsflow.ledger.schema import attempts, instances
from pacsflow.sample import generate_sample
from tests.faults.accounting import check_accounting
from tests.faults.receiver import (
    SOURCES,
    SlowReceiver,
    run_again,
    running,
    sample_network,
    sent_so_far,
    wait_for,
)
from tests.peers import free_port


def test_kill_9_then_resume(tmp_path: Path) -> None:
    generate_sample(tmp_path, studies=6, seed=9)
    port = free_port()
    network = sample_network(tmp_path, port=port)
    receiver = SlowReceiver(port)
    ledger = tmp_path / "ledger.db"
    try:
        with running(network) as first:
            wait_for(lambda: sent_so_far(ledger) >= 30, first)
        killed_at = sent_so_far(ledger)  # leaving the block killed it
        assert killed_at >= 30
        run_again(network)
    finally:
        receiver.stop()

    url = f"sqlite:///{ledger}"
    engine = open_ledger(url)
    with engine.connect() as connection:
        put_aside = connection.execute(
            select(instances.c.outcome, instances.c.reason).where(
                instances.c.verdict.is_not(None)
            )
        ).all()
        tries = connection.execute(
            select(attempts.c.sop_instance_uid, attempts.c.run_id, attempts.c.result)
        ).all()
    engine.dispose()
    # the sample's conflicting duplicate: no sin bin here, so recorded only
    assert set(put_aside) == {("sinbinned", "duplicate_conflict")}
    first_run = {uid for uid, run_id, _ in tries if run_id == 1}
    second_run = {uid for uid, run_id, _ in tries if run_id == 2}
    assert len(first_run) == killed_at
    assert not first_run & second_run, "an instance recorded sent was sent again"
    books = check_accounting(
        url, [tmp_path / s for s in SOURCES], {"newpacs": receiver.uids}
    )
    assert books.unreadable and books.extra_copies  # the sample's planted faults
