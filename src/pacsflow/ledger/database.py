"""Opening the tracking database and bringing its schema up to date.

SQLite is the embedded default: WAL journal so readers (``pacsflow status`` from
another terminal) never block the one writer, and a busy timeout so they wait instead
of failing.
PostgreSQL (``postgresql+psycopg://``) works the same way by URL.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from pacsflow.errors import LedgerError

log = logging.getLogger(__name__)

_MIGRATIONS = "pacsflow.ledger:migrations"


def connect(url: str) -> Engine:
    """Create an engine for the ledger at ``url``, without touching the schema.

    Parameters
    ----------
    url : str
        A SQLAlchemy URL, for example ``sqlite:////srv/pacsflow.db`` or
        ``postgresql+psycopg://pacsflow@dbhost/pacsflow``.

    Raises
    ------
    LedgerError
        If the URL cannot be parsed or its driver is not installed.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise LedgerError(
            f"the tracking URL {url!r} is not a SQLAlchemy URL; expected for "
            "example sqlite:///pacsflow.db or postgresql+psycopg://user@host/db"
        ) from exc

    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(url, parsed.database)
        return create_engine(url, pool_pre_ping=True)
    except (NoSuchModuleError, ImportError) as exc:
        raise LedgerError(
            f"the driver for the tracking database {parsed.drivername!r} is not "
            f"installed ({exc}); for PostgreSQL install 'pacsflow[postgresql]'"
        ) from exc


def _sqlite_engine(url: str, database: str | None) -> Engine:
    """An SQLite engine in WAL mode, creating the file's folder if needed."""
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def migrate(engine: Engine) -> None:
    """Bring the ledger's schema to the newest revision (a no-op when it is)."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", _MIGRATIONS)
    head = ScriptDirectory.from_config(config).get_current_head()
    try:
        with engine.begin() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
            if current == head:
                return
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        log.info("ledger schema upgraded from %s to %s", current or "nothing", head)
    except SQLAlchemyError as exc:
        raise LedgerError(
            f"cannot migrate the tracking database at {engine.url!r}: {exc}; check "
            "that the database is reachable and writable"
        ) from exc


def open_ledger(url: str) -> Engine:
    """Connect to the ledger at ``url`` and migrate its schema to the newest.

    Raises
    ------
    LedgerError
        If the database cannot be reached, or is not a pacsflow ledger.
    """
    engine = connect(url)
    try:
        tables = set(inspect(engine).get_table_names())
    except SQLAlchemyError as exc:
        engine.dispose()
        raise LedgerError(
            f"cannot open the tracking database at {engine.url!r}: {exc}"
        ) from exc
    if tables and "alembic_version" not in tables:
        engine.dispose()
        raise LedgerError(
            f"the tracking database at {engine.url!r} holds tables but is not a "
            f"pacsflow ledger ({', '.join(sorted(tables)[:5])}); point 'tracking' "
            "at an empty database"
        )
    migrate(engine)
    log.debug("ledger ready at %s", engine.url)
    return engine
