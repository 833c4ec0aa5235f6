"""``pacsflow pause`` and ``resume`` from another terminal, obeyed by a running run."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pacsflow.cli import main
from pacsflow.ledger.database import open_ledger
from pacsflow.ledger.schema import runs
from pacsflow.sample import generate_sample
from tests.reconcile.test_run import outcomes, prepare

_RUN = "import sys; from pacsflow.cli import main; sys.exit(main(sys.argv[1:]))"


def runs_started(network: Path) -> int:
    engine = open_ledger(f"sqlite:///{network.parent / 'ledger.db'}")
    with engine.connect() as connection:
        count = connection.scalar(select(func.count()).select_from(runs)) or 0
    engine.dispose()
    return count


def test_a_paused_migration_starts_nothing_until_resumed(tmp_path: Path) -> None:
    generate_sample(tmp_path / "sample", studies=3, seed=95)
    network = prepare(tmp_path / "sample", tmp_path)
    assert main(["-q", "scan", str(network)]) == 0
    assert main(["pause", str(network), "--why", "clinic hours"]) == 0

    run = subprocess.Popen([sys.executable, "-c", _RUN, "-q", "run", str(network)])
    try:
        deadline = time.monotonic() + 60
        while runs_started(network) == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(3)  # long enough to have sent everything, were it not paused
        held = {outcome for outcome, _ in outcomes(network).values()}
        assert run.poll() is None  # still waiting
        assert main(["resume", str(network)]) == 0
        code = run.wait(timeout=60)
    finally:
        run.kill()
        run.wait(timeout=10)

    assert "sent" not in held
    assert code == 0
    assert {outcome for outcome, _ in outcomes(network).values()} == {
        "sent",
        "sinbinned",
    }


def test_status_shows_the_pause_and_resume_lifts_it_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generate_sample(tmp_path / "sample", studies=3, seed=96)
    network = prepare(tmp_path / "sample", tmp_path)
    assert main(["pause", str(network), "--why", "clinic hours"]) == 0
    capsys.readouterr()

    assert main(["status", str(network), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["paused"]["why"] == "clinic hours"
    assert main(["resume", str(network)]) == 0
    assert main(["resume", str(network)]) == 1
    assert "Nothing was paused." in capsys.readouterr().out
