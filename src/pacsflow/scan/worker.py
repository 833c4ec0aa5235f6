"""What a scan worker process runs: plain functions of plain values.

Kept apart from the indexer so a worker imports nothing but the header reader: worker
processes start in milliseconds and hold no database connection.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

from pacsflow.scan.header import Header, UnreadableFileError, read_header

HEADER_FIELDS: tuple[str, ...] = Header.__slots__
"""The order of the values in a :data:`ReadResult`'s header tuple."""

ReadResult = tuple[tuple[object, ...] | None, str | None]
"""A file's header values if readable (in :data:`HEADER_FIELDS` order), else the
reason it is not. Tuples, not objects: they cross the process boundary cheaply."""


def read_batch(root: str, files: Sequence[tuple[str, str]]) -> list[ReadResult]:
    """Read the headers of ``files``, (folder, name) pairs below ``root``."""
    results: list[ReadResult] = []
    for folder, name in files:
        # plain strings, not Path objects: this runs once per file of the archive
        path = os.path.join(root, folder, name)  # noqa: PTH118
        try:
            header = read_header(path)
        except UnreadableFileError as exc:
            results.append((None, exc.reason))
        except OSError as exc:
            results.append((None, f"cannot read the file: {exc.strerror}"))
        except Exception as exc:  # a file no reader foresaw must not stop the scan
            results.append((None, f"not readable DICOM: unexpected {exc!r}"))
        else:
            results.append((tuple(getattr(header, f) for f in HEADER_FIELDS), None))
    return results


def hash_file(path: str) -> str:
    """The SHA-256 of a file's whole content, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as fp:
        for chunk in iter(lambda: fp.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
