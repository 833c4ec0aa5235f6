"""The tracking database's connections are dropped mid-run (PostgreSQL
``pg_terminate_backend``, as a database restart or a failover does).

A short outage is ridden out: the run reconnects, records what was in flight (and,
if its reading of what is pending was cut, plans again from what the ledger still
holds pending), and completes. A database that stays
away longer than ``run.reconnect_seconds`` stops the run with a clear message; the next
run completes. Either way nothing is lost and nothing recorded twice.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
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
    SOURCES,
    SlowReceiver,
    run_again,
    running,
    sample_network,
    wait_for,
)
from tests.peers import free_port


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


@contextmanager
def outage(admin: Engine, database: str) -> Iterator[None]:
    """For the block, ``database`` refuses new connections and has lost every
    connection it had (as a restart or a failover does)."""
    with admin.connect() as connection:
        connection.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false'))
        dropped = connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": database},
        ).all()
        assert dropped, "the run had no connection to drop"
        try:
            yield
        finally:
            connection.execute(
                text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
            )


def migrating(
    tmp_path: Path, url: str, *, seed: int, reconnect: float
) -> tuple[Path, SlowReceiver]:
    """A generated sample to send to a slow receiver, its ledger at ``url``."""
    generate_sample(tmp_path, studies=6, seed=seed)
    port = free_port()
    network = sample_network(
        tmp_path, port=port, tracking=url, run=f"reconnect_seconds: {reconnect}"
    )
    return network, SlowReceiver(port)


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
    network, receiver = migrating(tmp_path, postgres_url, seed=29, reconnect=60)
    log = tmp_path / "run.log"
    try:
        with running(network, log) as run:
            wait_for(lambda: sent_so_far(postgres_url) >= 20, run)
            with outage(admin, postgres_url.rsplit("/", 1)[1]):
                time.sleep(1)  # away a second, well within reconnect_seconds
            assert run.wait(timeout=300) == 0, log.read_text()
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
    network, receiver = migrating(tmp_path, postgres_url, seed=39, reconnect=3)
    log = tmp_path / "run.log"
    try:
        with running(network, log) as run:
            wait_for(lambda: sent_so_far(postgres_url) >= 20, run)
            with outage(admin, postgres_url.rsplit("/", 1)[1]):
                code = run.wait(timeout=120)
        told = log.read_text()
        assert code == 2, told
        assert "cannot reach the tracking database" in told
        assert "run again" in told
        assert "Traceback" not in told
        run_again(network)
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
    network = sample_network(tmp_path, destination="{folder: {path: received}}")
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
