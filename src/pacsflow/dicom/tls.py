"""DICOM over TLS (PS3.15 Annex B): the contexts pacsflow's associations use.

A destination's ``tls`` options travel to the workers as :class:`TlsFiles` (paths,
which pickle), and each process builds its :class:`ssl.SSLContext` once per set of
files. TLS 1.2 is the oldest version offered; the peer's certificate is always
verified, against ``ca`` or else the system's trust store, and its host name too
unless ``verify_hostname`` is off. A client certificate is presented when ``cert``
and ``key`` are given.

pacsflow's own listening port (the storage commitment reports) serves TLS with the
same certificate (:func:`server_context`). Given ``ca``, it requires of every
connection a client certificate signed by one of ``ca``'s certificates: only the
destination should be able to report. Without ``ca`` it asks for none (a
certificate any public CA signed would prove nothing), and a report is still only
taken for a transaction pacsflow asked about, under a Transaction UID nobody could
have guessed. :func:`start_tls_server` serves it, each TLS handshake in the
connection's own thread with a time limit, and tells who failed one, and why
(:func:`refusal`).
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from pynetdicom import AE
from pynetdicom.transport import ThreadedAssociationServer

HANDSHAKE_TIMEOUT = 30.0
"""Seconds a connection to pacsflow's listening port has to complete its handshake."""

_NOT_TLS = {"WRONG_VERSION_NUMBER", "HTTP_REQUEST", "UNKNOWN_PROTOCOL"}
_TOO_OLD = {"UNSUPPORTED_PROTOCOL", "VERSION_TOO_LOW", "NO_PROTOCOLS_AVAILABLE"}
_REFUSED_OURS = ("UNKNOWN_CA", "BAD_CERTIFICATE", "CERTIFICATE_", "ACCESS_DENIED")


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
    """The context pacsflow's listening port serves.

    Raises
    ------
    ValueError
        ``cert`` and ``key`` are not given: a listening port must show a certificate.
    OSError
        The files cannot be loaded (ssl.SSLError included).
    """
    if files.cert is None:
        raise ValueError(
            "storage commitment over TLS needs pacsflow's own certificate, which "
            "its listening port shows the destination: give tls.cert and tls.key"
        )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=files.ca)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(files.cert, files.key)
    context.verify_mode = ssl.CERT_REQUIRED if files.ca else ssl.CERT_NONE
    return context


Refused = Callable[[str, str], None]
"""Told of a connection that failed its TLS handshake: (``host:port``, why)."""


class TlsAssociationServer(ThreadedAssociationServer):
    """pynetdicom's threaded association server, handshaking in each connection's
    thread.

    pynetdicom's own server handshakes in its accepting thread, with no time limit,
    and drops a failed connection without a word: one silent connection would stop
    every other. Here each connection gets :data:`HANDSHAKE_TIMEOUT` seconds in its
    own thread, and ``on_refused`` hears of each that fails.

    Parameters
    ----------
    *args, **kwargs
        What :class:`pynetdicom.transport.ThreadedAssociationServer` takes, with no
        ``ssl_context``: the server accepts plain connections and secures them here.
    tls_context : ssl.SSLContext
        The context to serve, from :func:`server_context`.
    on_refused : callable
        Told ``(host:port, why)`` of each connection that failed its handshake.
    """

    # a connection still handshaking must not keep pacsflow from exiting
    daemon_threads = True

    def __init__(
        self,
        *args: Any,
        tls_context: ssl.SSLContext,
        on_refused: Refused,
        **kwargs: Any,
    ) -> None:
        self.tls_context = tls_context
        self._on_refused = on_refused
        super().__init__(*args, **kwargs)

    def process_request_thread(
        self,
        request: socket.socket | tuple[bytes, socket.socket],
        client_address: tuple[str, int] | str,
    ) -> None:
        """Handshake, then serve the association; on failure say why and close."""
        plain = cast(socket.socket, request)
        try:
            plain.settimeout(HANDSHAKE_TIMEOUT)
            secured = self.tls_context.wrap_socket(plain, server_side=True)
            secured.settimeout(None)
        except OSError as exc:  # ssl.SSLError and TimeoutError included
            plain.close()
            self._on_refused(_where(client_address), refusal(exc))
            return
        super().process_request_thread(secured, client_address)


def start_tls_server(
    ae: AE,
    address: tuple[str, int],
    context: ssl.SSLContext,
    evt_handlers: list[Any],
    on_refused: Refused,
) -> TlsAssociationServer:
    """Serve ``ae``'s supported contexts over TLS in a thread, as
    ``AE.start_server(block=False)`` does; OSError if it cannot listen."""
    server = ae.make_server(
        address,
        evt_handlers=evt_handlers,
        server_class=TlsAssociationServer,
        tls_context=context,
        on_refused=on_refused,
    )
    thread = threading.Thread(
        target=server.serve_forever, name="pacsflow-tls-listener", daemon=True
    )
    thread.start()
    # the AE lists its servers, and server.shutdown() takes this one off the list
    ae._servers.append(server)
    return cast(TlsAssociationServer, server)


def refusal(exc: BaseException) -> str:
    """Why a connection to pacsflow's listening port failed its handshake, and
    what the peer must do."""
    reason = str(getattr(exc, "reason", None) or "")
    said = reason.lower().replace("_", " ")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"its certificate was not accepted ({exc.verify_message}): it must be "
            "signed by a certificate in tls.ca"
        )
    if reason == "PEER_DID_NOT_RETURN_A_CERTIFICATE":
        return (
            "it presented no certificate: the listener requires one signed by a "
            "certificate in tls.ca"
        )
    if reason in _NOT_TLS or reason in _TOO_OLD:
        return (
            f"it did not speak TLS 1.2 or newer ({said}): with tls set, the "
            "destination must send its reports over TLS"
        )
    if "ALERT" in reason and any(part in reason for part in _REFUSED_OURS):
        return (
            f"it refused pacsflow's certificate ({said}): the destination must trust "
            "the CA that signed tls.cert, and tls.cert must name this machine and "
            "allow server authentication"
        )
    if isinstance(exc, TimeoutError):
        return f"it sent no TLS handshake within {HANDSHAKE_TIMEOUT:g} s"
    if isinstance(exc, ssl.SSLError):
        return f"the TLS handshake failed ({said or exc})"
    return f"the connection broke during the TLS handshake ({exc})"


def _where(client_address: tuple[str, int] | str) -> str:
    """A client address as ``host:port``."""
    if isinstance(client_address, tuple):
        return f"{client_address[0]}:{client_address[1]}"
    return client_address


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
