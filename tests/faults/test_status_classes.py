"""Each status class a destination can answer, and a destination that is not there:
the answer decides the outcome, as the README's table says.

A pynetdicom storage SCP answers every C-STORE with one status; the run records the
outcome, the status, the Error Comment and every attempt in the ledger, and the
accounting holds whatever the answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset
from pydicom.uid import JPEG2000Lossless
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from sqlalchemy import func, select

from pacsflow.config import load_network
from pacsflow.ledger.database import open_ledger
from pacsflow.ledger.schema import attempts, instances
from pacsflow.run import RunSummary, run_network
from pacsflow.scan.indexer import scan_network
from tests.dicomfiles import ct_dataset, write
from tests.faults.accounting import check_accounting
from tests.peers import free_port

NETWORK = """\
sources: [{{name: store, path: store}}]
routes: [{{name: all, to: pacs}}]
destinations:
  pacs: {{dicom: {{host: 127.0.0.1, port: {port}, ae_title: SCRIPTED}}}}
  spare: {{folder: {{path: spare}}}}
run: {{attempts: 2, backoff: 0.01, workers: 1}}
"""

UNWELCOME = (0x0122, 0x1234)
"""SOP Class not supported, and a code no part of the standard defines."""


class Scripted:
    """A storage SCP answering every C-STORE with ``status``."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.calls = 0
        self.held: set[str] = set()
        """What it stored: the instances it answered with success or a warning."""
        self.port = free_port()
        ae = AE(ae_title="SCRIPTED")
        for context in AllStoragePresentationContexts:
            ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        self._server = ae.start_server(
            ("127.0.0.1", self.port),
            block=False,
            evt_handlers=[(evt.EVT_C_STORE, self._store)],
        )

    def _store(self, event: Any) -> Dataset:
        self.calls += 1
        if self.status == 0 or self.status & 0xF000 == 0xB000:
            self.held.add(str(event.request.AffectedSOPInstanceUID))
        answer = Dataset()
        answer.Status = self.status
        if self.status & 0xF000 in (0xA000, 0xC000) or self.status in UNWELCOME:
            answer.ErrorComment = "scripted refusal"
        return answer

    def stop(self) -> None:
        self._server.shutdown()


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    for n in range(3):
        write(
            ct_dataset(uid=f"1.2.826.9.{n}", number=n),
            tmp_path / f"store/{n}.dcm",
            JPEG2000Lossless,
        )
    return tmp_path


@pytest.fixture
def peer(request: pytest.FixtureRequest) -> Iterator[Scripted]:
    scripted = Scripted(request.param)
    yield scripted
    scripted.stop()


def migrate(
    archive: Path, port: int, held: set[str] | None = None
) -> tuple[RunSummary, list[Any], int]:
    """Scan and run; check the accounting against what the peer ``held``; return
    the summary, the instances and the attempts made."""
    (archive / "network.yaml").write_text(NETWORK.format(port=port))
    network = load_network(archive / "network.yaml")
    engine = open_ledger(network.tracking)
    scan_network(network, engine, workers=1)
    summary = run_network(network, engine)
    with engine.connect() as connection:
        rows = connection.execute(select(instances)).all()
        tried = connection.scalar(select(func.count()).select_from(attempts)) or 0
    engine.dispose()
    left = sum(r.outcome == "pending" for r in rows)
    check_accounting(
        network.tracking, [archive / "store"], {"pacs": held or set()}, pending=left
    )
    return summary, rows, tried


@pytest.mark.parametrize("peer", [0x0000], indirect=True)
def test_success_is_sent(archive: Path, peer: Scripted) -> None:
    summary, rows, _ = migrate(archive, peer.port, peer.held)

    assert summary.sent == 3
    assert {(r.outcome, r.status, r.destination, r.route) for r in rows} == {
        ("sent", 0, "pacs", "all")
    }


@pytest.mark.parametrize("peer", [0xB000, 0xB006, 0xB007], indirect=True)
def test_warning_is_sent_with_the_warning(archive: Path, peer: Scripted) -> None:
    summary, rows, _ = migrate(archive, peer.port, peer.held)

    assert summary.sent == 3
    assert all(
        r.outcome == "sent" and r.status == peer.status and r.detail for r in rows
    )


@pytest.mark.parametrize("peer", [0xA900, 0xC000, *UNWELCOME, 0xC123], indirect=True)
def test_failure_is_failed_with_status_and_comment(
    archive: Path, peer: Scripted
) -> None:
    summary, rows, tried = migrate(archive, peer.port, peer.held)

    assert summary.failed == 3 and summary.sent == 0
    assert all(r.outcome == "failed" and r.status == peer.status for r in rows)
    assert all("scripted refusal" in r.detail for r in rows)
    assert tried == 3  # no retry for a permanent failure
    assert summary.failures


@pytest.mark.parametrize("peer", [0xA700], indirect=True)
def test_out_of_resources_is_retried_then_failed(archive: Path, peer: Scripted) -> None:
    summary, rows, tried = migrate(archive, peer.port, peer.held)

    assert summary.failed == 3
    assert tried == 6 and peer.calls == 6  # run.attempts: 2 each
    assert all(r.attempts == 2 and r.status == 0xA700 for r in rows)


@pytest.mark.parametrize("peer", [0x0124], indirect=True)
def test_not_authorised_pauses_the_destination(archive: Path, peer: Scripted) -> None:
    summary, rows, _ = migrate(archive, peer.port, peer.held)

    assert "pacs" in summary.paused
    assert summary.left_pending == 3
    assert {r.outcome for r in rows} == {"pending"}


def test_unreachable_destination_pauses(archive: Path) -> None:
    summary, rows, _ = migrate(archive, free_port())

    assert "pacs" in summary.paused and "127.0.0.1" in summary.paused["pacs"]
    assert {r.outcome for r in rows} == {"pending"}
