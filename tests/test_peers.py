"""The real peers the suite relies on are installed and behave as later tests expect.

pynetdicom stores a JPEG 2000 file in its own transfer syntax to DCMTK's storescp and
to Orthanc, and both keep the pixel data byte for byte: what pacsflow's sender must
do and what its tests will check.
"""

from __future__ import annotations

from pathlib import Path

from pydicom import dcmread
from pydicom.uid import JPEG2000Lossless
from pynetdicom import AE

from tests.dicomfiles import ct_dataset, write
from tests.peers import Peer, orthanc, orthanc_get, storescp


def store(peer: Peer, path: Path) -> int:
    """C-STORE one file in its own transfer syntax; return the status."""
    ds = dcmread(path)
    ae = AE(ae_title="PACSFLOW_TEST")
    ae.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
    assoc = ae.associate(peer.host, peer.port, ae_title=peer.ae_title)
    assert assoc.is_established
    try:
        status = assoc.send_c_store(ds)
        return int(status.Status)
    finally:
        assoc.release()


def test_storescp_keeps_jpeg2000_bytes(tmp_path: Path) -> None:
    sent = write(ct_dataset(), tmp_path / "ct.dcm", JPEG2000Lossless)

    with storescp(tmp_path / "received") as peer:
        assert store(peer, sent) == 0x0000

    [received] = list((tmp_path / "received").iterdir())
    theirs = dcmread(received)
    assert theirs.file_meta.TransferSyntaxUID == JPEG2000Lossless
    assert theirs.PixelData == dcmread(sent).PixelData


def test_orthanc_stores_and_lists(tmp_path: Path) -> None:
    sent = write(ct_dataset(), tmp_path / "ct.dcm", JPEG2000Lossless)

    with orthanc(tmp_path / "orthanc") as peer:
        assert store(peer, sent) == 0x0000
        instances = orthanc_get(peer, "/instances")

    assert isinstance(instances, list) and len(instances) == 1
