"""Verification against real peers: Orthanc, and a folder destination."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pacsflow.cli import main
from pacsflow.sample import generate_sample
from tests.peers import dcmqrscp, orthanc, orthanc_delete_instance
from tests.samplenet import SAMPLE_SOURCES

NETWORK = (
    SAMPLE_SOURCES
    + """\
legacy_database:
  url: sqlite:///legacy.db
  query: SELECT i.sop_instance_uid AS SOPInstanceUID, st.study_uid AS StudyInstanceUID,
    p.patient_name AS PatientName FROM instance i JOIN series se ON se.pk = i.series_fk
    JOIN study st ON st.pk = se.study_fk JOIN patient p ON p.pk = st.patient_fk
routes:
  - name: images
    match: {{pixel_data: true}}
    to: newpacs
  - name: rest
    to: reports
destinations:
  newpacs: {{dicom: {{host: 127.0.0.1, port: {port}, ae_title: ORTHANC}}}}
  reports: {{folder: {{path: out/reports}}}}
  sinbin: {{folder: {{path: out/sinbin}}}}
sinbin: sinbin
"""
)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("sample")
    generate_sample(directory, studies=3, seed=8)
    return directory


def verify(network: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:  # type: ignore[type-arg]
    """``pacsflow verify --json``: exit status and summary."""
    capsys.readouterr()
    code = main(["-q", "verify", str(network), "--json"])
    return code, json.loads(capsys.readouterr().out)


def status(network: Path, capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    """``pacsflow status --json``."""
    capsys.readouterr()
    assert main(["status", str(network), "--json"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_missing_instance_is_found_and_sent_again(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "archive"
    shutil.copytree(sample, archive)
    with orthanc(tmp_path / "orthanc") as peer:
        network = archive / "verify.yaml"
        network.write_text(NETWORK.format(port=peer.port))
        assert main(["-q", "run", str(network)]) == 0

        code, first = verify(network, capsys)
        assert code == 0
        assert first["missing"] == {"newpacs": 0, "reports": 0}
        sent = status(network, capsys)["outcomes"]["sent"]
        assert sum(first["verified"].values()) == sent

        victim = _one_sent_to(archive, "newpacs")
        orthanc_delete_instance(peer, victim)
        code, second = verify(network, capsys)
        assert code == 1
        assert second["missing"]["newpacs"] == 1
        assert status(network, capsys)["verification"] == {
            "verified": sent - 1,
            "missing": 1,
            "unchecked": 0,
        }

        assert main(["-q", "run", str(network), "--resend-missing"]) == 0
        code, third = verify(network, capsys)
        assert code == 0
        assert third["missing"]["newpacs"] == 0
    assert status(network, capsys)["verification"]["verified"] == sent


def test_folder_file_removed_is_missing(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "archive"
    shutil.copytree(sample, archive)
    network = archive / "verify.yaml"
    network.write_text(
        NETWORK.format(port=1).replace(
            "{dicom: {host: 127.0.0.1, port: 1, ae_title: ORTHANC}}",
            "{folder: {path: out/newpacs}}",
        )
    )
    assert main(["-q", "run", str(network)]) == 0
    next((archive / "out/reports").rglob("*.dcm")).unlink()

    code, summary = verify(network, capsys)

    assert code == 1
    assert summary["missing"] == {"newpacs": 0, "reports": 1}


def test_dcmqrscp_holds_what_was_sent(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "archive"
    shutil.copytree(sample, archive)
    with dcmqrscp(tmp_path / "dcmqrscp") as peer:
        network = archive / "verify.yaml"
        text = NETWORK.format(port=peer.port).replace("ORTHANC", peer.ae_title)
        network.write_text(text)
        assert main(["-q", "run", str(network)]) == 0

        code, summary = verify(network, capsys)

    assert code == 0
    assert summary["verified"]["newpacs"] > 0
    assert summary["missing"] == {"newpacs": 0, "reports": 0}


def _one_sent_to(archive: Path, destination: str) -> str:
    """A SOP Instance UID recorded sent to ``destination``."""
    import sqlite3

    with sqlite3.connect(archive / "ledger.db") as connection:
        (uid,) = connection.execute(
            "SELECT sop_instance_uid FROM instances WHERE outcome = 'sent' "
            "AND destination = ? LIMIT 1",
            (destination,),
        ).fetchone()
    return str(uid)
