"""The socket loop of an association: whole PDUs in, PDUs and P-DATA fragments out.

One blocking socket, no threads. A PDU is read as its 6-byte header (type, reserved,
big-endian length, PS3.8 §9.3.1) followed by exactly ``length`` bytes, received with
``recv_into`` into a buffer of that size, and decoded by pynetdicom's PDU classes.
Waits are bounded by a deadline: the socket timeout is set to the time left before
each read.

A data set goes out as P-DATA-TF PDUs of one PDV each (PS3.8 §9.3.5 and Annex E): a
12-byte header packed here, then a slice of the caller's buffer, so the data set is
never copied; the buffers of a whole message are handed to ``sendmsg`` in batches.

Failures surface as :class:`LinkError`, which the association maps to the public
error for the phase it was in.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import struct
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeAlias

from pynetdicom.dimse_messages import DIMSEMessage
from pynetdicom.pdu import (
    A_ABORT_RQ,
    A_ASSOCIATE_AC,
    A_ASSOCIATE_RJ,
    A_ASSOCIATE_RQ,
    A_RELEASE_RP,
    A_RELEASE_RQ,
    P_DATA_TF,
)

log = logging.getLogger(__name__)

Pdu: TypeAlias = (
    A_ASSOCIATE_RQ
    | A_ASSOCIATE_AC
    | A_ASSOCIATE_RJ
    | P_DATA_TF
    | A_RELEASE_RQ
    | A_RELEASE_RP
    | A_ABORT_RQ
)
Buffer: TypeAlias = bytes | memoryview

_PDU_CLASSES: dict[int, type[Pdu]] = {
    0x01: A_ASSOCIATE_RQ,
    0x02: A_ASSOCIATE_AC,
    0x03: A_ASSOCIATE_RJ,
    0x04: P_DATA_TF,
    0x05: A_RELEASE_RQ,
    0x06: A_RELEASE_RP,
    0x07: A_ABORT_RQ,
}
PDU_NAMES = {
    0x01: "A-ASSOCIATE-RQ",
    0x02: "A-ASSOCIATE-AC",
    0x03: "A-ASSOCIATE-RJ",
    0x04: "P-DATA-TF",
    0x05: "A-RELEASE-RQ",
    0x06: "A-RELEASE-RP",
    0x07: "A-ABORT",
}

_PDU_HEADER = struct.Struct(">BxL")
# P-DATA-TF header, then one PDV: item length, context ID, message control header.
_DATA_HEADER = struct.Struct(">BxLLBB")
_DATA_FRAGMENT = 0x00
_LAST_DATA_FRAGMENT = 0x02
_PDV_OVERHEAD = 6  # item length (4), context ID (1), message control header (1)
_UNLIMITED_FRAGMENT = 1 << 20  # data bytes per PDU when the peer sets no maximum
_BATCH = 512  # buffers per sendmsg call, well under IOV_MAX (1024 on Linux)
_UNLIMITED_RECEIVE = 64 << 20
_RECEIVE_SLACK = 64 << 10  # room for an A-ASSOCIATE-AC larger than our max PDU
_ABORT_TIMEOUT = 1.0  # at most this long to send A-ABORT, and as long for the close
_DRAIN_CHUNK = 65536


class LinkError(Exception):
    """The socket failed, timed out or carried something unexpected.

    The argument completes "the peer ...": e.g. "did not answer within 60 s".
    ``peer_closed`` tells whether the peer already ended the association.
    """

    def __init__(self, reason: str, *, peer_closed: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.peer_closed = peer_closed


@dataclass(frozen=True)
class Wait:
    """A bounded wait: how long it is, and the monotonic time it ends."""

    seconds: float
    end: float

    @classmethod
    def of(cls, seconds: float) -> Wait:
        """A wait of ``seconds`` starting now."""
        return cls(seconds, time.monotonic() + seconds)

    def left(self) -> float:
        """Seconds left; zero or less once the wait is over."""
        return self.end - time.monotonic()


class Link:
    """A connected socket carrying one association's PDUs.

    Parameters
    ----------
    sock : socket.socket
        A connected TCP socket; the link owns it from now on.
    max_pdu : int
        The largest PDU we announced we accept (0 for unlimited); longer PDUs are
        refused.
    """

    def __init__(self, sock: socket.socket, max_pdu: int) -> None:
        self._sock: socket.socket | None = sock
        self._header = bytearray(_PDU_HEADER.size)
        self._limit = max_pdu + _RECEIVE_SLACK if max_pdu else _UNLIMITED_RECEIVE
        self._timeout: float | None = None

    @property
    def is_open(self) -> bool:
        """Whether the socket is still open."""
        return self._sock is not None

    def receive(self, timeout: float | Wait) -> Pdu:
        """Read and decode the next PDU, waiting at most ``timeout`` seconds."""
        wait = timeout if isinstance(timeout, Wait) else Wait.of(timeout)
        self._fill(memoryview(self._header), wait)
        pdu_type, length = _PDU_HEADER.unpack(self._header)
        if pdu_type not in _PDU_CLASSES:
            raise LinkError(f"sent a PDU of unknown type 0x{pdu_type:02X}")
        if length > self._limit:
            raise LinkError(
                f"sent a {PDU_NAMES[pdu_type]} PDU of {length} bytes, over our limit "
                f"of {self._limit} bytes"
            )

        raw = bytearray(_PDU_HEADER.size + length)
        raw[: _PDU_HEADER.size] = self._header
        self._fill(memoryview(raw)[_PDU_HEADER.size :], wait)
        return _decode(pdu_type, bytes(raw))

    def receive_message(self, timeout: float) -> DIMSEMessage:
        """Read P-DATA-TF PDUs until a whole DIMSE message has arrived.

        Raises LinkError for an A-ABORT, an A-RELEASE-RQ or any other PDU, and when
        the message is not complete within ``timeout`` seconds.
        """
        wait = Wait.of(timeout)
        message = DIMSEMessage()
        while True:
            pdu = self.receive(wait)
            if not isinstance(pdu, P_DATA_TF):
                raise unexpected(pdu)
            try:
                if message.decode_msg(pdu.to_primitive()):
                    return message
            except Exception as exc:
                reason = f"sent a DIMSE message that cannot be decoded ({exc!r})"
                raise LinkError(reason) from exc

    def send(self, data: Buffer, timeout: float) -> None:
        """Send bytes, each send call waiting at most ``timeout`` seconds."""
        self.send_buffers([data], timeout)

    def send_message(
        self,
        command: Iterable[bytes],
        context_id: int,
        dataset: memoryview | None,
        max_pdu: int,
        timeout: float,
    ) -> None:
        """Send a DIMSE message: its encoded command PDUs, then its data set.

        ``dataset`` is cut into P-DATA-TF PDUs no longer than ``max_pdu`` (the
        peer's Maximum Length Received, which counts the PDV items; 0 for no
        limit); the last carries the "last fragment" bit.
        """
        buffers: Iterator[Buffer] = iter(command)
        if dataset is not None:
            buffers = _chain(buffers, _fragments(context_id, dataset, max_pdu))
        self.send_buffers(buffers, timeout)

    def send_buffers(self, buffers: Iterable[Buffer], timeout: float) -> None:
        """Send every buffer in order, in batches of one ``sendmsg`` call each."""
        sock = self._socket()
        self._set_timeout(sock, timeout)
        batch: list[Buffer] = []
        try:
            for buffer in buffers:
                batch.append(buffer)
                if len(batch) == _BATCH:
                    _send_batch(sock, batch)
                    batch = []
            if batch:
                _send_batch(sock, batch)
        except TimeoutError as exc:
            raise LinkError(f"took none of our data for {timeout:g} s") from exc
        except OSError as exc:
            reason = f"broke the connection ({exc})"
            raise LinkError(reason, peer_closed=True) from exc

    def abort(self) -> None:
        """Send A-ABORT (DUL service-user, no reason) if possible, and close."""
        sock = self._sock
        if sock is None:
            return
        pdu = A_ABORT_RQ()
        pdu.source = 0x00
        pdu.reason_diagnostic = 0x00
        try:
            sock.settimeout(_ABORT_TIMEOUT)
            sock.sendall(pdu.encode())
        except OSError as exc:
            log.debug("could not send A-ABORT: %s", exc)
        else:
            self._await_close(sock)
        self.close()

    def close(self) -> None:
        """Close the socket; safe to call more than once."""
        sock, self._sock = self._sock, None
        if sock is None:
            return
        with contextlib.suppress(OSError):  # the peer may have closed first
            sock.shutdown(socket.SHUT_RDWR)
        try:
            sock.close()
        except OSError as exc:
            log.debug("closing the socket failed: %s", exc)

    def _await_close(self, sock: socket.socket) -> None:
        """After our A-ABORT, give the peer a moment to close its side first.

        Closing with the peer's data unread would reset the connection, and a
        peer that meets the reset while tidying up may never close its socket.
        """
        wait = Wait.of(_ABORT_TIMEOUT)
        try:
            sock.shutdown(socket.SHUT_WR)
            while (left := wait.left()) > 0:
                sock.settimeout(left)
                if not sock.recv(_DRAIN_CHUNK):
                    return
        except OSError as exc:
            log.debug("the peer did not close after A-ABORT: %s", exc)

    def _fill(self, view: memoryview, wait: Wait) -> None:
        """Receive exactly ``len(view)`` bytes into ``view`` before the wait ends."""
        sock = self._socket()
        while view:
            left = wait.left()
            if left <= 0:
                raise LinkError(f"did not answer within {wait.seconds:g} s")
            self._set_timeout(sock, left)
            try:
                count = sock.recv_into(view)
            except TimeoutError as exc:
                raise LinkError(f"did not answer within {wait.seconds:g} s") from exc
            except OSError as exc:
                reason = f"broke the connection ({exc})"
                raise LinkError(reason, peer_closed=True) from exc
            if count == 0:
                raise LinkError("closed the connection", peer_closed=True)
            view = view[count:]

    def _set_timeout(self, sock: socket.socket, timeout: float) -> None:
        """Set the socket timeout if it changed (each change is a system call)."""
        if timeout != self._timeout:
            sock.settimeout(timeout)
            self._timeout = timeout

    def _socket(self) -> socket.socket:
        """The open socket; LinkError if the link was closed."""
        if self._sock is None:
            raise LinkError("is no longer connected", peer_closed=True)
        return self._sock


def unexpected(pdu: Pdu) -> LinkError:
    """The LinkError for a PDU that has no place at this point of the protocol."""
    if isinstance(pdu, A_ABORT_RQ):
        return LinkError(
            f"aborted the association (A-ABORT source {pdu.source}, "
            f"reason {pdu.reason_diagnostic})",
            peer_closed=True,
        )
    return LinkError(f"sent an unexpected {PDU_NAMES[pdu.pdu_type]} PDU")


def _decode(pdu_type: int, raw: bytes) -> Pdu:
    """Decode a whole PDU with pynetdicom's class for its type."""
    pdu = _PDU_CLASSES[pdu_type]()
    try:
        pdu.decode(raw)
    except Exception as exc:
        name = PDU_NAMES[pdu_type]
        raise LinkError(f"sent a malformed {name} PDU ({exc!r})") from exc
    return pdu


def _fragments(context_id: int, dataset: memoryview, max_pdu: int) -> Iterator[Buffer]:
    """Yield header and slice of each P-DATA-TF PDU carrying ``dataset``."""
    size = max_pdu - _PDV_OVERHEAD if max_pdu else _UNLIMITED_FRAGMENT
    total = len(dataset)
    for start in range(0, total, size):
        chunk = dataset[start : start + size]
        last = start + size >= total
        control = _LAST_DATA_FRAGMENT if last else _DATA_FRAGMENT
        length = len(chunk)
        yield _DATA_HEADER.pack(0x04, length + 6, length + 2, context_id, control)
        yield chunk


def _chain(first: Iterator[Buffer], second: Iterator[Buffer]) -> Iterator[Buffer]:
    """``first`` then ``second``."""
    yield from first
    yield from second


def _send_batch(sock: socket.socket, batch: list[Buffer]) -> None:
    """Send all of ``batch``, resuming after partial sends."""
    if sys.platform == "win32" or isinstance(sock, ssl.SSLSocket):  # no sendmsg
        for buffer in batch:
            sock.sendall(buffer)
        return
    views = [memoryview(buffer) for buffer in batch]
    first = 0
    while first < len(views):
        sent = sock.sendmsg(views[first : first + _BATCH])
        while first < len(views) and sent >= len(views[first]):
            sent -= len(views[first])
            first += 1
        if sent:
            views[first] = views[first][sent:]
