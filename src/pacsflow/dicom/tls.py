"""DICOM over TLS (PS3.15 Annex B): the contexts pacsflow's associations use.

A destination's ``tls`` options travel to the workers as :class:`TlsFiles` (paths,
which pickle), and each process builds its :class:`ssl.SSLContext` once per set of
files. TLS 1.2 is the oldest version offered; the peer's certificate is always
verified, against ``ca`` or else the system's trust store, and its host name too
unless ``verify_hostname`` is off. A client certificate is presented when ``cert``
and ``key`` are given. pacsflow's own listening port (the storage commitment reports)
serves TLS with the same certificate and, given ``ca``, asks the peer for one.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """Where a destination's TLS trust and identity are.

    Attributes
    ----------
    ca : str, optional
        PEM file of the certificates that may sign the peer's; None for the system's.
    cert, key : str, optional
        PEM files of pacsflow's own certificate (chain) and its private key.
    verify_hostname : bool
        Whether the peer's certificate must name the host connected to.
    """

    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    verify_hostname: bool = True


@lru_cache(maxsize=16)
def client_context(files: TlsFiles) -> ssl.SSLContext:
    """The context that connects to a peer; OSError or ssl.SSLError if the files
    cannot be loaded."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=files.ca)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = files.verify_hostname
    if files.cert is not None:
        context.load_cert_chain(files.cert, files.key)
    return context


@lru_cache(maxsize=16)
def server_context(files: TlsFiles) -> ssl.SSLContext:
    """The context pacsflow's listening port serves; needs ``cert`` and ``key``."""
    if files.cert is None:
        raise ssl.SSLError("a TLS listening port needs tls.cert and tls.key")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=files.ca)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(files.cert, files.key)
    context.verify_mode = ssl.CERT_REQUIRED if files.ca else ssl.CERT_NONE
    return context


def load_failure(exc: BaseException) -> str:
    """Why the TLS files could not be used, for an operator."""
    return f"the TLS files cannot be used ({exc}); check tls.ca, tls.cert and tls.key"


def handshake_failure(exc: BaseException) -> str:
    """Why a TLS handshake failed, for an operator."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"the peer's TLS certificate was not accepted ({exc.verify_message}); "
            "check tls.ca, and that the certificate names the host (or set "
            "tls.verify_hostname: false)"
        )
    if isinstance(exc, ssl.SSLError):
        return f"the TLS handshake failed ({exc.reason or exc}); check both sides' TLS"
    if isinstance(exc, TimeoutError):
        return "no TLS handshake in time: does the peer speak TLS on this port?"
    return (
        f"the connection broke during the TLS handshake ({exc}): does the peer speak "
        "TLS on this port, and accept pacsflow's certificate?"
    )
