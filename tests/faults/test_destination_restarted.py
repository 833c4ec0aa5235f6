"""The destination's process is killed mid-study (DCMTK ``storescp``, SIGKILL), and
started again later on the same port.

The run loses its associations, tries again, finds nothing listening and pauses the
destination with the reason: what was not answered stays pending. Once the
destination is back, the next run sends the rest, whole studies included; nothing
recorded ``sent`` is missing from the destination's folder.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

from pacsflow.outcomes import Outcome
from pacsflow.sample import generate_sample
from tests.faults.accounting import check_accounting, held_in_folder
from tests.faults.receiver import (
    SOURCES,
    run_again,
    running,
    sample_network,
    wait_for,
)
from tests.peers import free_port, storescp

STORESCP = (
    "{{dicom: {{host: 127.0.0.1, port: {port}, ae_title: STORESCP, associations: 2,"
    " throttle: {{images_per_second: 50}}}}}}"
)
"""The destination, held to 50 images/s so that the kill lands mid-run."""


def received(folder: Path) -> int:
    return sum(1 for path in folder.iterdir() if path.is_file())


def test_a_destination_killed_mid_study_then_restarted(tmp_path: Path) -> None:
    generate_sample(tmp_path, studies=6, seed=59)
    port = free_port()
    network = sample_network(
        tmp_path,
        destination=STORESCP.format(port=port),
        batch=20,
        run="attempts: 2, backoff: 0.2",
    )
    folder = tmp_path / "newpacs"
    log = tmp_path / "first.log"

    with storescp(folder, port=port) as peer, running(network, log) as run:
        wait_for(lambda: received(folder) >= 30, run)
        peer.process.send_signal(signal.SIGKILL)
        peer.process.wait(timeout=10)
        code = run.wait(timeout=120)
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
        run_again(network)
    check_accounting(
        f"sqlite:///{tmp_path / 'ledger.db'}",
        [tmp_path / s for s in SOURCES],
        {"newpacs": held_in_folder(folder)},
    )
