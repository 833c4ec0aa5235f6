"""The sample's legacy database copied into a database server (PostgreSQL, MariaDB).

``legacy.db`` is SQLite; a real PACS database is a server with native DATE and TIME
columns. :func:`export_legacy` copies the sample's tables there, table by table, so
reconciliation can be tried (and tested, and benchmarked) against a real server with
:data:`SERVER_QUERY`, which reads them in any of those dialects.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    Time,
    create_engine,
    insert,
)

from pacsflow.sample.legacy import LEGACY_NAME

SERVER_QUERY = """\
SELECT i.sop_instance_uid AS SOPInstanceUID,
       st.study_uid AS StudyInstanceUID,
       se.series_uid AS SeriesInstanceUID,
       p.patient_id AS PatientID,
       p.patient_name AS PatientName,
       p.birth_date AS PatientBirthDate,
       st.accession_number AS AccessionNumber,
       st.study_date AS StudyDate,
       CONCAT(s.name, '/', f.path) AS FilePath
FROM instance i
JOIN series se ON se.pk = i.series_fk
JOIN study st ON st.pk = se.study_fk
JOIN patient p ON p.pk = st.patient_fk
LEFT JOIN file f ON f.instance_fk = i.pk
LEFT JOIN storage s ON s.pk = f.storage_fk
ORDER BY i.pk, f.pk
"""


def _joined_tables(metadata: MetaData) -> list[Table]:
    """The sample's schema with native column types."""
    return [
        Table(
            "patient",
            metadata,
            Column("pk", Integer, primary_key=True),
            Column("patient_id", String(64)),
            Column("patient_name", String(250)),
            Column("birth_date", Date),
            Column("sex", String(1)),
        ),
        Table(
            "study",
            metadata,
            Column("pk", Integer, primary_key=True),
            Column("patient_fk", Integer),
            Column("study_uid", String(64)),
            Column("accession_number", String(16)),
            Column("study_date", Date),
            Column("study_time", Time),
            Column("description", String(64)),
        ),
        Table(
            "series",
            metadata,
            Column("pk", Integer, primary_key=True),
            Column("study_fk", Integer),
            Column("series_uid", String(64)),
            Column("modality", String(16)),
            Column("series_number", Integer),
        ),
        Table(
            "instance",
            metadata,
            Column("pk", Integer, primary_key=True),
            Column("series_fk", Integer),
            Column("sop_instance_uid", String(64)),
            Column("sop_class_uid", String(64)),
            Column("instance_number", Integer),
        ),
        Table(
            "storage",
            metadata,
            Column("pk", Integer, primary_key=True),
            Column("name", String(64)),
            Column("root", String(255)),
        ),
        Table(
            "file",
            metadata,
            Column("pk", Integer, primary_key=True),
            Column("instance_fk", Integer),
            Column("storage_fk", Integer),
            Column("path", String(255)),
            Column("size", Integer),
        ),
    ]


def native(value: Any) -> Any:
    """SQLite's ISO text dates and times as Python dates and times (for inserts)."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return dt.date.fromisoformat(value)
    if isinstance(value, str) and re.fullmatch(r"\d{2}:\d{2}:\d{2}", value):
        return dt.time.fromisoformat(value)
    return value


def export_legacy(sample: Path, url: str) -> None:
    """Copy the sample's legacy database, table by table, into the database at ``url``.

    Parameters
    ----------
    sample : Path
        The sample's directory.
    url : str
        SQLAlchemy URL of an empty database on the server.
    """
    metadata = MetaData()
    tables = _joined_tables(metadata)
    engine = create_engine(url)
    metadata.create_all(engine)
    with closing(sqlite3.connect(sample / LEGACY_NAME)) as source, engine.begin() as c:
        for table in tables:
            rows = source.execute(f"SELECT * FROM {table.name}").fetchall()
            names = [column.name for column in table.columns]
            values = [dict(zip(names, map(native, row), strict=True)) for row in rows]
            if values:
                c.execute(insert(table), values)
    engine.dispose()
