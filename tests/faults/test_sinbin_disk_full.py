"""The sin bin's disk fills up (a small tmpfs): the run stops with a clear message, what
did not fit stays pending, and nothing is marked sin-binned that was not written."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from pacsflow.cli import main
from pacsflow.ledger.database import open_ledger
from pacsflow.ledger.schema import instances
from pacsflow.sample import generate_sample
from tests.faults.accounting import check_accounting, held_in_folder
from tests.faults.receiver import SOURCES
from tests.samplenet import SAMPLE_SOURCES

NETWORK = (
    SAMPLE_SOURCES
    + """\
routes:
  - name: images
    match: {{pixel_data: true}}
    to: sinbin
  - name: rest
    to: archive
destinations:
  archive: {{folder: {{path: out/archive}}}}
  sinbin: {{folder: {{path: {sinbin}}}}}
sinbin: sinbin
"""
)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs, mounted for the test (root only) and unmounted after."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0 and os.environ.get("CI") != "true":
        pytest.skip("mounting a tmpfs needs root")
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True
    )
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_a_full_sin_bin_pauses_and_loses_nothing(
    tmp_path: Path, small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    generate_sample(tmp_path / "sample", studies=3, seed=99)
    archive = tmp_path / "archive"
    shutil.copytree(tmp_path / "sample", archive)
    network = archive / "full.yaml"
    network.write_text(NETWORK.format(sinbin=small_disk))

    code = main(["-q", "run", str(network)])

    engine = open_ledger(f"sqlite:///{archive / 'ledger.db'}")
    with engine.connect() as connection:
        rows = connection.execute(
            select(instances.c.sop_instance_uid, instances.c.outcome)
        ).all()
    engine.dispose()
    out = archive / "out/archive"
    written = {p.stem for p in small_disk.rglob("*.dcm")}
    binned = {uid for uid, outcome in rows if outcome == "sinbinned"}
    left = {uid for uid, outcome in rows if outcome == "pending"}
    assert code == 1
    assert "sinbin paused" in caplog.text
    assert "free space or fix permissions" in caplog.text
    assert left  # what did not fit waits for the next run
    assert binned  # what fit is in the sin bin
    assert binned <= written  # nothing marked sin-binned that was not written
    assert not list(small_disk.rglob(".incoming-*"))  # no half-written file is left
    check_accounting(
        f"sqlite:///{archive / 'ledger.db'}",
        [archive / s for s in SOURCES],
        {"sinbin": held_in_folder(small_disk), "archive": held_in_folder(out)},
        pending=len(left),
    )
