"""A worker process killed with SIGKILL mid-run: the run ends cleanly, its batches stay
pending, and the next run completes with nothing lost and nothing recorded twice."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from sqlalchemy import select

from pacsflow.ledger.database import open_ledger
from pacsflow.ledger.schema import attempts
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


def children(pid: int) -> list[int]:
    """The process ids of ``pid``'s children (Linux)."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def test_sigkill_of_a_worker_loses_nothing(tmp_path: Path) -> None:
    generate_sample(tmp_path, studies=6, seed=19)
    port = free_port()
    network = sample_network(tmp_path, port=port)
    receiver = SlowReceiver(port)
    log = tmp_path / "first.log"
    try:
        with running(network, log) as first:
            wait_for(lambda: sent_so_far(tmp_path / "ledger.db") >= 20, first)
            workers = children(first.pid)
            assert workers
            os.kill(workers[-1], signal.SIGKILL)
            # it ends by itself: the pool is broken, every destination pauses, exit 1
            assert first.wait(timeout=120) == 1
        told = log.read_text()
        assert "a worker process died; what was not sent stays pending" in told
        assert "Traceback" not in told
        run_again(network)
    finally:
        receiver.stop()

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = open_ledger(url)
    with engine.connect() as connection:
        stored = connection.execute(
            select(attempts.c.sop_instance_uid).where(attempts.c.result == "stored")
        ).all()
    engine.dispose()
    recorded = [uid for (uid,) in stored]
    assert len(recorded) == len(set(recorded)), "an instance was recorded sent twice"
    books = check_accounting(
        url, [tmp_path / s for s in SOURCES], {"newpacs": receiver.uids}
    )
    assert books.sent["newpacs"] == set(receiver.uids)  # all of it, and only it
