"""``pacsflow check``: echo and negotiation, before anything moves."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEG2000Lossless
from pynetdicom import AE, AllStoragePresentationContexts
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from pacsflow.cli import main
from pacsflow.sample import generate_sample, load_manifest
from tests.peers import free_port, orthanc
from tests.samplenet import SAMPLE_SOURCES

NETWORK = (
    SAMPLE_SOURCES
    + """\
routes:
  - name: everything
    to: newpacs
destinations:
  newpacs: {{dicom: {{host: 127.0.0.1, port: {port}, ae_title: {ae}}}}}
"""
)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("sample")
    generate_sample(directory, studies=3, seed=6)
    return directory


@pytest.fixture
def no_jpeg2000() -> Iterator[int]:
    """A storage SCP that takes every storage class, but uncompressed only."""
    ae = AE(ae_title="NOJ2K")
    for context in AllStoragePresentationContexts:
        ae.add_supported_context(
            context.abstract_syntax, [ImplicitVRLittleEndian, ExplicitVRLittleEndian]
        )
    ae.add_supported_context(Verification)
    port = free_port()
    server = ae.start_server(("127.0.0.1", port), block=False)
    try:
        yield port
    finally:
        server.shutdown()


def check(
    archive: Path, port: int, ae: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict]:  # type: ignore[type-arg]
    """Scan, then ``pacsflow check --json``: exit status and the one destination."""
    network = archive / "check.yaml"
    network.write_text(NETWORK.format(port=port, ae=ae))
    assert main(["-q", "scan", str(network)]) == 0
    capsys.readouterr()
    code = main(["-q", "check", str(network), "--json"])
    (result,) = json.loads(capsys.readouterr().out)
    return code, result


def test_refused_jpeg2000_is_reported_with_its_instances(
    sample: Path, tmp_path: Path, no_jpeg2000: int, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "archive"
    shutil.copytree(sample, archive)

    code, result = check(archive, no_jpeg2000, "NOJ2K", capsys)

    assert code == 1
    assert result["echo"] == 0
    refused = {
        (c["sop_class"], c["transfer_syntax"]): c["instances"]
        for c in result["refused"]
    }
    matrix = load_manifest(archive).expected.matrix
    expected = {
        (cell.sop_class, cell.transfer_syntax): cell.count
        for cell in matrix
        if cell.transfer_syntax == JPEG2000Lossless
    }
    assert refused == expected
    assert all(c["transfer_syntax"] != JPEG2000Lossless for c in result["accepted"])


def test_orthanc_accepts_the_whole_matrix(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "archive"
    shutil.copytree(sample, archive)
    with orthanc(tmp_path / "orthanc") as peer:
        code, result = check(archive, peer.port, peer.ae_title, capsys)

    assert code == 0
    assert result["refused"] == []
    total = sum(c["instances"] for c in result["accepted"])
    assert total == load_manifest(archive).expected.instances


def test_unreachable_destination_fails_the_check(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "archive"
    shutil.copytree(sample, archive)

    code, result = check(archive, free_port(), "NOBODY", capsys)

    assert code == 1
    assert "nothing listens at that port" in result["error"]
