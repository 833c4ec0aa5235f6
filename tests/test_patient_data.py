"""No patient name, ID or birth date reaches a log at INFO or above, nor the event log.

The demo migration runs whole (scan, snapshot, reconciliation with header fixes, DICOM
sends, the sin bin, the report) at DEBUG; every record at INFO or above, and every
line of the event log, is searched for every patient the sample planted, in the header
spelling and in the database's.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from pacsflow.cli import main
from pacsflow.sample import load_manifest

IDENTIFYING = {"PatientName", "PatientID", "PatientBirthDate"}


def planted(sample: Path) -> set[str]:
    """Every patient name, ID and birth date of the sample, as text logs could hold."""
    with sqlite3.connect(sample / "legacy.db") as db:
        rows = db.execute("SELECT patient_id, patient_name, birth_date FROM patient")
        values = {str(v) for row in rows for v in row if v}
    manifest = load_manifest(sample)
    for drift in manifest.header_drift:
        if drift.attribute in IDENTIFYING:
            values |= {drift.header, drift.database}
    values |= {v.replace("-", "") for v in values}  # dates as DICOM writes them
    values |= {part for v in values for part in v.split("^") if len(part) > 3}
    return {v for v in values if len(v) > 3}


def test_the_demo_at_debug_logs_no_patient_data_at_info_or_above(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)

    assert main(["-v", "demo", str(tmp_path / "demo"), "--studies", "4"]) == 0
    capsys.readouterr()

    values = planted(tmp_path / "demo")
    with sqlite3.connect(tmp_path / "demo" / "pacsflow.db") as ledger:
        changed = {
            v
            for row in ledger.execute("SELECT old_value, new_value FROM changes")
            for v in row
        }
    assert values & changed  # the values searched for are those the run handled
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert len(loud) > 10
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    leaks = {v for v in values for message in loud if v in message}
    assert not leaks
    events = (tmp_path / "demo" / "events.jsonl").read_text(encoding="utf-8")
    assert events
    assert not {v for v in values if v in events}
    page = (tmp_path / "demo" / "report" / "index.html").read_text(encoding="utf-8")
    assert not {v for v in values if v in page}
