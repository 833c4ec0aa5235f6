"""Inserts that keep the row already there, in each dialect the ledger runs on."""

from __future__ import annotations

from sqlalchemy import Connection, Insert, Table, insert
from sqlalchemy.dialects import postgresql, sqlite

from pacsflow.errors import LedgerError


def insert_ignoring_duplicates(connection: Connection, table: Table) -> Insert:
    """An INSERT into ``table`` that skips rows whose primary key is already there."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    if dialect in {"mysql", "mariadb"}:
        return insert(table).prefix_with("IGNORE")
    raise LedgerError(
        f"the ledger does not support {dialect}; use SQLite or PostgreSQL"
    )
