"""Scanning storage folders into the ledger: counts, duplicates, re-scans, bad input."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEG2000Lossless

from pacsflow.config import Network, load_network
from pacsflow.ledger.database import open_ledger
from pacsflow.ledger.report import Status, read_status
from pacsflow.scan.indexer import ScanSummary, scan_network
from tests.dicomfiles import ct_dataset, sr_dataset, write

NETWORK = """\
tracking: {tracking}
sources:
  - {{name: store01, path: store01}}
  - {{name: store02, path: store02}}
routes:
  - {{name: all, to: discard}}
destinations:
  discard: {{terminator: {{}}}}
"""


def make_archive(root: Path, tracking: str) -> Path:
    """Two striped stores: 4 CT, 1 SR, a copy, a conflicting copy, junk, a stub."""
    for n in range(4):
        store = root / f"store0{n % 2 + 1}"
        syntax = JPEG2000Lossless if n < 2 else ExplicitVRLittleEndian
        write(
            ct_dataset(uid=f"1.2.3.4.{n}", number=n),
            store / "2024/01/31" / f"{n}.dcm",
            syntax,
        )
    write(sr_dataset(), root / "store02/2023/sr", ImplicitVRLittleEndian)
    # the same instance twice, identical, in the other store
    shutil.copy(root / "store01/2024/01/31/0.dcm", root / "store02/copy-of-0.dcm")
    # the same UID twice with different content
    changed = ct_dataset(uid="1.2.3.4.1", number=1)
    changed.PatientName = "Other^Name"
    write(changed, root / "store01/old/1.dcm")
    (root / "store01/Thumbs.db").write_bytes(os.urandom(2048))
    stub = root / "store02/stub.dcm"
    stub.write_bytes((root / "store01/2024/01/31/0.dcm").read_bytes()[:400])
    network = root / "network.yaml"
    network.write_text(NETWORK.format(tracking=tracking))
    return network


def scan(network: Network, workers: int = 2) -> tuple[ScanSummary, Status]:
    """Scan with ``workers`` processes and read the status back."""
    engine = open_ledger(network.tracking)
    try:
        summary = scan_network(network, engine, workers=workers)
        with engine.connect() as connection:
            return summary, read_status(connection)
    finally:
        engine.dispose()


def test_scan_counts_every_file(tmp_path: Path, ledger_url: str) -> None:
    network = load_network(make_archive(tmp_path, ledger_url))

    summary, status = scan(network)

    assert summary.seen == status.files == 9
    assert status.unreadable == summary.unreadable == 2
    assert status.instances == summary.new_instances == 5
    assert status.outcomes["pending"] == 5
    assert status.duplicates == {"same_content": 1, "different_content": 1}
    # 1.2.3.4.1's first copy by source and path is the explicit VR one in store01
    assert {(c.transfer_syntax, c.count) for c in status.matrix} == {
        (JPEG2000Lossless, 1),
        (ExplicitVRLittleEndian, 3),
        (ImplicitVRLittleEndian, 1),
    }
    reasons = {f.path: f.reason for f in status.unreadable_files}
    assert "truncated" in reasons["stub.dcm"]
    assert "Thumbs.db" in reasons


def test_one_worker_and_a_pool_agree(tmp_path: Path) -> None:
    one = load_network(make_archive(tmp_path / "a", f"sqlite:///{tmp_path / 'a.db'}"))
    two = load_network(make_archive(tmp_path / "b", f"sqlite:///{tmp_path / 'b.db'}"))

    _, inline = scan(one, workers=1)
    _, pooled = scan(two, workers=2)

    assert inline.matrix == pooled.matrix
    assert inline.duplicates == pooled.duplicates
    assert inline.outcomes == pooled.outcomes


def test_rescan_reads_only_what_changed(tmp_path: Path, ledger_url: str) -> None:
    network = load_network(make_archive(tmp_path, ledger_url))
    scan(network)
    touched = tmp_path / "store01/2024/01/31/0.dcm"
    os.utime(touched, ns=(1, 1))
    (tmp_path / "store02/2024/01/31/1.dcm").unlink()

    summary, status = scan(network)

    # the changed file and the two unreadable ones are read again, nothing else
    assert summary.read == 3
    assert summary.vanished == 1
    assert status.vanished == 1
    assert status.files == 8
    assert status.instances == 5  # nothing ever leaves the ledger
    assert status.duplicates == {"same_content": 1, "different_content": 0}


def test_missing_source_is_reported_and_others_are_scanned(tmp_path: Path) -> None:
    network = load_network(make_archive(tmp_path, f"sqlite:///{tmp_path / 'l.db'}"))
    shutil.rmtree(tmp_path / "store02")

    summary, status = scan(network)

    assert summary.missing_sources == ["store02"]
    assert list(status.sources) == ["store01"]
