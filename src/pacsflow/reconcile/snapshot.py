"""One bulk read of the old PACS's database into the ledger: the snapshot.

The live PACS database is hit by exactly one query per snapshot, never by a query per
image. :func:`take_snapshot` checks that the network file's query is a single SELECT,
runs it in a read-only transaction, streams the rows (server-side cursor, fixed-size
batches, so memory stays flat for any number of rows) and replaces the ledger's
``legacy_instances`` and ``legacy_files`` in one transaction: a snapshot that fails
half-way leaves the previous one whole.

Columns are named by DICOM keyword, matched without regard to case (PostgreSQL folds
unquoted aliases to lower case). ``SOPInstanceUID`` is required; ``FilePath`` is
optional; every other column must be an attribute pacsflow reconciles
(:data:`~pacsflow.reconcile.values.AUTHORITATIVE`).
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, delete, event, insert, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import NoSuchModuleError, SQLAlchemyError

from pacsflow.config import LegacyDatabase, Network, Source
from pacsflow.errors import LegacyDatabaseError
from pacsflow.ledger.index import now
from pacsflow.ledger.schema import legacy_files, legacy_instances, legacy_snapshots
from pacsflow.ledger.upsert import insert_ignoring_duplicates
from pacsflow.reconcile.values import AUTHORITATIVE, SPECIAL_COLUMNS, from_database

log = logging.getLogger(__name__)

BATCH = 5000
"""Rows fetched from the legacy database, and written to the ledger, at a time."""

_WRITES = re.compile(
    r"\b(insert|update|delete|merge|drop|alter|create|truncate|grant|revoke|"
    r"exec|execute|call|into|attach|pragma|copy|lock|vacuum)\b",
    re.IGNORECASE,
)
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_STRINGS = re.compile(r"'(?:[^']|'')*'")


@dataclass(frozen=True)
class SnapshotSummary:
    """What one snapshot read."""

    id: int
    rows: int
    instances: int
    columns: tuple[str, ...]
    seconds: float


def check_query(query: str) -> str:
    """Return ``query`` without a trailing ``;`` if it is one SELECT, else refuse it.

    Raises
    ------
    LegacyDatabaseError
        If the query is not a single SELECT (or WITH ... SELECT) statement, or names
        a statement that writes.
    """
    body = query.strip().rstrip(";").strip()
    bare = _STRINGS.sub("''", _COMMENTS.sub(" ", body)).strip()
    first = bare.split(None, 1)[0].lower() if bare else ""
    if first not in {"select", "with"}:
        raise LegacyDatabaseError(
            f"legacy_database.query must be one SELECT statement; it starts with "
            f"{first or 'nothing'!r}. pacsflow only ever reads the old PACS's database"
        )
    if ";" in bare:
        raise LegacyDatabaseError(
            "legacy_database.query holds more than one statement (a ';' inside it); "
            "write one SELECT"
        )
    if found := _WRITES.search(bare):
        raise LegacyDatabaseError(
            f"legacy_database.query contains {found.group(0).upper()!r}, which is not "
            "part of a plain SELECT; pacsflow only ever reads the old PACS's database"
        )
    return body


def column_keywords(columns: Sequence[str]) -> list[str]:
    """The DICOM keyword of each result column; refuse columns pacsflow cannot use.

    Raises
    ------
    LegacyDatabaseError
        If ``SOPInstanceUID`` is missing, or a column is not a reconciled attribute.
    """
    known = {k.lower(): k for k in (*AUTHORITATIVE, *SPECIAL_COLUMNS)}
    keywords, problems = [], []
    for column in columns:
        keyword = known.get(column.lower())
        if keyword is None:
            problems.append(_unknown_column(column))
        keywords.append(keyword or "")
    if "SOPInstanceUID" not in keywords:
        problems.append(
            f"no SOPInstanceUID column among {', '.join(columns)}; name the column "
            "holding the SOP Instance UID 'AS SOPInstanceUID'"
        )
    if problems:
        allowed = ", ".join(sorted(AUTHORITATIVE))
        raise LegacyDatabaseError(
            "legacy_database.query: " + "; ".join(problems) + ". Columns are named by "
            f"DICOM keyword: SOPInstanceUID, FilePath, {allowed}"
        )
    return keywords


def _unknown_column(column: str) -> str:
    """Say why a result column cannot be used."""
    close = difflib.get_close_matches(column, [*AUTHORITATIVE, *SPECIAL_COLUMNS], 1)
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"column {column!r} is not an attribute pacsflow reconciles{hint}"


def legacy_url(config: LegacyDatabase) -> URL:
    """The legacy database's URL with the password from the environment, if named.

    Raises
    ------
    LegacyDatabaseError
        If the environment variable named by ``password_env`` is not set.
    """
    url = make_url(config.url)
    if config.password_env is None:
        return url
    password = os.environ.get(config.password_env)
    if password is None:
        raise LegacyDatabaseError(
            f"legacy_database.password_env names {config.password_env}, which is not "
            f"set; export {config.password_env}=... before running pacsflow"
        )
    return url.set(password=password)


def take_snapshot(network: Network, ledger: Engine) -> SnapshotSummary:
    """Read the legacy database once and replace the ledger's snapshot with it.

    Parameters
    ----------
    network : Network
        The network file; its ``legacy_database`` must be set.
    ledger : Engine
        The tracking database.

    Raises
    ------
    LegacyDatabaseError
        If the query is refused, a column cannot be used, or the database cannot be
        reached or read.
    """
    config = network.legacy_database
    if config is None:
        raise LegacyDatabaseError(
            f"{network.file} has no legacy_database section; add one to reconcile"
        )
    query = check_query(config.query)
    url = legacy_url(config)
    shown = url.render_as_string(hide_password=True)
    started = now()
    engine = _engine(url, shown)
    try:
        with engine.connect() as legacy, ledger.begin() as connection:
            snapshot_id = _begin(connection, shown, started)
            rows, count, columns = _copy(
                legacy, query, connection, snapshot_id, network
            )
    except SQLAlchemyError as exc:
        raise LegacyDatabaseError(
            f"cannot read the legacy database at {shown}: "
            f"{str(exc).splitlines()[0]}; check that it is reachable, that the user "
            "may read it, and the query (try it in the database's own client)"
        ) from exc
    finally:
        engine.dispose()
    seconds = (now() - started).total_seconds()
    log.info(
        "legacy snapshot %d: %d rows, %d instances in %.1f s",
        snapshot_id,
        rows,
        count,
        seconds,
    )
    return SnapshotSummary(snapshot_id, rows, count, tuple(columns), seconds)


def _engine(url: URL, shown: str) -> Engine:
    """An engine for the legacy database whose connections cannot write."""
    try:
        engine = create_engine(url)
    except (NoSuchModuleError, ImportError) as exc:
        raise LegacyDatabaseError(
            f"the driver for the legacy database {shown} is not installed ({exc}); "
            "install pacsflow's extra for it: pacsflow[postgresql], pacsflow[mysql] "
            "or pacsflow[mssql]"
        ) from exc
    statement = {
        "sqlite": "PRAGMA query_only = ON",
        "postgresql": "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
        "mysql": "SET SESSION TRANSACTION READ ONLY",
        "mariadb": "SET SESSION TRANSACTION READ ONLY",
    }.get(engine.dialect.name)
    if statement is None:
        log.warning(
            "the %s legacy database has no read-only transaction; pacsflow sends it "
            "one SELECT only; give pacsflow a login that can only read",
            engine.dialect.name,
        )
        return engine

    @event.listens_for(engine, "connect")
    def _read_only(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(statement)
        cursor.close()
        # the driver may have opened a transaction for the statement: end it, or the
        # query would run in that one, which is not read-only (and a rollback of it
        # would undo the setting)
        dbapi_connection.commit()

    return engine


def _begin(connection: Connection, shown: str, started: Any) -> int:
    """Clear the previous snapshot and record the start of this one."""
    connection.execute(delete(legacy_files))
    connection.execute(delete(legacy_instances))
    result = connection.execute(
        insert(legacy_snapshots).values(
            started_at=started, database=shown, rows=0, instances=0, columns="[]"
        )
    )
    key = result.inserted_primary_key
    assert key is not None  # an insert always has one
    return int(key[0])


def _copy(
    legacy: Connection,
    query: str,
    connection: Connection,
    snapshot_id: int,
    network: Network,
) -> tuple[int, int, list[str]]:
    """Stream the query's rows into the snapshot tables: (rows, instances, columns)."""
    streaming = legacy.execution_options(stream_results=True, max_row_buffer=BATCH)
    result = streaming.execute(text(query))
    keywords = column_keywords(list(result.keys()))
    add_instances = insert_ignoring_duplicates(connection, legacy_instances)
    rows = 0
    for partition in result.partitions(BATCH):
        found, paths = _convert(partition, keywords, snapshot_id, network.sources)
        if found:
            connection.execute(add_instances, found)
        if paths:
            connection.execute(insert(legacy_files), paths)
        rows += len(partition)
    count = connection.scalar(
        text("SELECT count(*) FROM legacy_instances WHERE snapshot_id = :id"),
        {"id": snapshot_id},
    )
    connection.execute(
        legacy_snapshots.update()
        .where(legacy_snapshots.c.id == snapshot_id)
        .values(
            finished_at=now(),
            rows=rows,
            instances=count or 0,
            columns=json.dumps([k for k in keywords if k not in SPECIAL_COLUMNS]),
        )
    )
    return rows, int(count or 0), keywords


def _convert(
    partition: Sequence[Any],
    keywords: Sequence[str],
    snapshot_id: int,
    sources: Sequence[Source],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Turn a batch of result rows into snapshot rows (instances, files)."""
    found: dict[str, dict[str, Any]] = {}
    paths: dict[tuple[str, str | None, str, str], dict[str, Any]] = {}
    for row in partition:
        values = dict(zip(keywords, row, strict=True))
        uid = str(values.pop("SOPInstanceUID") or "").strip(" \x00")
        if not uid:
            continue
        file_path = values.pop("FilePath", None)
        if uid not in found:
            attributes = {k: from_database(k, v) for k, v in values.items()}
            found[uid] = {
                "sop_instance_uid": uid,
                "study_instance_uid": attributes.get("StudyInstanceUID") or None,
                "attributes": json.dumps(attributes, ensure_ascii=False),
                "snapshot_id": snapshot_id,
            }
        if file_path:
            source, folder, name = locate(str(file_path), sources)
            paths[(uid, source, folder, name)] = {
                "sop_instance_uid": uid,
                "source": source,
                "folder": folder,
                "name": name,
            }
    return list(found.values()), list(paths.values())


def locate(path: str, sources: Sequence[Source]) -> tuple[str | None, str, str]:
    """Where a database FilePath is on disk: (source or None, folder, name).

    The path may be absolute under a source's folder, start with a source's name
    (``store01/2021/...``, ``\\\\nas\\pacs\\store01\\2021\\...``), or be relative to
    its source (then any source will do: None). Backslashes count as slashes.
    """
    slashed = path.strip().replace("\\", "/")
    parts = [part for part in slashed.split("/") if part not in {"", "."}]
    for source in sources:
        root = [p for p in source.path.as_posix().split("/") if p]
        if len(parts) > len(root) and parts[: len(root)] == root:
            return source.name, *_split(parts[len(root) :])
    names = {source.name for source in sources}
    for position in range(len(parts) - 2, -1, -1):
        if parts[position] in names:
            return parts[position], *_split(parts[position + 1 :])
    return None, *_split(parts)


def _split(parts: Sequence[str]) -> tuple[str, str]:
    """(folder, name) of a path's parts, as the scanner records them."""
    return "/".join(parts[:-1]), parts[-1] if parts else ""
