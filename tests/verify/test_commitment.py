"""Storage commitment in ``pacsflow verify``: against Orthanc, and peers that fail.

Orthanc is a storage commitment SCP: it answers the N-ACTION, then reports on a new
association to the modality its ``DicomModalities`` lists under the calling AE
title, which is where pacsflow listens.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pynetdicom import AE, evt

from pacsflow.cli import main
from pacsflow.config import StorageCommitment, load_network
from pacsflow.dicom import Peer
from pacsflow.dicom.commitment import ListenAddress, request_commitment
from pacsflow.dicom.errors import CommitmentError
from pacsflow.errors import ConfigError
from pacsflow.receiver import Receiver
from pacsflow.sample import generate_sample
from tests.peers import free_port, orthanc, orthanc_delete_instance
from tests.samplenet import SAMPLE_SOURCES

NETWORK = (
    SAMPLE_SOURCES
    + """\
legacy_database:
  url: sqlite:///legacy.db
  query: SELECT i.sop_instance_uid AS SOPInstanceUID, st.study_uid AS StudyInstanceUID
    FROM instance i JOIN series se ON se.pk = i.series_fk
    JOIN study st ON st.pk = se.study_fk
routes:
  - name: images
    match: {{pixel_data: true}}
    to: newpacs
  - name: rest
    to: reports
destinations:
  newpacs:
    dicom:
      host: 127.0.0.1
      port: {port}
      ae_title: {ae_title}
      calling_ae_title: PACSFLOW_SC
      query: {{port: {query_port}}}
      storage_commitment:
        port: {listen}
        bind: 127.0.0.1
        timeout: {timeout}
        batch: {batch}
  reports: {{folder: {{path: out/reports}}}}
  sinbin: {{folder: {{path: out/sinbin}}}}
sinbin: sinbin
"""
)

STORAGE_COMMITMENT = "1.2.840.10008.1.20.1"
STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"


# --- the options in the network file ---------------------------------------------

MINIMAL = """\
sources: [{{name: store01, path: store01}}]
routes: [{{name: all, to: newpacs}}]
destinations:
  newpacs:
    dicom: {{host: 127.0.0.1, port: 104, ae_title: NEW, calling_ae_title: PF,
            storage_commitment: {options}}}
"""


def load_options(tmp_path: Path, options: str) -> StorageCommitment | None:
    """The storage commitment options of a network file's one DICOM destination."""
    network = tmp_path / "network.yaml"
    network.write_text(MINIMAL.format(options=options))
    destination = load_network(network).destinations["newpacs"]
    return getattr(destination, "storage_commitment", None)


def test_options_and_defaults(tmp_path: Path) -> None:
    assert load_options(tmp_path, "null") is None
    assert load_options(tmp_path, "{port: 11115}") == StorageCommitment(
        port=11115, ae_title=None, bind="0.0.0.0", timeout=300, batch=1000
    )
    assert load_options(
        tmp_path,
        "{port: 11115, ae_title: PF_SC, bind: 10.0.0.9, timeout: 5, batch: 50}",
    ) == StorageCommitment(
        port=11115, ae_title="PF_SC", bind="10.0.0.9", timeout=5, batch=50
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("{}", r"storage_commitment\.port: required key missing"),
        ("{port: 0}", r"storage_commitment\.port: expected a number greater"),
        ("{port: 11115, batch: 0}", r"storage_commitment\.batch: expected a number"),
        ("{port: 11115, timeout: 0}", r"storage_commitment\.timeout: expected"),
        ("{port: 11115, ae_title: ''}", r"storage_commitment\.ae_title: "),
        ("{port: 11115, listen: 1}", r"storage_commitment\.listen: unknown key"),
    ],
)
def test_bad_options_name_the_key(tmp_path: Path, options: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"destinations\.newpacs\.dicom\." + message):
        load_options(tmp_path, options)


# --- against peers -------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("sample")
    generate_sample(directory, studies=3, seed=8)
    return directory


@pytest.fixture
def archive(sample: Path, tmp_path: Path) -> Path:
    """A fresh copy of the sample archive."""
    copy = tmp_path / "archive"
    shutil.copytree(sample, copy)
    return copy


def write_network(archive: Path, **values: Any) -> Path:
    """The network file with storage commitment, its blanks filled in."""
    values = {"timeout": 30, "batch": 1000, "ae_title": "ORTHANC", **values}
    values.setdefault("query_port", values["port"])
    network = archive / "commit.yaml"
    network.write_text(NETWORK.format(**values))
    return network


def verify(network: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    """``pacsflow verify --json``: exit status and summary."""
    capsys.readouterr()
    code = main(["-q", "verify", str(network), "--json"])
    return code, json.loads(capsys.readouterr().out)


def status(network: Path, capsys: pytest.CaptureFixture[str]) -> Any:
    """``pacsflow status --json``."""
    capsys.readouterr()
    assert main(["status", str(network), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def ledger(archive: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a query on the archive's SQLite ledger."""
    with sqlite3.connect(archive / "ledger.db") as connection:
        return connection.execute(sql).fetchall()


def commitments(archive: Path) -> dict[str, tuple[str | None, str | None]]:
    """SOP Instance UID → (commitment, detail) of every instance sent to newpacs."""
    rows = ledger(
        archive,
        "SELECT sop_instance_uid, commitment, commitment_detail FROM instances "
        "WHERE outcome = 'sent' AND destination = 'newpacs'",
    )
    return {uid: (commitment, detail) for uid, commitment, detail in rows}


@pytest.mark.network
def test_orthanc_commits_what_it_holds_and_fails_what_it_lost(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listen = free_port()
    modalities = {"pacsflow": ("PACSFLOW_SC", "127.0.0.1", listen)}
    with orthanc(tmp_path / "orthanc", modalities=modalities) as peer:
        network = write_network(archive, port=peer.port, listen=listen, batch=7)
        assert main(["-q", "run", str(network)]) == 0

        code, first = verify(network, capsys)
        assert code == 0
        sent = commitments(archive)
        assert len(sent) > 7  # more than one transaction
        assert first["commitment"]["newpacs"] == {
            "committed": len(sent),
            "failed": 0,
            "unanswered": 0,
            "error": None,
        }
        assert set(sent.values()) == {("committed", None)}
        assert ledger(
            archive, "SELECT count(*) FROM instances WHERE committed_at IS NOT NULL"
        ) == [(len(sent),)]

        victim = next(iter(sent))
        orthanc_delete_instance(peer, victim)
        code, second = verify(network, capsys)

    assert code == 1  # the deleted instance is missing too
    assert second["commitment"]["newpacs"]["failed"] == 1
    after = commitments(archive)
    assert after.pop(victim) == ("failed", "0x0112 no such object instance")
    assert set(after.values()) == {("committed", None)}
    total = status(network, capsys)["outcomes"]["sent"]
    assert status(network, capsys)["commitment"] == {
        "committed": len(sent) - 1,
        "failed": 1,
        "unknown": total - len(sent),  # the folder destination is not asked
    }
    assert main(["explain", str(network), victim]) == 0
    told = " ".join(capsys.readouterr().out.split())
    assert "verify missing" in told
    assert "storage commitment failed (0x0112 no such object instance)" in told
    events = (archive / "events.jsonl").read_text().splitlines()
    victim_events = [json.loads(e)["event"] for e in events if victim in e]
    assert victim_events == ["sent", "verified", "missing"]


@pytest.mark.network
def test_orthanc_refuses_an_ae_title_it_does_not_know(tmp_path: Path) -> None:
    stranger = {"other": ("SOMEONE", "127.0.0.1", free_port())}
    with (
        orthanc(tmp_path / "orthanc", modalities=stranger) as peer,
        pytest.raises(
            CommitmentError,
            match=r"ORTHANC@127\.0\.0\.1:\d+ aborted the association .* during the "
            r"storage commitment request; check that the destination knows "
            r"pacsflow's AE title 'PACSFLOW' at this host \(in Orthanc: "
            r"DicomModalities\)",
        ),
    ):
        request_commitment(
            Peer(peer.host, peer.port, peer.ae_title, calling_ae="PACSFLOW"),
            ListenAddress("127.0.0.1", free_port(), "PACSFLOW"),
            [("1.2.840.10008.5.1.4.1.1.2", "2.25.1")],
            timeout=5,
        )


@contextmanager
def silent_commitment_scp(
    accept_commitment: bool = True, status: int = 0x0000
) -> Iterator[tuple[int, list[str]]]:
    """A pynetdicom SCP that answers C-FIND with nothing and N-ACTION with
    ``status``, and never sends a report. Yields its port and the Transaction UIDs
    it was asked about."""
    ae = AE(ae_title="SILENT")
    ae.add_supported_context(STUDY_ROOT_FIND)
    if accept_commitment:
        ae.add_supported_context(STORAGE_COMMITMENT)
    asked: list[str] = []

    def on_action(event: evt.Event) -> tuple[int, None]:
        asked.append(str(event.action_information.TransactionUID))
        return status, None

    def on_find(event: evt.Event) -> Iterator[tuple[int, None]]:
        yield 0x0000, None

    port = free_port()
    server = ae.start_server(
        ("127.0.0.1", port),
        block=False,
        evt_handlers=[(evt.EVT_N_ACTION, on_action), (evt.EVT_C_FIND, on_find)],
    )
    try:
        yield port, asked
    finally:
        server.shutdown()


def run_into_receiver(archive: Path, tmp_path: Path) -> None:
    """Migrate the sample into a local storage SCP that is gone afterwards."""
    port = free_port()
    with Receiver(tmp_path / "received", port):
        network = write_network(archive, port=port, listen=free_port())
        assert main(["-q", "run", str(network)]) == 0


@pytest.mark.network
def test_no_report_before_the_timeout_leaves_commitment_unknown(
    archive: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    run_into_receiver(archive, tmp_path)
    with silent_commitment_scp() as (port, asked):
        network = write_network(
            archive, port=port, ae_title="SILENT", listen=free_port(), timeout=0.5
        )
        with caplog.at_level(logging.WARNING, logger="pacsflow"):
            code, summary = verify(network, capsys)

    assert code == 1  # the silent peer holds nothing: every instance is missing
    sent = commitments(archive)
    assert len(asked) == 1
    assert summary["commitment"]["newpacs"] == {
        "committed": 0,
        "failed": 0,
        "unanswered": len(sent),
        "error": None,
    }
    assert set(sent.values()) == {(None, None)}
    assert ledger(
        archive, "SELECT count(*) FROM instances WHERE verification = 'missing'"
    ) == [(len(sent),)]
    (warning,) = [r.getMessage() for r in caplog.records if "no storage" in r.message]
    assert "SILENT@127.0.0.1" in warning
    assert "sent no storage commitment report for 1 of 1 requests within 0.5 s" in (
        warning
    )
    assert "AE title 'PACSFLOW_SC'" in warning


@pytest.mark.network
def test_peer_refusing_the_context_is_a_clear_error(
    archive: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    run_into_receiver(archive, tmp_path)
    with silent_commitment_scp(accept_commitment=False) as (port, asked):
        network = write_network(
            archive, port=port, ae_title="SILENT", listen=free_port()
        )
        _, summary = verify(network, capsys)

    assert asked == []
    error = summary["commitment"]["newpacs"]["error"]
    assert "does not accept the Storage Commitment Push Model" in error
    assert "remove storage_commitment" in error
    assert any(error in r.getMessage() for r in caplog.records)
    assert set(commitments(archive).values()) == {(None, None)}
    # the C-FIND results are recorded all the same
    assert ledger(
        archive,
        "SELECT count(*) FROM instances WHERE verification "
        "IS NOT NULL AND destination = 'newpacs'",
    ) != [(0,)]


@pytest.mark.network
def test_failed_request_is_a_clear_error(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_into_receiver(archive, tmp_path)
    with silent_commitment_scp(status=0x0110) as (port, asked):
        network = write_network(
            archive, port=port, ae_title="SILENT", listen=free_port()
        )
        _, summary = verify(network, capsys)

    assert len(asked) == 1
    error = summary["commitment"]["newpacs"]["error"]
    assert "answered the storage commitment request with 0x0110" in error
    assert "'PACSFLOW_SC'" in error
    assert set(commitments(archive).values()) == {(None, None)}


@pytest.mark.network
def test_port_in_use_is_a_clear_error(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_into_receiver(archive, tmp_path)
    with (
        silent_commitment_scp() as (port, asked),
        socket.create_server(("127.0.0.1", 0)) as taken,
    ):
        busy = taken.getsockname()[1]
        network = write_network(archive, port=port, ae_title="SILENT", listen=busy)
        _, summary = verify(network, capsys)

    assert asked == []
    assert summary["commitment"]["newpacs"]["error"] == (
        f"port {busy} for storage commitment reports is in use on 127.0.0.1; stop "
        "what listens there or choose another storage_commitment.port"
    )
    assert summary["missing"]["newpacs"] > 0  # C-FIND ran and was recorded
