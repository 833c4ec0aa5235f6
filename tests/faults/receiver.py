"""A slow storage SCP and a ``pacsflow run`` process, for faults that land mid-run."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from subprocess import Popen
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
  newpacs: {destination}
run: {{batch: {batch}, workers: 2{run}}}
"""

SLOW_PACS = (
    "{{dicom: {{host: 127.0.0.1, port: {port}, ae_title: SLOWPACS, associations: 2}}}}"
)


def sample_network(
    folder: Path,
    *,
    port: int = 0,
    tracking: str = "sqlite:///ledger.db",
    destination: str | None = None,
    batch: int = 10,
    run: str = "",
) -> Path:
    """Write a network file for a generated sample (``generate_sample``) in
    ``folder``, sending everything to one destination (default a
    :class:`SlowReceiver` on ``port``); ``run`` adds options to ``run:``."""
    network = folder / "network-faults.yaml"
    network.write_text(
        SAMPLE_NETWORK.format(
            tracking=tracking,
            destination=destination or SLOW_PACS.format(port=port),
            batch=batch,
            run=f", {run}" if run else "",
        )
    )
    return network


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
) -> Popen[bytes]:
    """``pacsflow run`` as its own process group, so kill -9 takes its workers too;
    its log goes to ``stderr`` when given."""
    sink = stderr.open("wb") if stderr is not None else subprocess.DEVNULL
    try:
        return Popen(
            [sys.executable, "-m", "pacsflow", "-q", "run", str(network), *extra],
            stdout=subprocess.DEVNULL,
            stderr=sink,
            start_new_session=True,
        )
    finally:
        if stderr is not None:
            sink.close()  # type: ignore[union-attr]


@contextmanager
def running(network: Path, stderr: Path | None = None) -> Iterator[Popen[bytes]]:
    """``pacsflow run`` in the background for the block; killed if still running
    at its end."""
    process = pacsflow_run(network, stderr)
    try:
        yield process
    finally:
        kill_group(process)


def run_again(network: Path) -> None:
    """``pacsflow run`` to the end, which must succeed."""
    again = subprocess.run(
        [sys.executable, "-m", "pacsflow", "-q", "run", str(network)],
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert again.returncode == 0, again.stderr.decode()


def wait_for(
    condition: Callable[[], bool],
    process: Popen[bytes],
    *,
    seconds: float = 120,
) -> None:
    """Poll ``condition`` until true, while ``process`` is still running."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, "the run ended before the fault could land"
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.05)


def kill_group(process: Popen[bytes]) -> None:
    """SIGKILL ``process`` and its workers, if still running."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
