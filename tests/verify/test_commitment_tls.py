"""Storage commitment over TLS: pacsflow's report listener serves TLS too.

The destination has ``tls:`` and ``storage_commitment:``. The test PACS is a
pynetdicom peer that serves TLS 1.2+ and requires a client certificate signed by the
test CA; it stores, answers C-FIND and the N-ACTION, then sends its N-EVENT-REPORT on
a new association to pacsflow's listener, verifying the listener's certificate
against the test CA and presenting its own. The negative cases report over plain
TCP, with a certificate from a stranger CA, with no certificate, or distrusting
pacsflow's: the listener refuses them, nothing is committed, and the warning says
why. A connection that never starts its handshake holds up no other. The
certificates are made by the test (:mod:`tests.tlscerts`).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import socket
import sqlite3
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset
from pynetdicom import (
    AE,
    ALL_TRANSFER_SYNTAXES,
    AllStoragePresentationContexts,
    build_role,
    evt,
)
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    StorageCommitmentPushModel,
    StudyRootQueryRetrieveInformationModelFind,
)

from pacsflow.cli import main
from pacsflow.dicom.commitment import ListenAddress, ReportListener, Reports
from pacsflow.dicom.errors import CommitmentError
from pacsflow.dicom.tls import TlsFiles, refusal, server_context
from pacsflow.sample import generate_sample
from tests.peers import free_port
from tests.samplenet import SAMPLE_SOURCES
from tests.tlscerts import make_certificates

NETWORK = (
    SAMPLE_SOURCES
    + """\
routes:
  - name: everything
    to: newpacs
destinations:
  newpacs:
    dicom:
      host: 127.0.0.1
      port: {port}
      ae_title: TLSPACS
      calling_ae_title: PACSFLOW_SC
      tls: {{ca: {certs}/ca.pem, cert: {certs}/pacsflow.pem, key: {certs}/pacsflow.key}}
      storage_commitment:
        port: {listen}
        bind: 127.0.0.1
        timeout: {timeout}
"""
)

STORAGE_COMMITMENT_INSTANCE = "1.2.840.10008.1.20.1.1"
PEER_TIMEOUT = 5


def client_context(
    certificates: Path, trust: str, identity: str | None
) -> ssl.SSLContext:
    """How the PACS connects to pacsflow: trusting ``trust``, presenting
    ``identity`` (None: no certificate)."""
    context = ssl.create_default_context(cafile=certificates / f"{trust}.pem")
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if identity is not None:
        context.load_cert_chain(
            certificates / f"{identity}.pem", certificates / f"{identity}.key"
        )
    return context


class TlsPacs:
    """A PACS on TLS that stores, finds, commits and reports on a new association.

    ``report_context`` is how it reaches pacsflow's listener: an ssl.SSLContext, or
    None for plain TCP. ``silent_first`` opens a connection to the listener that
    sends nothing before each report. ``attempts`` says how each report went.
    """

    def __init__(
        self,
        certificates: Path,
        listen: int,
        report_context: ssl.SSLContext | None,
        silent_first: bool = False,
    ) -> None:
        self.port = free_port()
        self.listen = listen
        self.report_context = report_context
        self.silent_first = silent_first
        self.series: dict[str, set[str]] = {}
        self.asked: list[str] = []
        self.attempts: list[str] = []
        self._lock = threading.Lock()
        self._reporters: list[threading.Thread] = []
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(
            certificates / "receiver.pem", certificates / "receiver.key"
        )
        context.load_verify_locations(certificates / "ca.pem")
        context.verify_mode = ssl.CERT_REQUIRED
        ae = AE(ae_title="TLSPACS")
        for presentation in AllStoragePresentationContexts:
            ae.add_supported_context(
                presentation.abstract_syntax, ALL_TRANSFER_SYNTAXES
            )
        ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
        ae.add_supported_context(StorageCommitmentPushModel)
        self._server = ae.start_server(
            ("127.0.0.1", self.port),
            block=False,
            ssl_context=context,
            evt_handlers=[
                (evt.EVT_C_STORE, self._store),
                (evt.EVT_C_FIND, self._find),
                (evt.EVT_N_ACTION, self._action),
            ],
        )

    def stop(self) -> None:
        """Stop serving; wait (bounded) for the reports under way."""
        self._server.shutdown()
        for reporter in self._reporters:
            reporter.join(timeout=4 * PEER_TIMEOUT)

    def _store(self, event: Any) -> int:
        ds = event.dataset
        with self._lock:
            held = self.series.setdefault(str(ds.SeriesInstanceUID), set())
            held.add(str(ds.SOPInstanceUID))
        return 0x0000

    def _find(self, event: Any) -> Iterator[tuple[int, Dataset | None]]:
        series = str(event.identifier.SeriesInstanceUID)
        with self._lock:
            held = sorted(self.series.get(series, ()))
        for uid in held:
            match = Dataset()
            match.QueryRetrieveLevel = "IMAGE"
            match.SeriesInstanceUID = series
            match.SOPInstanceUID = uid
            yield 0xFF00, match
        yield 0x0000, None

    def _action(self, event: Any) -> tuple[int, None]:
        information = event.action_information
        transaction = str(information.TransactionUID)
        # the report names each instance as the request did
        items = list(information.ReferencedSOPSequence)
        with self._lock:
            self.asked.append(transaction)
        # the report goes on a new association, after this N-ACTION-RSP
        reporter = threading.Thread(target=self._report, args=(transaction, items))
        self._reporters.append(reporter)
        reporter.start()
        return 0x0000, None

    def _report(self, transaction: str, items: list[Dataset]) -> None:
        if not self.silent_first:
            attempt = self._send_report(transaction, items)
        else:
            # a connection that never says a word stays open while the report goes
            with socket.create_connection(("127.0.0.1", self.listen), PEER_TIMEOUT):
                attempt = self._send_report(transaction, items)
        with self._lock:
            self.attempts.append(attempt)

    def _send_report(self, transaction: str, items: list[Dataset]) -> str:
        ae = AE(ae_title="TLSPACS")
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = PEER_TIMEOUT
        ae.connection_timeout = PEER_TIMEOUT
        ae.add_requested_context(StorageCommitmentPushModel)
        role = build_role(StorageCommitmentPushModel, scp_role=True)
        tls_args = None
        if self.report_context is not None:
            tls_args = (self.report_context, "127.0.0.1")
        # pynetdicom drops a socket unclosed when shutting it down fails (the
        # listener reset the connection): close each one here
        opened: list[socket.socket] = []

        def on_open(event: Any) -> None:
            opened.append(event.assoc.dul.socket.socket)

        try:
            assoc = ae.associate(
                "127.0.0.1",
                self.listen,
                ae_title="PACSFLOW_SC",
                ext_neg=[role],
                tls_args=tls_args,
                evt_handlers=[(evt.EVT_CONN_OPEN, on_open)],
            )
            if not assoc.is_established:
                return "no association"
            status, _ = assoc.send_n_event_report(
                _report(transaction, items),
                1,
                StorageCommitmentPushModel,
                STORAGE_COMMITMENT_INSTANCE,
            )
            assoc.release()
            return f"0x{status.Status:04X}" if status else "no answer"
        finally:
            for connection in opened:
                connection.close()


def _report(transaction: str, items: list[Dataset]) -> Dataset:
    """The Event Information of a report that commits every instance asked."""
    report = Dataset()
    report.TransactionUID = transaction
    report.ReferencedSOPSequence = items
    return report


# --- fixtures and helpers ------------------------------------------------------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_certificates(tmp_path_factory.mktemp("certificates"))


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("commitment-tls-sample")
    generate_sample(directory, studies=3, seed=83)
    return directory


@contextmanager
def tls_pacs(
    certificates: Path,
    report_context: ssl.SSLContext | None,
    silent_first: bool = False,
) -> Iterator[TlsPacs]:
    """A running :class:`TlsPacs` reporting to a free port, stopped afterwards."""
    pacs = TlsPacs(certificates, free_port(), report_context, silent_first)
    try:
        yield pacs
    finally:
        pacs.stop()


def migrate(
    sample: Path, tmp_path: Path, certificates: Path, pacs: TlsPacs, timeout: float
) -> Path:
    """Copy the sample, migrate it into ``pacs``; the network file."""
    archive = tmp_path / "archive"
    shutil.copytree(sample, archive)
    network = archive / "commit-tls.yaml"
    network.write_text(
        NETWORK.format(
            port=pacs.port, certs=certificates, listen=pacs.listen, timeout=timeout
        )
    )
    assert main(["-q", "run", str(network)]) == 0
    return network


def verify(network: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    """``pacsflow verify --json``: exit status and summary."""
    capsys.readouterr()
    code = main(["-q", "verify", str(network), "--json"])
    return code, json.loads(capsys.readouterr().out)


def commitments(network: Path) -> dict[str, tuple[str | None, str | None]]:
    """SOP Instance UID → (commitment, detail) of every instance sent."""
    with sqlite3.connect(network.parent / "ledger.db") as connection:
        rows = connection.execute(
            "SELECT sop_instance_uid, commitment, commitment_detail FROM instances "
            "WHERE outcome = 'sent'"
        ).fetchall()
    return {uid: (commitment, detail) for uid, commitment, detail in rows}


# --- what the listener serves ----------------------------------------------------


def test_the_listener_asks_for_a_certificate_signed_by_tls_ca(
    certificates: Path,
) -> None:
    cert, key = str(certificates / "pacsflow.pem"), str(certificates / "pacsflow.key")
    with_ca = server_context(TlsFiles(str(certificates / "ca.pem"), cert, key))
    without_ca = server_context(TlsFiles(None, cert, key))

    assert with_ca.minimum_version == ssl.TLSVersion.TLSv1_2
    assert with_ca.verify_mode == ssl.CERT_REQUIRED
    assert without_ca.minimum_version == ssl.TLSVersion.TLSv1_2
    assert without_ca.verify_mode == ssl.CERT_NONE


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            TlsFiles(ca="/etc/ssl/ca.pem"),
            r"storage commitment over TLS needs pacsflow's own certificate, which "
            r"its listening port shows the destination: give tls\.cert and tls\.key",
        ),
        (
            TlsFiles(cert="/nowhere/pacsflow.pem", key="/nowhere/pacsflow.key"),
            r"the TLS files cannot be used \(.*No such file.*\); check tls\.ca, "
            r"tls\.cert and tls\.key",
        ),
    ],
    ids=["no-certificate", "missing-files"],
)
def test_a_listener_without_usable_tls_files_is_a_clear_error(
    files: TlsFiles, message: str
) -> None:
    address = ListenAddress("127.0.0.1", free_port(), "PACSFLOW_SC", tls=files)

    with pytest.raises(CommitmentError, match=message):
        ReportListener(address, Reports()).start()


# --- against the TLS PACS ----------------------------------------------------------


@pytest.mark.network
@pytest.mark.parametrize("silent_first", [False, True], ids=["alone", "after-silence"])
def test_reports_over_tls_commit_every_instance(
    sample: Path,
    tmp_path: Path,
    certificates: Path,
    capsys: pytest.CaptureFixture[str],
    silent_first: bool,
) -> None:
    trusted = client_context(certificates, trust="ca", identity="receiver")
    with tls_pacs(certificates, trusted, silent_first) as pacs:
        network = migrate(sample, tmp_path, certificates, pacs, timeout=30)
        code, summary = verify(network, capsys)

    sent = commitments(network)
    assert sent
    assert pacs.asked
    assert code == 0
    assert summary["missing"]["newpacs"] == 0
    assert summary["commitment"]["newpacs"] == {
        "committed": len(sent),
        "failed": 0,
        "unanswered": 0,
        "error": None,
    }
    assert set(sent.values()) == {("committed", None)}
    assert pacs.attempts == ["0x0000"] * len(pacs.asked)


REFUSED = [
    pytest.param(
        None,
        None,
        r"it did not speak TLS 1\.2 or newer \(.+\): with tls set, the destination "
        r"must send its reports over TLS",
        id="plain-tcp",
    ),
    pytest.param(
        "ca",
        "intruder",
        r"its certificate was not accepted \(unable to get local issuer "
        r"certificate\): it must be signed by a certificate in tls\.ca",
        id="stranger-ca",
    ),
    pytest.param(
        "ca",
        None,
        r"it presented no certificate: the listener requires one signed by a "
        r"certificate in tls\.ca",
        id="no-certificate",
    ),
    pytest.param(
        "stranger",
        "receiver",
        r"it refused pacsflow's certificate \(.*unknown ca\): the destination must "
        r"trust the CA that signed tls\.cert",
        id="distrusting",
    ),
]


@pytest.mark.network
@pytest.mark.parametrize(("trust", "identity", "why"), REFUSED)
def test_reports_the_listener_cannot_trust_are_refused(
    sample: Path,
    tmp_path: Path,
    certificates: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    trust: str | None,
    identity: str | None,
    why: str,
) -> None:
    report_context = None
    if trust is not None:
        report_context = client_context(certificates, trust, identity)
    with tls_pacs(certificates, report_context) as pacs:
        network = migrate(sample, tmp_path, certificates, pacs, timeout=3)
        with caplog.at_level(logging.WARNING, logger="pacsflow"):
            code, summary = verify(network, capsys)

    sent = commitments(network)
    assert code == 1
    assert summary["missing"]["newpacs"] == 0
    assert summary["commitment"]["newpacs"] == {
        "committed": 0,
        "failed": 0,
        "unanswered": len(sent),
        "error": None,
    }
    assert set(sent.values()) == {(None, None)}
    assert pacs.asked
    assert pacs.attempts == ["no association"] * len(pacs.asked)
    (warning,) = [r.getMessage() for r in caplog.records if "no storage" in r.message]
    assert re.search(
        r"; 1 connection\(s\) to the listener failed the TLS handshake, the first "
        r"from 127\.0\.0\.1:\d+: " + why,
        warning,
    ), warning


@pytest.mark.parametrize(
    ("exc", "why"),
    [
        (TimeoutError("timed out"), "it sent no TLS handshake within 30 s"),
        (
            ConnectionResetError(104, "Connection reset by peer"),
            "the connection broke during the TLS handshake ([Errno 104] Connection "
            "reset by peer)",
        ),
    ],
    ids=["silent", "reset"],
)
def test_other_handshake_failures_are_named(exc: OSError, why: str) -> None:
    assert refusal(exc) == why
