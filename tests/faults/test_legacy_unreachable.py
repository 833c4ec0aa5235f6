"""An unreachable legacy database stops the run with a clear error and loses nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from pacsflow.cli import main
from pacsflow.ledger.database import open_ledger
from pacsflow.ledger.schema import instances
from pacsflow.sample import generate_sample
from tests.faults.accounting import check_accounting
from tests.faults.receiver import SOURCES
from tests.peers import free_port
from tests.reconcile.legacy import use_legacy


def test_the_run_stops_before_sending_and_says_what_to_do(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    generate_sample(tmp_path / "sample", studies=3, seed=98)
    archive = tmp_path / "archive"
    shutil.copytree(tmp_path / "sample", archive)
    nobody = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/pacs"
    use_legacy(archive / "network.yaml", nobody, "SELECT 1 AS SOPInstanceUID")

    code = main(["-q", "run", str(archive / "network.yaml")])

    assert code == 2
    assert "legacy database" in caplog.text
    engine = open_ledger(f"sqlite:///{archive / 'pacsflow.db'}")
    with engine.connect() as connection:
        found = list(connection.scalars(select(instances.c.outcome)))
    engine.dispose()
    assert set(found) == {"pending"}  # scanned, then nothing sent, nothing lost
    check_accounting(
        f"sqlite:///{archive / 'pacsflow.db'}",
        [archive / s for s in SOURCES],
        {},
        pending=len(found),
    )
