"""kill -9 in the middle of a run, then run again: nothing lost, nothing sent twice.

pacsflow runs as a real process (the CLI) against a real receiver that is slow enough
for the kill to land mid-run; the second run completes, and the final accounting is
that of an uninterrupted run.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from sqlalchemy import select

from pacsflow.ledger.database import open_ledger
from pacsflow.ledger.schema import attempts, instances
from pacsflow.sample import generate_sample
from tests.peers import free_port

NETWORK = """\
tracking: sqlite:///ledger.db
sources:
  - {{name: store01, path: store01}}
  - {{name: store02, path: store02}}
  - {{name: store03, path: store03}}
routes:
  - name: everything
    to: newpacs
destinations:
  newpacs:
    dicom: {{host: 127.0.0.1, port: {port}, ae_title: SLOWPACS, associations: 2}}
run: {{batch: 10, workers: 2}}
"""


class SlowReceiver:
    """A pynetdicom storage SCP that takes 20 ms per instance and remembers UIDs."""

    def __init__(self, port: int) -> None:
        self.uids: list[str] = []
        self._lock = threading.Lock()
        ae = AE(ae_title="SLOWPACS")
        for context in AllStoragePresentationContexts:
            ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        self._server = ae.start_server(
            ("127.0.0.1", port),
            block=False,
            evt_handlers=[(evt.EVT_C_STORE, self._store)],
        )

    def _store(self, event: Any) -> int:
        time.sleep(0.02)
        with self._lock:
            self.uids.append(str(event.request.AffectedSOPInstanceUID))
        return 0x0000

    def stop(self) -> None:
        self._server.shutdown()


def sent_so_far(ledger: Path) -> int:
    """Instances recorded sent, read with plain sqlite3 while the run writes."""
    if not ledger.exists():
        return 0
    with sqlite3.connect(ledger, timeout=5) as connection:
        try:
            row = connection.execute(
                "SELECT count(*) FROM instances WHERE outcome = 'sent'"
            ).fetchone()
        except sqlite3.OperationalError:
            return 0
    return int(row[0])


def pacsflow_run(network: Path) -> subprocess.Popen[bytes]:
    """``pacsflow run`` as its own process group, so kill -9 takes its workers too."""
    return subprocess.Popen(
        [sys.executable, "-m", "pacsflow", "-q", "run", str(network)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def test_kill_9_then_resume(tmp_path: Path) -> None:
    generate_sample(tmp_path, studies=6, seed=9)
    port = free_port()
    network = tmp_path / "resume.yaml"
    network.write_text(NETWORK.format(port=port))
    receiver = SlowReceiver(port)
    try:
        first = pacsflow_run(network)
        deadline = time.monotonic() + 120
        while sent_so_far(tmp_path / "ledger.db") < 30 and time.monotonic() < deadline:
            assert first.poll() is None, "the run ended before it could be killed"
            time.sleep(0.05)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        killed_at = sent_so_far(tmp_path / "ledger.db")
        assert killed_at >= 30

        second = subprocess.run(
            [sys.executable, "-m", "pacsflow", "-q", "run", str(network)],
            capture_output=True,
            timeout=300,
            check=False,
        )
        assert second.returncode == 0, second.stderr.decode()
    finally:
        receiver.stop()

    engine = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    with engine.connect() as connection:
        rows = connection.execute(
            select(instances.c.sop_instance_uid, instances.c.outcome).where(
                instances.c.verdict.is_(None)
            )
        ).all()
        put_aside = connection.execute(
            select(instances.c.outcome, instances.c.reason).where(
                instances.c.verdict.is_not(None)
            )
        ).all()
        tries = connection.execute(
            select(attempts.c.sop_instance_uid, attempts.c.run_id, attempts.c.result)
        ).all()
    engine.dispose()
    assert {outcome for _, outcome in rows} == {"sent"}
    # the sample's conflicting duplicate: no sin bin here, so recorded only
    assert set(put_aside) == {("sinbinned", "duplicate_conflict")}
    assert set(receiver.uids) == {uid for uid, _ in rows}, "a sent instance is missing"
    first_run = {uid for uid, run_id, _ in tries if run_id == 1}
    second_run = {uid for uid, run_id, _ in tries if run_id == 2}
    assert len(first_run) == killed_at
    assert not first_run & second_run, "an instance recorded sent was sent again"
