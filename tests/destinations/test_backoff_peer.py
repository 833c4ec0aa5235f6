"""Adaptive back-off against a struggling peer: a real run, the pauses measured.

A pynetdicom storage SCP on a loopback port answers its first C-STOREs badly (0xA700
out of resources, or too slowly for ``throttle.slow_after``), then well. The peer
notes when each request arrived and when it answered: the pause pacsflow leaves
between an answer and its next request must start at 50 ms and double while the
trouble lasts, then shrink away once the peer keeps up, and every instance must end
``sent``.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian
from pynetdicom import AE, evt
from sqlalchemy import select

from pacsflow.cli import main
from pacsflow.ledger.database import open_ledger
from pacsflow.ledger.schema import attempts, instances
from tests.dicomfiles import ct_dataset, write
from tests.peers import free_port

pytestmark = pytest.mark.network

INSTANCES = 10
TROUBLED = 3
"""How many C-STOREs the peer answers badly before it recovers."""
FIRST_PAUSE = 0.05
"""pacsflow's first back-off pause, in seconds."""


@dataclass
class StrugglingPeer:
    """A storage SCP that answers its first ``TROUBLED`` C-STOREs badly."""

    port: int
    busy: bool
    """Answer 0xA700 (out of resources) while in trouble; else answer late."""
    late: float = 0.0
    """Seconds to hold each answer while in trouble, when not busy."""
    arrived: list[float] = field(default_factory=list)
    answered: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def store(self, event: evt.Event) -> int:
        """Note the arrival, then answer as the script says."""
        with self._lock:
            self.arrived.append(time.monotonic())
            troubled = len(self.arrived) <= TROUBLED
        status = 0x0000
        if troubled and self.busy:
            status = 0xA700
        elif troubled:
            time.sleep(self.late)
        with self._lock:
            self.answered.append(time.monotonic())
        return status

    def pauses(self) -> list[float]:
        """Seconds from each answer to the next request."""
        return [
            arrived - answered
            for answered, arrived in zip(self.answered, self.arrived[1:], strict=False)
        ]


@contextmanager
def struggling_peer(busy: bool, late: float = 0.0) -> Iterator[StrugglingPeer]:
    """Run a :class:`StrugglingPeer` on a free loopback port until the block ends."""
    peer = StrugglingPeer(free_port(), busy, late)
    ae = AE(ae_title="STRUGGLING")
    ae.add_supported_context(CTImageStorage, ExplicitVRLittleEndian)
    server = ae.start_server(
        ("127.0.0.1", peer.port),
        block=False,
        evt_handlers=[(evt.EVT_C_STORE, peer.store)],
    )
    try:
        yield peer
    finally:
        server.shutdown()


NETWORK = """\
tracking: sqlite:///ledger.db
sources:
  - {{name: store01, path: store01}}
routes:
  - name: everything
    to: newpacs
destinations:
  newpacs:
    dicom:
      host: 127.0.0.1
      port: {port}
      ae_title: STRUGGLING
      throttle: {throttle}
run: {{attempts: 5, backoff: 0.01, workers: 1}}
"""


def migrate(tmp_path: Path, peer: StrugglingPeer, throttle: str) -> list[str]:
    """Send ``INSTANCES`` CT images of one study to the peer; their outcomes."""
    for number in range(1, INSTANCES + 1):
        write(ct_dataset(number=number), tmp_path / "store01" / f"{number}.dcm")
    network = tmp_path / "network.yaml"
    network.write_text(NETWORK.format(port=peer.port, throttle=throttle))

    assert main(["-q", "run", str(network)]) == 0

    engine = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        with engine.connect() as connection:
            outcomes = list(connection.scalars(select(instances.c.outcome)))
            retried = connection.scalar(
                select(attempts.c.status).where(attempts.c.result == "retry").limit(1)
            )
    finally:
        engine.dispose()
    assert retried == (0xA700 if peer.busy else None)
    return outcomes


def assert_backed_off_then_recovered(pauses: list[float]) -> None:
    """The pause doubles from 50 ms over the troubled answers, then fades."""
    troubled, recovered = pauses[:TROUBLED], pauses[TROUBLED:]
    for number, pause in enumerate(troubled):
        # A sleep never ends early; a noisy machine may only make pauses longer.
        assert pause >= FIRST_PAUSE * 2**number * 0.95, [round(p, 3) for p in pauses]
    # Halved on each answer in time, the pause is gone after a few instances.
    assert statistics.median(recovered[-4:]) < max(troubled) / 2, pauses


def test_out_of_resources_slows_down_until_the_peer_keeps_up(
    tmp_path: Path,
) -> None:
    with struggling_peer(busy=True) as peer:
        outcomes = migrate(tmp_path, peer, "{}")

    assert outcomes == ["sent"] * INSTANCES
    assert len(peer.arrived) == INSTANCES + TROUBLED  # the first one sent 4 times
    assert_backed_off_then_recovered(peer.pauses())


def test_slow_answers_slow_down_until_the_peer_keeps_up(tmp_path: Path) -> None:
    with struggling_peer(busy=False, late=0.5) as peer:
        outcomes = migrate(tmp_path, peer, "{slow_after: 0.3}")

    assert outcomes == ["sent"] * INSTANCES
    assert len(peer.arrived) == INSTANCES
    assert_backed_off_then_recovered(peer.pauses())
