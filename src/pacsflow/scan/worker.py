"""What a scan worker process runs: plain functions of plain values.

Kept apart from the indexer so a worker imports nothing but the header reader: worker
processes start in milliseconds and hold no database connection.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

from pacsflow.scan.header import Header, UnreadableFileError, read_header

ReadResult = tuple[str, Header | None, str | None]
"""A file's name, its header if readable, else the reason it is not."""


def read_batch(root: str, folder: str, names: Sequence[str]) -> list[ReadResult]:
    """Read the headers of ``names`` in one folder of a source."""
    # plain strings, not Path objects: this runs once per file of the archive
    directory = os.path.join(root, folder) if folder else root  # noqa: PTH118
    results: list[ReadResult] = []
    for name in names:
        try:
            path = os.path.join(directory, name)  # noqa: PTH118
            results.append((name, read_header(path), None))
        except UnreadableFileError as exc:
            results.append((name, None, exc.reason))
        except OSError as exc:
            results.append((name, None, f"cannot read the file: {exc.strerror}"))
    return results


def hash_file(path: str) -> str:
    """The SHA-256 of a file's whole content, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as fp:
        for chunk in iter(lambda: fp.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
