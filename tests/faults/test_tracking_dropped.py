"""The tracking database's connections are dropped mid-run (PostgreSQL
``pg_terminate_backend``, as a database restart or a failover does).

A short outage is ridden out: the run reconnects, records what was in flight (and,
if its reading of what is pending was cut, plans again from what the ledger still
holds pending), and completes. A database that stays
away longer than ``run.reconnect_seconds`` stops the run with a clear message; the next
run completes. Either way nothing is lost and nothing recorded twice.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine, func, select, text
from sqlalchemy.exc import OperationalError

import pacsflow.run as run_module
from pacsflow.cli import main
from pacsflow.ledger.database import connect
from pacsflow.ledger.schema import attempts, instances
from pacsflow.sample import generate_sample
from tests.faults.accounting import check_accounting, held_in_folder
from tests.faults.receiver import (
    SAMPLE_NETWORK,
    SOURCES,
    SlowReceiver,
    kill_group,
    pacsflow_run,
    wait_for,
)
from tests.peers import free_port

RECONNECT = "  reconnect_seconds: {seconds}\n"


@pytest.fixture
def admin(postgres_admin_url: str) -> Iterator[Engine]:
    engine = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def sent_so_far(url: str) -> int:
    """Instances recorded sent so far (0 before the ledger exists)."""
    engine = connect(url)
    try:
        with engine.connect() as connection:
            return (
                connection.scalar(
                    select(func.count()).where(instances.c.outcome == "sent")
                )
                or 0
            )
    except Exception:  # the schema is not there yet
        return 0
    finally:
        engine.dispose()


def drop_connections(admin: Engine, database: str) -> int:
    """Terminate every backend connected to ``database``; how many there were."""
    with admin.connect() as connection:
        return len(
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": database},
            ).all()
        )


def allow_connections(admin: Engine, database: str, allowed: bool) -> None:
    """Let clients connect to ``database`` or not (a database that stays down)."""
    with admin.connect() as connection:
        connection.execute(
            text(
                f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allowed).lower()}'
            )
        )


def write_network(tmp_path: Path, url: str, port: int, reconnect: float) -> Path:
    network = tmp_path / "dropped.yaml"
    body = SAMPLE_NETWORK.format(tracking=url, port=port).replace(
        "run: {batch: 10, workers: 2}\n",
        "run:\n  batch: 10\n  workers: 2\n" + RECONNECT.format(seconds=reconnect),
    )
    network.write_text(body)
    return network


def no_instance_recorded_twice(url: str) -> None:
    engine = connect(url)
    with engine.connect() as connection:
        stored = connection.scalars(
            select(attempts.c.sop_instance_uid).where(attempts.c.result == "stored")
        ).all()
    engine.dispose()
    assert len(stored) == len(set(stored)), "an instance was recorded sent twice"


def test_a_dropped_connection_is_ridden_out(
    tmp_path: Path, postgres_url: str, admin: Engine
) -> None:
    generate_sample(tmp_path, studies=6, seed=29)
    port = free_port()
    network = write_network(tmp_path, postgres_url, port, reconnect=60)
    database = postgres_url.rsplit("/", 1)[1]
    receiver = SlowReceiver(port)
    log = tmp_path / "run.log"
    try:
        run = pacsflow_run(network, log)
        try:
            wait_for(lambda: sent_so_far(postgres_url) >= 20, run)
            allow_connections(admin, database, False)  # a restart: away a second
            try:
                assert drop_connections(admin, database) >= 1
                time.sleep(1)
            finally:
                allow_connections(admin, database, True)
            assert run.wait(timeout=300) == 0, log.read_text()
        finally:
            kill_group(run)
    finally:
        receiver.stop()

    told = log.read_text()
    assert "lost the connection to the tracking database" in told
    assert "Traceback" not in told
    no_instance_recorded_twice(postgres_url)
    check_accounting(
        postgres_url, [tmp_path / s for s in SOURCES], {"newpacs": receiver.uids}
    )


def test_a_database_that_stays_away_stops_the_run_cleanly(
    tmp_path: Path, postgres_url: str, admin: Engine
) -> None:
    generate_sample(tmp_path, studies=6, seed=39)
    port = free_port()
    network = write_network(tmp_path, postgres_url, port, reconnect=3)
    database = postgres_url.rsplit("/", 1)[1]
    receiver = SlowReceiver(port)
    log = tmp_path / "run.log"
    try:
        run = pacsflow_run(network, log)
        try:
            wait_for(lambda: sent_so_far(postgres_url) >= 20, run)
            allow_connections(admin, database, False)
            try:
                drop_connections(admin, database)
                code = run.wait(timeout=120)
            finally:
                allow_connections(admin, database, True)
        finally:
            kill_group(run)
        told = log.read_text()
        assert code == 2, told
        assert "cannot reach the tracking database" in told
        assert "run again" in told
        assert "Traceback" not in told

        second = subprocess.run(
            [sys.executable, "-m", "pacsflow", "-q", "run", str(network)],
            capture_output=True,
            timeout=300,
            check=False,
        )
        assert second.returncode == 0, second.stderr.decode()
    finally:
        receiver.stop()

    no_instance_recorded_twice(postgres_url)
    check_accounting(
        postgres_url, [tmp_path / s for s in SOURCES], {"newpacs": receiver.uids}
    )


def test_a_cut_reading_of_what_is_pending_is_planned_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The connection streaming the pending instances dies part-way (on a real
    server this lands only when the drop hits that connection mid-stream, so it is
    forced here): what was planned finishes, the rest is planned again, once."""
    generate_sample(tmp_path, studies=4, seed=49)
    network = tmp_path / "cut.yaml"
    network.write_text(
        SAMPLE_NETWORK.format(tracking="sqlite:///ledger.db", port=1).replace(
            "dicom: {host: 127.0.0.1, port: 1, ae_title: SLOWPACS, associations: 2}",
            "folder: {path: received}",
        )
    )
    real = run_module.pending_rows
    calls = []

    def cut_once(connection: Connection, order: str) -> Iterator[Any]:
        calls.append(order)
        for n, row in enumerate(real(connection, order)):
            if len(calls) == 1 and n == 90:
                lost = Exception("server closed the connection")
                raise OperationalError("SELECT", {}, lost, connection_invalidated=True)
            yield row

    monkeypatch.setattr(run_module, "pending_rows", cut_once)
    assert main(["-q", "run", str(network)]) == 0

    assert len(calls) == 2
    assert "planning again" in caplog.text
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    no_instance_recorded_twice(url)
    check_accounting(
        url,
        [tmp_path / s for s in SOURCES],
        {"newpacs": held_in_folder(tmp_path / "received")},
    )
