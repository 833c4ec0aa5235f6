"""Files that are not readable DICOM, among good ones: corrupt, truncated, not DICOM
at all, empty, a header declaring a multi-gigabyte length (with and without a
preamble), sequences nested fifty thousand deep.

Each is recorded ``unreadable`` with a reason, the good files are sent, and the whole
run (``pacsflow run`` as a process, with its workers) stays in bounded memory and
time: its peak resident size is read from the kernel, and a hang would hit the
process timeout.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless
from sqlalchemy import select

from pacsflow.ledger.database import connect
from pacsflow.ledger.schema import files
from pacsflow.outcomes import Outcome
from tests.dicomfiles import ct_dataset, sr_dataset, write
from tests.faults.accounting import check_accounting, held_in_folder

NETWORK = """\
tracking: sqlite:///ledger.db
sources: [{name: store, path: store}]
routes: [{name: all, to: archive}]
destinations:
  archive: {folder: {path: received}}
run: {workers: 2}
"""

MEMORY_LIMIT = 400 * 2**20
"""Peak resident size allowed for pacsflow or any of its workers: a reader that
believed a declared length would need gigabytes."""

MEASURE = """\
import json, resource, subprocess, sys
code = subprocess.run(sys.argv[1:], capture_output=True).returncode
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps({"code": code, "peak": peak}))
"""
"""Runs a command and prints its exit status and the largest peak resident size of
it and its descendants (Linux reports kibibytes)."""


def deep_nesting(depth: int) -> bytes:
    """A Part 10 file whose Content Sequence nests ``depth`` items deep (explicit VR
    little endian, undefined lengths), written byte by byte."""
    open_sequence = struct.pack("<HH2sHI", 0x0040, 0xA730, b"SQ", 0, 0xFFFFFFFF)
    open_item = struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
    close_item = struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
    close_sequence = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    return (open_sequence + open_item) * depth + (close_item + close_sequence) * depth


def bad_files(store: Path) -> dict[str, str]:
    """Write the bad files; the words each one's recorded reason must hold."""
    store.mkdir(parents=True, exist_ok=True)
    good = write(ct_dataset(uid="1.2.826.9.8.100"), store / "model.dcm").read_bytes()
    head = good[: good.index(b"\x08\x00\x16\x00")]  # preamble and file meta

    (store / "corrupt.dcm").write_bytes(head + bytes(range(256)) * 64)
    (store / "truncated.dcm").write_bytes(good[:300])
    (store / "notes.txt").write_text("Scanned by the night shift; see binder 4.\n" * 9)
    (store / "empty.dcm").write_bytes(b"")

    sr = bytearray(write(sr_dataset(depth=1), store / "huge.dcm").read_bytes())
    at = sr.index(b"\x40\x00\x60\xa1UT")  # (0040,A160) Text Value, a long VR
    sr[at + 8 : at + 12] = struct.pack("<I", 0xFFFFFFF0)  # declares 4 GB
    (store / "huge.dcm").write_bytes(bytes(sr))
    bare = struct.pack("<HHI", 0x0008, 0x0016, 0xFFFFFFF0)  # implicit VR, no preamble
    (store / "huge-bare.dcm").write_bytes(bare + b"1.2.840.10008.5.1.4.1.1.2\x00")

    deep = head + deep_nesting(50_000)
    (store / "deep.dcm").write_bytes(deep)
    (store / "model.dcm").unlink()
    return {
        "corrupt.dcm": "no SOP Instance UID of its own",
        "truncated.dcm": "truncated",
        "notes.txt": "",
        "empty.dcm": "empty",
        "huge.dcm": "truncated",
        "huge-bare.dcm": "",
        "deep.dcm": "nested deeper",
    }


def test_unreadable_files_are_recorded_in_bounded_memory(tmp_path: Path) -> None:
    store = tmp_path / "store"
    reasons = bad_files(store)
    syntaxes = (ExplicitVRLittleEndian, JPEG2000Lossless)
    for n in range(6):
        ds = ct_dataset(uid=f"1.2.826.9.8.{n}", number=n, study="1.2.826.9.8.1")
        write(ds, store / f"good/{n}.dcm", syntaxes[n % 2])
    (tmp_path / "network.yaml").write_text(NETWORK)

    measured = subprocess.run(
        [
            sys.executable,
            "-c",
            MEASURE,
            sys.executable,
            "-m",
            "pacsflow",
            "-q",
            "run",
            str(tmp_path / "network.yaml"),
        ],
        capture_output=True,
        timeout=300,
        check=True,
    )
    result = json.loads(measured.stdout)

    assert result["code"] == 0
    print(f"peak resident size {result['peak'] / 2**20:.0f} MiB")
    assert 0 < result["peak"] < MEMORY_LIMIT, f"peak {result['peak'] / 2**20:.0f} MiB"
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = connect(url)
    with engine.connect() as connection:
        recorded = dict(
            connection.execute(
                select(files.c.name, files.c.reason).where(
                    files.c.state == "unreadable"
                )
            ).all()
        )
    engine.dispose()
    assert set(recorded) == set(reasons)
    for name, words in reasons.items():
        assert recorded[name] and words in recorded[name], (name, recorded[name])
    books = check_accounting(
        url, [store], {"archive": held_in_folder(tmp_path / "received")}
    )
    assert books.unreadable == len(reasons)
    assert books.total(Outcome.SENT) == 6
