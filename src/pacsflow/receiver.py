"""A small storage SCP: a local stand-in for the new PACS in the demo and in tests.

It accepts every storage SOP class in every transfer syntax and writes what it
receives, byte for byte as it arrived (no decoding, no transcoding), to
``<folder>/<SOP Instance UID>.dcm``. It runs in a thread of the calling process on a
loopback port until stopped.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from pacsflow.destinations.folder import safe_component

log = logging.getLogger(__name__)


class Receiver:
    """A storage SCP writing received instances into a folder."""

    def __init__(self, folder: Path, port: int, ae_title: str = "PACSFLOW_RX") -> None:
        self.folder = folder
        self.port = port
        self.ae_title = ae_title
        self.received = 0
        self._lock = threading.Lock()
        self._server: Any = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Listen on 127.0.0.1:``port``; OSError if the port is taken."""
        self.folder.mkdir(parents=True, exist_ok=True)
        ae = AE(ae_title=self.ae_title)
        ae.maximum_pdu_size = 0
        for context in AllStoragePresentationContexts:
            if context.abstract_syntax is not None:
                ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        ae.add_supported_context(Verification)
        self._server = ae.start_server(
            ("127.0.0.1", self.port),
            block=False,
            evt_handlers=[(evt.EVT_C_STORE, self._store)],
        )
        log.info("receiver %s listening on 127.0.0.1:%d", self.ae_title, self.port)

    def stop(self) -> None:
        """Stop listening and close every association."""
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def _store(self, event: Any) -> int:
        """Write one received instance as it arrived; 0x0000 or 0xA700."""
        uid = str(event.request.AffectedSOPInstanceUID)
        target = self.folder / f"{safe_component(uid)}.dcm"
        try:
            target.write_bytes(event.encoded_dataset(include_meta=True))
        except OSError as exc:
            log.error("receiver %s cannot write %s: %s", self.ae_title, target, exc)
            return 0xA700
        with self._lock:
            self.received += 1
        return 0x0000
