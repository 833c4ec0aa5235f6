"""Certificates for the TLS tests, made with the openssl command in a test's folder.

:func:`make_certificates` writes, as ``NAME.pem`` and ``NAME.key``:

``ca``, ``stranger``
    Two self-signed certificate authorities; only ``ca`` is trusted by anyone.
``receiver``
    The test PACS's certificate, signed by ``ca``, naming 127.0.0.1, good for
    serving and for connecting (no extended key usage).
``pacsflow``
    pacsflow's certificate, signed by ``ca``, naming 127.0.0.1, for client and
    server authentication: pacsflow presents it when it connects and serves it on
    its storage commitment port.
``intruder``
    Like ``pacsflow``, but signed by ``stranger``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import peer_missing

_LEAF = "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\n"
_BOTH_WAYS = _LEAF + "extendedKeyUsage=clientAuth,serverAuth\n"


def openssl(*args: str, cwd: Path) -> None:
    """Run the openssl command in ``cwd``; skip (fail under CI) if it is missing."""
    program = shutil.which("openssl")
    if program is None:
        peer_missing("the openssl command")
    subprocess.run(
        [str(program), *args], cwd=cwd, check=True, capture_output=True, timeout=60
    )


def self_signed(name: str, cwd: Path) -> None:
    """``name.key`` and ``name.pem``: a certificate authority of its own."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
            f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj",
            f"/CN=pacsflow test {name}", cwd=cwd)  # fmt: skip


def signed(name: str, ca: str, cwd: Path, extensions: str) -> None:
    """``name.key`` and ``name.pem``, signed by ``ca``."""
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
            "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=cwd)  # fmt: skip
    (cwd / f"{name}.ext").write_text(extensions)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey",
            f"{ca}.key", "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
            "-extfile", f"{name}.ext", cwd=cwd)  # fmt: skip


def make_certificates(folder: Path) -> Path:
    """Write the certificates listed in the module docstring into ``folder``."""
    for ca in ("ca", "stranger"):
        self_signed(ca, folder)
    signed("receiver", "ca", folder, _LEAF)
    signed("pacsflow", "ca", folder, _BOTH_WAYS)
    signed("intruder", "stranger", folder, _BOTH_WAYS)
    return folder
