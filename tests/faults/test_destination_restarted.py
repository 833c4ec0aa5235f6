"""The destination's process is killed mid-study (DCMTK ``storescp``, SIGKILL), and
started again later on the same port.

The run loses its associations, tries again, finds nothing listening and pauses the
destination with the reason: what was not answered stays pending. Once the
destination is back, the next run sends the rest, whole studies included; nothing
recorded ``sent`` is missing from the destination's folder.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from pacsflow.outcomes import Outcome
from pacsflow.sample import generate_sample
from tests.faults.accounting import check_accounting, held_in_folder
from tests.faults.receiver import SOURCES, pacsflow_run, wait_for
from tests.peers import free_port, storescp

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
    dicom:
      host: 127.0.0.1
      port: {port}
      ae_title: STORESCP
      associations: 2
      throttle: {{images_per_second: 50}}
run: {{batch: 20, workers: 2, attempts: 2, backoff: 0.2}}
"""


def received(folder: Path) -> int:
    return sum(1 for path in folder.iterdir() if path.is_file())


def test_a_destination_killed_mid_study_then_restarted(tmp_path: Path) -> None:
    generate_sample(tmp_path, studies=6, seed=59)
    port = free_port()
    network = tmp_path / "restart.yaml"
    network.write_text(NETWORK.format(port=port))
    folder = tmp_path / "newpacs"
    log = tmp_path / "first.log"

    with storescp(folder, port=port) as peer:
        run = pacsflow_run(network, log)
        try:
            wait_for(lambda: received(folder) >= 30, run)
            peer.process.send_signal(signal.SIGKILL)
            peer.process.wait(timeout=10)
            code = run.wait(timeout=120)
        finally:
            if run.poll() is None:
                run.kill()
    told = log.read_text()
    assert code == 1, told
    assert "newpacs paused" in told
    assert "Traceback" not in told
    during = check_accounting(
        f"sqlite:///{tmp_path / 'ledger.db'}",
        [tmp_path / s for s in SOURCES],
        {"newpacs": held_in_folder(folder)},
        pending=None,
    )
    assert during.total(Outcome.PENDING) > 0  # the rest waits for the destination

    time.sleep(0.5)  # the port is free again
    with storescp(folder, port=port):
        second = subprocess.run(
            [sys.executable, "-m", "pacsflow", "-q", "run", str(network)],
            capture_output=True,
            timeout=300,
            check=False,
        )
    assert second.returncode == 0, second.stderr.decode()
    check_accounting(
        f"sqlite:///{tmp_path / 'ledger.db'}",
        [tmp_path / s for s in SOURCES],
        {"newpacs": held_in_folder(folder)},
    )
