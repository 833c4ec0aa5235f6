"""Destinations: where routed instances go.

One module per kind, each a :class:`~pacsflow.destinations.base.Sender`:

``dicom``       C-STORE to a PACS (:mod:`pacsflow.destinations.dicom`)
``folder``      DICOM files in a tree of UIDs (:mod:`pacsflow.destinations.folder`)
``terminator``  read and drop, to measure (:mod:`pacsflow.destinations.terminator`)

Adding a kind means a module with a sender and one line in :data:`_FACTORIES`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pacsflow.config import Destination
from pacsflow.destinations.base import RetryPolicy, Sender


def _dicom(config: Any, policy: RetryPolicy, share: int | None) -> Sender:
    from pacsflow.destinations.dicom import DicomSender

    return DicomSender(config, policy, share)


def _folder(config: Any, _policy: RetryPolicy, share: int | None) -> Sender:
    from pacsflow.destinations.folder import Folder

    return Folder(config.path, config.throttle, share or 1)


def _terminator(_config: Any, _policy: RetryPolicy, _share: int | None) -> Sender:
    from pacsflow.destinations.terminator import Terminator

    return Terminator()


_FACTORIES: dict[str, Callable[[Any, RetryPolicy, int | None], Sender]] = {
    "dicom": _dicom,
    "folder": _folder,
    "terminator": _terminator,
}


def open_sender(
    config: Destination, policy: RetryPolicy, share: int | None = None
) -> Sender:
    """The sender for a configured destination, pacing itself at its share of the
    throttle when ``share`` batches of the destination may be in flight at once
    (default a DICOM destination's ``associations``, else 1)."""
    return _FACTORIES[config.kind](config, policy, share)
