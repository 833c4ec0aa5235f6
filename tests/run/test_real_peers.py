"""The sample migration into real receivers: DCMTK's storescp and Orthanc.

Every instance routed to a receiver is there afterwards, in its own transfer syntax,
its pixel data byte for byte the original.
"""

from __future__ import annotations

import io
import urllib.request
from pathlib import Path

from pydicom import dcmread
from sqlalchemy import select

from pacsflow.config import load_network
from pacsflow.ledger.database import open_ledger
from pacsflow.ledger.schema import files, instances
from pacsflow.run import run_network
from pacsflow.sample import generate_sample
from pacsflow.scan.indexer import scan_network
from tests.peers import Peer, orthanc, orthanc_get, storescp
from tests.samplenet import SAMPLE_SOURCES

NETWORK = (
    SAMPLE_SOURCES
    + """\
routes:
  - name: ct
    match: {{modality: CT}}
    to: dcmtk
  - name: rest
    to: orthanc
destinations:
  dcmtk:
    dicom: {{host: 127.0.0.1, port: {dcmtk}, ae_title: STORESCP, associations: 2}}
  orthanc: {{dicom: {{host: 127.0.0.1, port: {orthanc}, ae_title: ORTHANC}}}}
"""
)


def originals(network_file: Path, destination: str) -> dict[str, Path]:
    """SOP Instance UID → original file, for what the run sent to ``destination``."""
    network = load_network(network_file)
    engine = open_ledger(network.tracking)
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                instances.c.sop_instance_uid,
                files.c.source,
                files.c.folder,
                files.c.name,
            )
            .join(files, instances.c.file_id == files.c.id)
            .where(
                instances.c.destination == destination, instances.c.outcome == "sent"
            )
        ).all()
    engine.dispose()
    roots = {s.name: s.path for s in network.sources}
    return {uid: roots[source] / folder / name for uid, source, folder, name in rows}


def orthanc_file(peer: Peer, orthanc_id: str) -> bytes:
    """The DICOM file Orthanc stored for one instance."""
    url = f"http://127.0.0.1:{peer.http_port}/instances/{orthanc_id}/file"
    with urllib.request.urlopen(url, timeout=10) as response:
        data: bytes = response.read()
        return data


def test_sample_lands_in_storescp_and_orthanc_unchanged(tmp_path: Path) -> None:
    generate_sample(tmp_path / "archive", studies=3, seed=4)
    network_file = tmp_path / "archive" / "peers.yaml"

    with storescp(tmp_path / "dcmtk") as dcmtk, orthanc(tmp_path / "orthanc") as pacs:
        network_file.write_text(NETWORK.format(dcmtk=dcmtk.port, orthanc=pacs.port))
        network = load_network(network_file)
        engine = open_ledger(network.tracking)
        scan_network(network, engine, workers=2)
        summary = run_network(network, engine, workers=2)
        engine.dispose()
        stored = orthanc_get(pacs, "/instances?expand")
        by_uid = {
            item["MainDicomTags"]["SOPInstanceUID"]: item["ID"]
            for item in stored  # type: ignore[attr-defined]
        }
        orthanc_bytes = {
            uid: orthanc_file(pacs, oid) for uid, oid in list(by_uid.items())[:10]
        }

    assert summary.failed == summary.left_pending == 0
    assert summary.sent == summary.pending

    sent_to_dcmtk = originals(network_file, "dcmtk")
    received = {dcmread(p).SOPInstanceUID: p for p in (tmp_path / "dcmtk").iterdir()}
    assert set(received) == set(sent_to_dcmtk) and received
    for uid, path in received.items():
        theirs, ours = dcmread(path), dcmread(sent_to_dcmtk[uid])
        assert theirs.file_meta.TransferSyntaxUID == ours.file_meta.TransferSyntaxUID
        assert theirs.get("PixelData") == ours.get("PixelData")

    sent_to_orthanc = originals(network_file, "orthanc")
    assert set(by_uid) == set(sent_to_orthanc)
    for uid, data in orthanc_bytes.items():
        theirs = dcmread(io.BytesIO(data))
        ours = dcmread(sent_to_orthanc[uid])
        assert theirs.file_meta.TransferSyntaxUID == ours.file_meta.TransferSyntaxUID
        assert theirs.get("PixelData") == ours.get("PixelData")
