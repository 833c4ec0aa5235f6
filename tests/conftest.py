"""Fixtures shared by the suite: ledgers on SQLite and PostgreSQL, sample archives.

A test that needs a real peer (PostgreSQL, DCMTK, Orthanc) skips when the peer is
missing on a developer's machine, and fails when ``CI=true``: CI must never go green
by skipping what it was meant to test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

POSTGRES_ADMIN = os.environ.get(
    "PACSFLOW_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
MARIADB_ADMIN = os.environ.get(
    "PACSFLOW_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/mysql"
)


def peer_missing(what: str) -> None:
    """Skip the test, or fail it under CI, because a real peer is missing."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} is missing, and CI must test against it")
    pytest.skip(f"{what} is missing")


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """The admin URL of the PostgreSQL server, after checking it answers."""
    engine = create_engine(POSTGRES_ADMIN)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        peer_missing(f"PostgreSQL at {POSTGRES_ADMIN} ({exc.orig})")
    finally:
        engine.dispose()
    return POSTGRES_ADMIN


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"pacsflow_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = postgres_admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def mariadb_admin_url() -> str:
    """The admin URL of the MariaDB server, after checking it answers."""
    engine = create_engine(MARIADB_ADMIN)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        peer_missing(f"MariaDB at {MARIADB_ADMIN} ({exc.orig})")
    finally:
        engine.dispose()
    return MARIADB_ADMIN


@pytest.fixture
def mariadb_url(mariadb_admin_url: str) -> Iterator[str]:
    """A fresh, empty MariaDB database for one test, dropped afterwards."""
    name = f"pacsflow_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(mariadb_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    url = mariadb_admin_url.rsplit("/", 1)[0] + f"/{name}?charset=utf8mb4"
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty ledger URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url
