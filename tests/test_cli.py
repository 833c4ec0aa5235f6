"""The command line, called in-process as a user would call it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pacsflow.cli import main
from tests.scan.test_indexer import make_archive

COMMANDS = ["demo", "sample", "validate", "scan", "status"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])

    assert exited.value.code == 0
    assert "usage: pacsflow " + command in capsys.readouterr().out


def test_bad_network_file_exits_2_with_the_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    network = tmp_path / "network.yaml"
    network.write_text("sources: [}\n")

    assert main(["scan", str(network)]) == 2
    assert "network.yaml" in caplog.text


def test_scan_then_status_as_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    network = make_archive(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}")

    assert main(["-q", "scan", str(network), "--json", "--workers", "2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert main(["status", str(network), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)

    assert summary["seen"] == status["files"] == 9
    assert set(status) >= {
        "files",
        "unreadable",
        "instances",
        "outcomes",
        "sinbin_reasons",
        "matrix",
    }
    assert status["outcomes"]["pending"] == status["instances"] == 5
    assert all(
        set(cell) >= {"sop_class", "transfer_syntax", "count"}
        for cell in status["matrix"]
    )


def test_status_as_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    network = make_archive(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}")
    main(["-q", "scan", str(network)])
    capsys.readouterr()

    assert main(["status", str(network)]) == 0
    shown = capsys.readouterr().out

    assert "JPEG 2000" in shown
    assert "CT Image Storage" in shown
    assert "Thumbs.db" in shown


def test_missing_source_exits_1(tmp_path: Path) -> None:
    network = make_archive(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}")
    (tmp_path / "store02").rename(tmp_path / "elsewhere")

    assert main(["-q", "scan", str(network)]) == 1


def test_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    network = make_archive(tmp_path, "sqlite:///l.db")

    assert main(["validate", str(network)]) == 0
    assert "is valid: 2 sources" in capsys.readouterr().out


def test_a_lost_tracking_database_exits_2_with_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A connection lost in the middle of any command is an error a person can act
    on, not a traceback; the statement and its parameters are not shown."""
    from sqlalchemy.exc import OperationalError

    import pacsflow.ledger.report

    network = make_archive(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}")
    assert main(["-q", "scan", str(network)]) == 0

    def lost(_connection: object) -> None:
        cause = Exception("server closed the connection unexpectedly\nmore")
        raise OperationalError(
            "SELECT name FROM patients WHERE id = %s",
            ("PATIENT-42",),
            cause,
            connection_invalidated=True,
        )

    monkeypatch.setattr(pacsflow.ledger.report, "read_status", lost)

    assert main(["status", str(network)]) == 2
    assert "lost the connection to the tracking database" in caplog.text
    assert "server closed the connection unexpectedly" in caplog.text
    assert "PATIENT-42" not in caplog.text and "SELECT" not in caplog.text
