"""The fast header reader agrees with DCMTK's ``dcmdump`` on a whole sample archive.

A second, independent DICOM parser: every file dcmdump parses, pacsflow reads with the
same SOP Instance UID and transfer syntax; every file dcmdump refuses, pacsflow records
as unreadable.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from pacsflow.sample import generate_sample
from pacsflow.scan.header import UnreadableFileError, read_header
from tests.conftest import peer_missing

_VALUE = re.compile(r"^\((\w{4},\w{4})\) UI \[([\d.]+)\]")


def dcmdump(path: Path) -> dict[str, str] | None:
    """SOP Instance UID and transfer syntax as dcmdump reads them, None if refused."""
    done = subprocess.run(
        ["dcmdump", "-q", "-Un", "+P", "0008,0018", "+P", "0002,0010", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if done.returncode != 0:
        return None
    values = {}
    for line in done.stdout.splitlines():
        match = _VALUE.match(line.strip())
        if match:
            values[match[1]] = match[2]
    return values


def test_reader_and_dcmdump_agree_on_every_sample_file(tmp_path: Path) -> None:
    if shutil.which("dcmdump") is None:
        peer_missing("DCMTK's dcmdump")
    generate_sample(tmp_path, studies=3, seed=11)
    files = [p for p in sorted(tmp_path.glob("store*/**/*")) if p.is_file()]

    for path in files:
        theirs = dcmdump(path)
        try:
            header = read_header(path)
        except UnreadableFileError:
            assert theirs is None, f"dcmdump reads {path}, pacsflow does not"
            continue
        assert theirs is not None, f"pacsflow reads {path}, dcmdump refuses it"
        assert theirs["0008,0018"] == header.sop_instance_uid
        assert theirs["0002,0010"] == header.transfer_syntax
    assert len(files) > 50
