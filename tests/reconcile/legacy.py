"""The sample's legacy database, loaded into real database servers in two shapes.

``joined``: the sample's own PACS-like schema (patient, study, series, instance,
storage and file tables) with native DATE and TIME columns, read by a query that joins
them. ``flat``: one wide table as some PACS export views are, with padded CHAR
columns, NULL accession numbers and Windows UNC file paths.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from sqlalchemy import (
    CHAR,
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
)

from pacsflow.sample.export import native

FLAT_QUERY = """\
SELECT sop_uid AS SOPInstanceUID, study_uid AS StudyInstanceUID,
       series_uid AS SeriesInstanceUID, pat_id AS PatientID, pat_name AS PatientName,
       birth AS PatientBirthDate, accession AS AccessionNumber,
       study_date AS StudyDate, file_path AS FilePath
FROM pacs_image
"""

_FLAT_ROWS = """\
SELECT i.sop_instance_uid, st.study_uid, se.series_uid, p.patient_id,
       p.patient_name, p.birth_date, st.accession_number, st.study_date,
       s.root || '\\' || replace(f.path, '/', '\\')
FROM instance i
JOIN series se ON se.pk = i.series_fk
JOIN study st ON st.pk = se.study_fk
JOIN patient p ON p.pk = st.patient_fk
LEFT JOIN file f ON f.instance_fk = i.pk
LEFT JOIN storage s ON s.pk = f.storage_fk
"""


def load_flat(sample: Path, url: str) -> None:
    """Write the sample's legacy rows as one padded, flat table at ``url``."""
    metadata = MetaData()
    table = Table(
        "pacs_image",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("sop_uid", CHAR(64)),
        Column("study_uid", CHAR(64)),
        Column("series_uid", String(64)),
        Column("pat_id", CHAR(20)),
        Column("pat_name", String(250)),
        Column("birth", Date),
        Column("accession", String(16), nullable=True),
        Column("study_date", Date),
        Column("file_path", String(255)),
    )
    engine = create_engine(url)
    metadata.create_all(engine)
    names = [c.name for c in table.columns][1:]
    with closing(sqlite3.connect(sample / "legacy.db")) as source, engine.begin() as c:
        rows = source.execute(_FLAT_ROWS).fetchall()
        c.execute(
            insert(table),
            [dict(zip(names, map(native, row), strict=True)) for row in rows],
        )
    engine.dispose()


def use_legacy(network: Path, url: str, query: str) -> None:
    """Point the sample's network file at another legacy database and query."""
    text = network.read_text()
    start = text.index("legacy_database:")
    end = text.index("exclude_studies:")
    body = "".join(f"    {line}\n" for line in query.splitlines())
    section = f"legacy_database:\n  url: {url}\n  query: |\n{body}"
    network.write_text(text[:start] + section + text[end:])
