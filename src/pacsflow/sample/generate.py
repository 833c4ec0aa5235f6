"""Generating a sample into a directory, and replacing a previous sample there."""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

from pacsflow.errors import SampleError
from pacsflow.sample.archive import write_archive
from pacsflow.sample.legacy import (
    EXCLUSIONS_NAME,
    LEGACY_NAME,
    NETWORK_NAME,
    exclusions_text,
    network_text,
    write_legacy_database,
)
from pacsflow.sample.manifest import MANIFEST_NAME, SampleManifest
from pacsflow.sample.model import STORES, Plan
from pacsflow.sample.pixels import FramePool
from pacsflow.sample.plan import make_plan
from pacsflow.sample.truth import build_manifest

log = logging.getLogger(__name__)

MIN_STUDIES = 3  # a merge needs two studies and the exclusion list a third
MAX_STUDIES = 10_000


def generate_sample(
    directory: str | os.PathLike[str], *, studies: int = 12, seed: int = 1
) -> SampleManifest:
    """Write a demo archive of an old PACS, with its legacy database, into a directory.

    The archive holds CT, MR, CR and DX images in JPEG 2000 lossless, text reports,
    key object selections and raw data objects, striped over three storage folders,
    with the faults a real migration meets planted on purpose (see ``manifest.json``).
    The same ``studies`` and ``seed`` give byte-identical files.

    Parameters
    ----------
    directory : str or os.PathLike
        Where to write. It is created if needed; it must be empty or hold a previous
        sample, which is then replaced (only the files that sample wrote are removed).
    studies : int
        How many studies (3 to 10,000); files grow about linearly, 25 to 30 a study.
    seed : int
        Seeds every name, UID, date and pixel (0 or more).

    Returns
    -------
    SampleManifest
        The answer key, also written to ``manifest.json``.

    Raises
    ------
    SampleError
        If the arguments are out of range, the directory holds something other than
        a sample, or writing fails (what was written is removed again).
    """
    _check_arguments(studies, seed)
    root = Path(directory)
    _make_room(root)
    plan = make_plan(seed, studies)
    created: list[Path] = []
    try:
        manifest = _write(root, plan, studies, created)
    except (OSError, sqlite3.Error) as exc:
        _remove(root, created, STORES)
        raise SampleError(
            f"expected to write the sample into {root}, but writing failed ({exc}); "
            "check free space and permissions, then run it again"
        ) from exc
    log.info(
        "sample written to %s: %d studies, %d files (%d unreadable)",
        root,
        studies,
        manifest.expected.files,
        manifest.expected.unreadable,
    )
    return manifest


def _check_arguments(studies: int, seed: int) -> None:
    """Refuse a study count or seed the generator cannot honour."""
    if not MIN_STUDIES <= studies <= MAX_STUDIES:
        raise SampleError(
            f"expected between {MIN_STUDIES} and {MAX_STUDIES} studies, got "
            f"{studies}; fewer cannot hold every planted fault"
        )
    if seed < 0:
        raise SampleError(f"expected a seed of 0 or more, got {seed}")


def _write(root: Path, plan: Plan, studies: int, created: list[Path]) -> SampleManifest:
    """Write the stores, the legacy database, the network file and the manifest."""
    archive = write_archive(root, plan, FramePool(plan.seed), created)
    legacy = root / LEGACY_NAME
    created.append(legacy)
    write_legacy_database(legacy, plan, archive.database_files)
    manifest = build_manifest(plan, archive, studies)
    texts = {
        NETWORK_NAME: network_text(),
        EXCLUSIONS_NAME: exclusions_text(plan.faults.excluded),
        MANIFEST_NAME: manifest.to_json(),
    }
    for name, text in texts.items():
        created.append(root / name)
        (root / name).write_text(text, encoding="utf-8", newline="\n")
    return manifest


def _make_room(root: Path) -> None:
    """Create ``root``, accept it empty, or remove the previous sample in it."""
    if root.exists() and not root.is_dir():
        raise SampleError(
            f"expected a directory for the sample at {root}, but it is a file; "
            "choose another path"
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
        if not any(root.iterdir()):
            return
    except OSError as exc:
        raise SampleError(
            f"expected to create or list {root}, but cannot ({exc}); "
            "check the path and permissions"
        ) from exc
    if not (root / MANIFEST_NAME).is_file():
        raise SampleError(
            f"expected an empty directory or a previous sample at {root}, but it is "
            f"not empty and has no {MANIFEST_NAME}; choose an empty or new directory"
        )
    previous = SampleManifest.from_json(root / MANIFEST_NAME)
    files = _previous_files(root, previous)
    log.info("replacing the previous sample in %s", root)
    try:
        _remove(root, files, tuple(previous.sources.values()))
    except OSError as exc:
        raise SampleError(
            f"expected to remove the previous sample in {root}, but cannot ({exc}); "
            "check permissions or remove it by hand"
        ) from exc


def _previous_files(root: Path, previous: SampleManifest) -> list[Path]:
    """Return the files a previous sample wrote, refusing paths outside ``root``."""
    tops = (previous.network, previous.legacy_database, previous.exclusions)
    paths = [root / name for name in (*tops, MANIFEST_NAME)]
    for entry in previous.files:
        if entry.source not in previous.sources:
            raise SampleError(
                f"expected every file of the previous sample in {root} to name one of "
                f"its sources, but {entry.path} names {entry.source!r}; remove that "
                "sample by hand"
            )
        paths.append(root / previous.sources[entry.source] / entry.path)
    inside = root.resolve()
    for path in paths:
        if not path.resolve().is_relative_to(inside):
            raise SampleError(
                f"expected the previous sample's files inside {root}, but its "
                f"manifest names {path}; remove that sample by hand"
            )
    return paths


def _remove(root: Path, files: list[Path], folders: tuple[str, ...]) -> None:
    """Delete ``files``, then the folders under ``root/folders`` left empty."""
    for path in files:
        path.unlink(missing_ok=True)
    for folder in folders:
        top = root / folder
        if not top.is_dir() or not top.resolve().is_relative_to(root.resolve()):
            continue
        for current, _, _ in os.walk(top, topdown=False):
            if not any(Path(current).iterdir()):
                Path(current).rmdir()
