"""The event log: a JSON line per transition, rotated by size, free of patient data."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from pacsflow.cli import main
from pacsflow.events import EventLog, Transition
from pacsflow.ledger.database import open_ledger
from pacsflow.ledger.schema import instances
from pacsflow.sample import generate_sample, load_manifest
from tests.reconcile.test_run import prepare

KEYS = {
    "at",
    "event",
    "sop_instance_uid",
    "study_instance_uid",
    "destination",
    "reason",
    "status",
}


def transition(n: int) -> Transition:
    at = datetime(2026, 12, 4, 7, 0, n % 60, tzinfo=UTC)
    return Transition("sent", f"1.2.3.{100 + n}", at, "1.2.3", "newpacs", None, 0xB000)


def lines(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_transition_is_one_line_of_json(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with EventLog(path, max_bytes=2**20, backups=2) as log:
        log.emit([transition(7)])

    assert lines(path) == [
        {
            "at": "2026-12-04T07:00:07.000+00:00",
            "event": "sent",
            "sop_instance_uid": "1.2.3.107",
            "study_instance_uid": "1.2.3",
            "destination": "newpacs",
            "status": "0xB000",
        }
    ]


def test_the_file_rotates_by_size_and_keeps_its_backups(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    line_size = len(transition(0).to_json()) + 1
    with EventLog(path, max_bytes=line_size * 10, backups=2) as log:
        for start in range(0, 50, 5):
            log.emit([transition(n) for n in range(start, start + 5)])

    kept = [path, path.with_name("events.jsonl.1"), path.with_name("events.jsonl.2")]
    assert not path.with_name("events.jsonl.3").exists()
    assert [len(lines(p)) for p in kept] == [10, 10, 10]
    assert all(p.stat().st_size <= line_size * 10 for p in kept)
    newest_first = [lines(p)[-1]["sop_instance_uid"] for p in kept]
    assert newest_first == ["1.2.3.149", "1.2.3.139", "1.2.3.129"]


def test_a_log_that_cannot_be_written_warns_once_and_lets_the_work_go_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "events.jsonl"
    blocked.mkdir()  # a folder where the file should be
    log = EventLog(blocked, max_bytes=2**20, backups=1)

    log.emit([transition(1)])
    log.emit([transition(2)])

    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "cannot write the event log" in warnings[0].getMessage()


def test_a_run_writes_one_event_per_outcome_and_no_patient_data(
    tmp_path: Path,
) -> None:
    sample = tmp_path / "sample"
    generate_sample(sample, studies=4, seed=5)
    network = prepare(sample, tmp_path, verdicts="verdicts: {excluded_study: skip}")
    manifest = load_manifest(network.parent)

    assert main(["-q", "run", str(network)]) == 0

    events = lines(network.parent / "events.jsonl")
    engine = open_ledger(f"sqlite:///{network.parent / 'ledger.db'}")
    with engine.connect() as connection:
        outcomes = dict(
            connection.execute(
                select(instances.c.outcome, func.count()).group_by(instances.c.outcome)
            ).all()
        )
    engine.dispose()
    assert Counter(e["event"] for e in events) == outcomes
    assert len({e["sop_instance_uid"] for e in events}) == len(events)
    assert all(set(e) <= KEYS for e in events)
    text = (network.parent / "events.jsonl").read_text()
    identifying = {"PatientName", "PatientID", "PatientBirthDate"}
    planted = {
        value
        for drift in manifest.header_drift
        if drift.attribute in identifying
        for value in (drift.header, drift.database)
        if len(value) > 3
    }
    assert planted
    assert not [value for value in planted if value in text]


def test_retrying_failed_instances_logs_them_pending_again(tmp_path: Path) -> None:
    sample = tmp_path / "sample"
    generate_sample(sample, studies=3, seed=6)
    network = prepare(sample, tmp_path)
    assert main(["-q", "run", str(network)]) == 0
    engine = open_ledger(f"sqlite:///{network.parent / 'ledger.db'}")
    with engine.begin() as connection:
        failed = set(
            connection.scalars(
                select(instances.c.sop_instance_uid)
                .where(instances.c.outcome == "sent")
                .limit(3)
            )
        )
        connection.execute(
            update(instances)
            .where(instances.c.sop_instance_uid.in_(failed))
            .values(outcome="failed")
        )
    engine.dispose()

    assert main(["-q", "run", "--retry-failed", str(network)]) == 0

    events = lines(network.parent / "events.jsonl")
    reopened = [e for e in events if e["event"] == "pending"]
    assert {e["sop_instance_uid"] for e in reopened} == failed
    assert {e["reason"] for e in reopened} == {"retry_failed"}
    again = [e["sop_instance_uid"] for e in events[-3:]]
    assert set(again) == failed
    assert {e["event"] for e in events[-3:]} == {"sent"}
