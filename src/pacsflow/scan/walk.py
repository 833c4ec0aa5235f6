"""Walking a storage folder one directory at a time, in bounded memory.

Old archives hold millions of files in a deep tree of small folders. The walk yields
each folder's files with their size and modification time (one ``stat`` each, no read),
so the scanner can compare a folder with the ledger and read only what is new or
changed. Directory symlinks are not followed, so a link loop cannot trap the walk.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Entry:
    """A file in a folder: its name, size in bytes and modification time in ns."""

    name: str
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class Folder:
    """One directory of a source: its path relative to the source and its files."""

    relative: str
    entries: tuple[Entry, ...]


def walk(root: Path) -> Iterator[Folder]:
    """Yield every folder below ``root`` that holds files, depth first, sorted.

    ``Folder.relative`` uses forward slashes and is ``""`` for ``root`` itself. A
    sub-folder that cannot be listed is logged and skipped; ``root`` itself must be
    listable (the caller checks it first).
    """
    stack = [""]
    while stack:
        relative = stack.pop()
        directory = root / relative if relative else root
        try:
            with os.scandir(directory) as listing:
                items = sorted(listing, key=lambda item: item.name)
        except OSError as exc:
            if not relative:
                raise
            log.warning("cannot list %s: %s; its files are not indexed", directory, exc)
            continue

        entries: list[Entry] = []
        subfolders: list[str] = []
        for item in items:
            try:
                if item.is_dir(follow_symlinks=False):
                    subfolders.append(
                        f"{relative}/{item.name}" if relative else item.name
                    )
                elif item.is_file():
                    stat = item.stat()
                    entries.append(Entry(item.name, stat.st_size, stat.st_mtime_ns))
            except OSError as exc:
                log.warning("cannot stat %s: %s; skipped", item.path, exc)
        stack.extend(reversed(subfolders))
        if entries:
            yield Folder(relative, tuple(entries))


def count_files(root: Path) -> int:
    """Count the files below ``root`` without stat-ing them (for progress totals)."""
    total = 0
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(directory) as listing:
                for item in listing:
                    if item.is_dir(follow_symlinks=False):
                        stack.append(Path(item.path))
                    else:
                        total += 1
        except OSError:
            continue
    return total
