"""DICOM over TLS: a migration into a TLS storage SCP, and the certificates checked.

The certificates (a CA, the receiver's for 127.0.0.1, pacsflow's certificate, and a
stranger CA) are made by the test with the openssl command (:mod:`tests.tlscerts`);
the receiver is a pynetdicom storage SCP on a free loopback port that serves TLS 1.2+
and asks for pacsflow's certificate.
"""

from __future__ import annotations

import shutil
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt

from pacsflow.cli import main
from pacsflow.sample import generate_sample
from tests.peers import free_port
from tests.reconcile.test_run import outcomes
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
      tls: {tls}
"""
)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_certificates(tmp_path_factory.mktemp("certificates"))


class TlsReceiver:
    """A storage SCP serving TLS that counts what it stores."""

    def __init__(self, certificates: Path) -> None:
        self.port = free_port()
        self.stored: list[str] = []
        self._lock = threading.Lock()
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
        self._server = ae.start_server(
            ("127.0.0.1", self.port),
            block=False,
            ssl_context=context,
            evt_handlers=[(evt.EVT_C_STORE, self._store)],
        )

    def _store(self, event: Any) -> int:
        with self._lock:
            self.stored.append(str(event.request.AffectedSOPInstanceUID))
        return 0x0000

    def stop(self) -> None:
        self._server.shutdown()


@pytest.fixture
def receiver(certificates: Path) -> Iterator[TlsReceiver]:
    running = TlsReceiver(certificates)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tls-sample")
    generate_sample(directory, studies=3, seed=81)
    return directory


def network(sample: Path, tmp_path: Path, port: int, tls: str) -> Path:
    archive = tmp_path / "archive"
    shutil.copytree(sample, archive)
    path = archive / "tls.yaml"
    path.write_text(NETWORK.format(port=port, tls=tls))
    return path


@pytest.mark.network
def test_a_migration_over_tls_arrives_whole(
    sample: Path, tmp_path: Path, certificates: Path, receiver: TlsReceiver
) -> None:
    c = certificates
    tls = f"{{ca: {c}/ca.pem, cert: {c}/pacsflow.pem, key: {c}/pacsflow.key}}"
    path = network(sample, tmp_path, receiver.port, tls)

    assert main(["-q", "run", str(path)]) == 0

    sent = {uid for uid, (outcome, _) in outcomes(path).items() if outcome == "sent"}
    assert sent
    assert set(receiver.stored) == sent


@pytest.mark.network
def test_a_certificate_from_a_stranger_ca_pauses_the_destination(
    sample: Path,
    tmp_path: Path,
    certificates: Path,
    receiver: TlsReceiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    c = certificates
    tls = f"{{ca: {c}/stranger.pem, cert: {c}/pacsflow.pem, key: {c}/pacsflow.key}}"
    path = network(sample, tmp_path, receiver.port, tls)

    assert main(["-q", "run", str(path)]) == 1

    found = {outcome for outcome, _ in outcomes(path).values()}
    assert "pending" in found
    assert "sent" not in found
    assert receiver.stored == []
    assert "the peer's TLS certificate was not accepted" in caplog.text
    assert "check tls.ca" in caplog.text


@pytest.mark.network
def test_without_a_client_certificate_nothing_is_sent(
    sample: Path,
    tmp_path: Path,
    certificates: Path,
    receiver: TlsReceiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = network(sample, tmp_path, receiver.port, f"{{ca: {certificates}/ca.pem}}")

    assert main(["-q", "run", str(path)]) == 1

    assert "sent" not in {outcome for outcome, _ in outcomes(path).values()}
    assert receiver.stored == []
    # the receiver's alert (certificate required) may or may not arrive before it
    # closes the connection; either way the destination pauses, nothing sent
    assert "destination newpacs paused" in caplog.text


def test_a_certificate_needs_its_key(tmp_path: Path, sample: Path) -> None:
    path = network(sample, tmp_path, 11112, "{cert: a.pem}")

    assert main(["validate", str(path)]) == 2
