"""A worker process killed with SIGKILL mid-run: the run ends cleanly, its batches stay
pending, and the next run completes with nothing lost and nothing recorded twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from pacsflow.ledger.database import open_ledger
from pacsflow.ledger.schema import attempts, instances
from pacsflow.sample import generate_sample
from tests.peers import free_port
from tests.run.test_resume import NETWORK, SlowReceiver, sent_so_far


def children(pid: int) -> list[int]:
    """The process ids of ``pid``'s children (Linux)."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def test_sigkill_of_a_worker_loses_nothing(tmp_path: Path) -> None:
    generate_sample(tmp_path, studies=6, seed=19)
    port = free_port()
    network = tmp_path / "resume.yaml"
    network.write_text(NETWORK.format(port=port))
    receiver = SlowReceiver(port)
    try:
        log = tmp_path / "first.log"
        with log.open("wb") as sink:  # the child keeps its own copy
            first = subprocess.Popen(
                [sys.executable, "-m", "pacsflow", "-q", "run", str(network)],
                stdout=subprocess.DEVNULL,
                stderr=sink,
                start_new_session=True,
            )
        deadline = time.monotonic() + 120
        while sent_so_far(tmp_path / "ledger.db") < 20 and time.monotonic() < deadline:
            assert first.poll() is None, "the run ended before a worker was killed"
            time.sleep(0.05)
        workers = children(first.pid)
        assert workers
        os.kill(workers[-1], signal.SIGKILL)
        # it ends by itself: the pool is broken, every destination pauses, exit 1
        assert first.wait(timeout=120) == 1
        told = log.read_text()
        assert "a worker process died; what was not sent stays pending" in told
        assert "Traceback" not in told
        second = subprocess.run(
            [sys.executable, "-m", "pacsflow", "-q", "run", str(network)],
            capture_output=True,
            timeout=300,
            check=False,
        )
        assert second.returncode == 0, second.stderr.decode()
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
        receiver.stop()

    engine = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    with engine.connect() as connection:
        outcomes = dict(
            connection.execute(
                select(instances.c.sop_instance_uid, instances.c.outcome).where(
                    instances.c.verdict.is_(None)
                )
            ).all()
        )
        stored = connection.execute(
            select(attempts.c.sop_instance_uid).where(attempts.c.result == "stored")
        ).all()
    engine.dispose()
    assert set(outcomes.values()) == {"sent"}
    assert set(receiver.uids) == set(outcomes)
    recorded = [uid for (uid,) in stored]
    assert len(recorded) == len(set(recorded)), "an instance was recorded sent twice"
