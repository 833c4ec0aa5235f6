"""Associations that go wrong mid-migration: aborted mid-send, a peer that stalls past
the DIMSE timeout, association requests rejected transiently.

A pynetdicom storage SCP misbehaves once, as scripted, then behaves; pacsflow must
send everything in the end, on fresh associations, recording the retries, and the
accounting must show every instance sent and held by the peer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom.uid import JPEG2000Lossless
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from sqlalchemy import select

from pacsflow.cli import main
from pacsflow.ledger.database import connect
from pacsflow.ledger.schema import attempts
from tests.dicomfiles import ct_dataset, write
from tests.faults.accounting import check_accounting
from tests.peers import free_port

NETWORK = """\
tracking: sqlite:///ledger.db
sources: [{{name: store, path: store}}]
routes: [{{name: all, to: pacs}}]
destinations:
  pacs:
    dicom:
      host: 127.0.0.1
      port: {port}
      ae_title: TROUBLED
      associations: 2
      dimse_timeout: 1
run: {{attempts: 3, backoff: 0.05, workers: 2, batch: 5}}
"""

INSTANCES = 20


class Troubled:
    """A storage SCP that misbehaves once, on the ``at``-th C-STORE (or on its first
    ``rejections`` association requests), then stores everything.

    ``trouble`` is ``abort`` (abort the association instead of answering), ``stall``
    (answer only after 2 s, past pacsflow's 1 s DIMSE timeout) or ``reject``.
    """

    def __init__(self, trouble: str, at: int = 7, rejections: int = 2) -> None:
        self.trouble = trouble
        self.at = at
        self.held: set[str] = set()
        self.stores = 0
        self.rejected = 0
        self._rejections = rejections
        self._lock = threading.Lock()
        self.port = free_port()
        self._ae = AE(ae_title="TROUBLED")
        for context in AllStoragePresentationContexts:
            self._ae.add_supported_context(
                context.abstract_syntax, ALL_TRANSFER_SYNTAXES
            )
        if trouble == "reject":
            # every request is over the limit until the rejections are done
            self._ae._maximum_associations = 0  # the setter allows 1 at least
        self._server = self._ae.start_server(
            ("127.0.0.1", self.port),
            block=False,
            evt_handlers=[
                (evt.EVT_C_STORE, self._store),
                (evt.EVT_REJECTED, self._rejected),
            ],
        )

    def _store(self, event: Any) -> int:
        with self._lock:
            self.stores += 1
            turn = self.stores
        if turn == self.at and self.trouble == "abort":
            event.assoc.abort()
            return 0xC000  # never reaches pacsflow: the association is gone
        if turn == self.at and self.trouble == "stall":
            time.sleep(2)
        with self._lock:
            self.held.add(str(event.request.AffectedSOPInstanceUID))
        return 0x0000

    def _rejected(self, _event: Any) -> None:
        with self._lock:
            self.rejected += 1
            if self.rejected >= self._rejections:
                self._ae.maximum_associations = 10

    def stop(self) -> None:
        self._server.shutdown()


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    for n in range(INSTANCES):
        write(
            ct_dataset(
                uid=f"1.2.826.9.7.{n}", number=n, study=f"1.2.826.9.7.{n % 4}.1"
            ),
            tmp_path / f"store/{n}.dcm",
            JPEG2000Lossless,
        )
    return tmp_path


@pytest.fixture
def peer(request: pytest.FixtureRequest) -> Iterator[Troubled]:
    troubled = Troubled(request.param)
    yield troubled
    troubled.stop()


def migrate(archive: Path, peer: Troubled) -> list[tuple[str, str, str | None]]:
    """Run the migration through the CLI; return every attempt made."""
    (archive / "network.yaml").write_text(NETWORK.format(port=peer.port))
    assert main(["-q", "run", str(archive / "network.yaml")]) == 0
    engine = connect(f"sqlite:///{archive / 'ledger.db'}")
    with engine.connect() as connection:
        tried = connection.execute(
            select(attempts.c.sop_instance_uid, attempts.c.result, attempts.c.detail)
        ).all()
    engine.dispose()
    return [(uid, result, detail) for uid, result, detail in tried]


def books(archive: Path, peer: Troubled) -> None:
    """Everything sent, and held by the peer."""
    books = check_accounting(
        f"sqlite:///{archive / 'ledger.db'}", [archive / "store"], {"pacs": peer.held}
    )
    assert books.sent["pacs"] == peer.held
    assert len(peer.held) == INSTANCES


@pytest.mark.parametrize("peer", ["abort"], indirect=True)
def test_an_association_aborted_mid_send_is_sent_again(
    archive: Path, peer: Troubled
) -> None:
    tried = migrate(archive, peer)

    lost = [detail for _, result, detail in tried if result == "lost"]
    assert lost, "the aborted send was not recorded"
    assert all(detail and "aborted the association" in detail for detail in lost)
    books(archive, peer)


@pytest.mark.parametrize("peer", ["stall"], indirect=True)
def test_a_peer_stalling_past_the_timeout_is_sent_again(
    archive: Path, peer: Troubled
) -> None:
    tried = migrate(archive, peer)

    lost = [detail for _, result, detail in tried if result == "lost"]
    assert lost, "the stalled send was not recorded"
    books(archive, peer)


@pytest.mark.parametrize("peer", ["reject"], indirect=True)
def test_a_transient_rejection_is_tried_again(archive: Path, peer: Troubled) -> None:
    tried = migrate(archive, peer)

    assert peer.rejected >= 2
    assert {result for _, result, _ in tried} == {"stored"}  # rejected: never sent
    books(archive, peer)
