"""Opening, migrating and refusing tracking databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from pacsflow.errors import LedgerError
from pacsflow.ledger.database import open_ledger
from pacsflow.ledger.schema import metadata


def test_open_creates_the_schema_and_is_idempotent(ledger_url: str) -> None:
    engine = open_ledger(ledger_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()

    assert {"files", "instances", "scans", "alembic_version"} <= tables
    open_ledger(ledger_url).dispose()  # a second open finds it at the head revision


def test_sqlite_ledger_uses_wal(tmp_path: Path) -> None:
    engine = open_ledger(f"sqlite:///{tmp_path / 'sub' / 'l.db'}")
    with engine.connect() as connection:
        mode = connection.execute(text("PRAGMA journal_mode")).scalar()
    engine.dispose()

    assert mode == "wal"


def test_refuses_a_database_that_is_not_a_ledger(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'other.db'}"
    other = create_engine(url)
    with other.begin() as connection:
        connection.execute(text("CREATE TABLE patients (id INTEGER)"))
    other.dispose()

    with pytest.raises(LedgerError, match=r"not a pacsflow ledger.*patients"):
        open_ledger(url)


def test_bad_url_says_what_was_expected() -> None:
    with pytest.raises(LedgerError, match="not a SQLAlchemy URL"):
        open_ledger("pacs.db")


def test_missing_driver_is_named() -> None:
    with pytest.raises(LedgerError, match=r"driver .* is not installed"):
        open_ledger("postgresql+nosuchdriver://u@127.0.0.1/x")


def test_migrations_build_exactly_the_schema(ledger_url: str) -> None:
    engine = open_ledger(ledger_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    engine.dispose()

    assert differences == []
