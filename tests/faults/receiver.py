"""A slow storage SCP and a ``pacsflow run`` process, for faults that land mid-run."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt

SAMPLE_NETWORK = """\
tracking: {tracking}
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
"""A network file for a generated sample (``generate_sample``) sent to one receiver."""

SOURCES = ("store01", "store02", "store03")
"""The sample's source folders."""


class SlowReceiver:
    """A pynetdicom storage SCP that takes ``delay`` seconds per instance and
    remembers the SOP Instance UIDs it stored."""

    def __init__(self, port: int, delay: float = 0.02) -> None:
        self.uids: list[str] = []
        self.delay = delay
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
        time.sleep(self.delay)
        with self._lock:
            self.uids.append(str(event.request.AffectedSOPInstanceUID))
        return 0x0000

    def stop(self) -> None:
        """Stop listening and close its associations."""
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


def pacsflow_run(
    network: Path, stderr: Path | None = None, *extra: str
) -> subprocess.Popen[bytes]:
    """``pacsflow run`` as its own process group, so kill -9 takes its workers too;
    its log goes to ``stderr`` when given."""
    sink = stderr.open("wb") if stderr is not None else subprocess.DEVNULL
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "pacsflow", "-q", "run", str(network), *extra],
            stdout=subprocess.DEVNULL,
            stderr=sink,
            start_new_session=True,
        )
    finally:
        if stderr is not None:
            sink.close()  # type: ignore[union-attr]


def wait_for(
    condition: Callable[[], bool],
    process: subprocess.Popen[bytes],
    *,
    seconds: float = 120,
) -> None:
    """Poll ``condition`` until true, while ``process`` is still running."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, "the run ended before the fault could land"
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.05)


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL ``process`` and its workers, if still running."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
