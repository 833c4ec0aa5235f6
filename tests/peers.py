"""Real DICOM peers for tests: DCMTK's storescp and Orthanc, on free loopback ports.

Each peer is started by the test that needs it and stopped by the process id it was
started with. A peer whose program is missing is skipped on a developer's machine and
fails the test under ``CI=true`` (see :func:`tests.conftest.peer_missing`).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pynetdicom import AE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from tests.conftest import peer_missing

_START_TIMEOUT = 30.0

# DCMTK and Orthanc leave Nagle's algorithm on unless told: every image would then
# wait ~50 ms for a delayed ACK on loopback.
_PEER_ENV = {**os.environ, "TCP_NODELAY": "1"}


@dataclass(frozen=True)
class Peer:
    """A running peer: where to reach it, and its process."""

    host: str
    port: int
    ae_title: str
    process: subprocess.Popen[bytes]
    folder: Path
    http_port: int | None = None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def echo(host: str, port: int, ae_title: str) -> bool:
    """Whether a C-ECHO to the peer succeeds."""
    ae = AE(ae_title="PACSFLOW_TEST")
    ae.add_requested_context(Verification)
    ae.acse_timeout = ae.network_timeout = 5
    assoc = ae.associate(host, port, ae_title=ae_title)
    if not assoc.is_established:
        return False
    try:
        status = assoc.send_c_echo()
        return bool(status and status.Status == 0)
    finally:
        assoc.release()


def _listening(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on the port."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _wait_until_echoes(peer: Peer) -> None:
    """Wait (bounded) until the peer answers C-ECHO; fail if it died or never does."""
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if peer.process.poll() is not None:
            raise RuntimeError(f"{peer.ae_title} exited with {peer.process.returncode}")
        # pynetdicom leaks a socket when refused: knock with a plain one first
        if _listening(peer.host, peer.port) and echo(
            peer.host, peer.port, peer.ae_title
        ):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{peer.ae_title} did not answer C-ECHO in {_START_TIMEOUT} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the process we started, by its id; kill it if it lingers."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextmanager
def storescp(
    folder: Path, ae_title: str = "STORESCP", port: int | None = None
) -> Iterator[Peer]:
    """DCMTK's storescp writing what it receives into ``folder``, as received, on
    ``port`` (default a free one)."""
    program = shutil.which("storescp")
    if program is None:
        peer_missing("DCMTK's storescp")
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    process = subprocess.Popen(
        [
            str(program),
            "--aetitle",
            ae_title,
            "--output-directory",
            str(folder),
            "--accept-all",
            "--bit-preserving",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_PEER_ENV,
    )
    peer = Peer("127.0.0.1", port, ae_title, process, folder)
    try:
        _wait_until_echoes(peer)
        yield peer
    finally:
        _stop(process)


_DCMQRSCP_CONFIG = """\
NetworkTCPPort = {port}
MaxPDUSize = 65536
MaxAssociations = 16

HostTable BEGIN
HostTable END

VendorTable BEGIN
VendorTable END

AETable BEGIN
{ae_title} {storage} RW (200, 1024mb) ANY
AETable END
"""


@contextmanager
def dcmqrscp(folder: Path, ae_title: str = "DCMQRSCP") -> Iterator[Peer]:
    """DCMTK's query/retrieve SCP: stores what it receives (JPEG 2000 lossless
    included) into its own database in ``folder`` and answers C-FIND about it."""
    program = shutil.which("dcmqrscp")
    if program is None:
        peer_missing("DCMTK's dcmqrscp")
    storage = folder / "db"
    storage.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = folder / "dcmqrscp.cfg"
    config.write_text(
        _DCMQRSCP_CONFIG.format(port=port, ae_title=ae_title, storage=storage)
    )
    process = subprocess.Popen(
        [str(program), "--prefer-j2k-lossless", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_PEER_ENV,
    )
    peer = Peer("127.0.0.1", port, ae_title, process, folder)
    try:
        _wait_until_echoes(peer)
        yield peer
    finally:
        _stop(process)


_ORTHANC_MODALITIES = {"pacsflow": ("PACSFLOW", "127.0.0.1", 104)}


@contextmanager
def orthanc(
    folder: Path,
    ae_title: str = "ORTHANC",
    *,
    modalities: dict[str, tuple[str, str, int]] | None = None,
) -> Iterator[Peer]:
    """Orthanc with its own storage in ``folder``, DICOM and HTTP on free ports.

    ``modalities`` (name: AE title, host, port) replaces its ``DicomModalities``:
    the peers it knows, which it sends storage commitment reports to.
    """
    program = shutil.which("Orthanc")
    if program is None:
        peer_missing("Orthanc")
    folder.mkdir(parents=True, exist_ok=True)
    port, http_port = free_port(), free_port()
    config = {
        "Name": "pacsflow-test",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "index"),
        "DicomAet": ae_title,
        "DicomPort": port,
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomCheckCalledAet": True,
        "UnknownSopClassAccepted": True,
        "DicomAlwaysAllowFind": True,
        "DicomModalities": {
            name: list(entry)
            for name, entry in (modalities or _ORTHANC_MODALITIES).items()
        },
        "Plugins": [],
    }
    config_file = folder / "orthanc.json"
    config_file.write_text(json.dumps(config))
    process = subprocess.Popen(
        [str(program), str(config_file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_PEER_ENV,
    )
    peer = Peer("127.0.0.1", port, ae_title, process, folder, http_port)
    try:
        _wait_until_echoes(peer)
        yield peer
    finally:
        _stop(process)


def orthanc_get(peer: Peer, path: str) -> object:
    """GET a JSON resource of Orthanc's REST API."""
    url = f"http://127.0.0.1:{peer.http_port}{path}"
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def orthanc_delete_instance(peer: Peer, sop_instance_uid: str) -> None:
    """Delete one instance from Orthanc through its REST API, by SOP Instance UID."""
    base = f"http://127.0.0.1:{peer.http_port}"
    lookup = urllib.request.Request(
        f"{base}/tools/lookup", data=sop_instance_uid.encode(), method="POST"
    )
    with urllib.request.urlopen(lookup, timeout=10) as response:
        found = json.loads(response.read())
    (orthanc_id,) = [f["ID"] for f in found if f["Type"] == "Instance"]
    delete = urllib.request.Request(f"{base}/instances/{orthanc_id}", method="DELETE")
    with urllib.request.urlopen(delete, timeout=10):
        pass
