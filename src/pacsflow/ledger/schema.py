"""The tables of the tracking database (the ledger).

The ledger is the single source of truth of a migration: every file found on disk
and every instance with its outcome. Rows are never deleted; a file that disappears is
marked ``vanished``. The schema changes only through the migrations in
``migrations/versions``.

``files``
    One row per file found in a source folder: where it is, its size and mtime (to skip
    unchanged files on a re-scan), what the scanner made of it, and the header
    attributes of readable DICOM files.
``instances``
    One row per distinct SOP Instance UID, pointing at its primary file (the first copy
    by source, folder and name), with the number of copies on disk and its outcome;
    beside the outcome, what ``pacsflow verify`` learnt: the verification, and the
    storage commitment (``committed``/``failed`` with the failure reason, when
    the answer came).
``scans``
    One row per scan run, with its counts.
``runs``
    One row per ``pacsflow run``: who ran it (host, pid: a second run refuses to start
    while one is alive), when, and its counts.
``attempts``
    One row per attempt to deliver an instance: when, where, over which association,
    the DICOM status and what came of it.
``legacy_snapshots``, ``legacy_instances``, ``legacy_files``
    The old PACS's database as read by its query, once per snapshot: one row per
    instance (the reconciled Study Instance UID and every authoritative attribute as
    DICOM text, in JSON) and one per file the database holds for it.
``releases``
    One row per instance released from the sin bin (or from ``skipped``): when, what
    it was and why, and the selection that released it.
``controls``
    What an operator asked of a running migration from another terminal: a row
    ``paused`` (with why and when) while ``pacsflow pause`` holds it.
``changes``
    The audit of header fixes: one row per attribute of an instance whose header
    value differs from the database's (old value, new value). Patient-identifying
    values live here and in the snapshot, never in a log.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# Naming conventions keep constraint names stable across SQLite, PostgreSQL and MariaDB,
# which the migrations rely on.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

UID = String(64)
"""A DICOM UID: at most 64 characters (PS3.5 §9.1)."""

scans = Table(
    "scans",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("files_seen", BigInteger, nullable=False, default=0),
    Column("files_read", BigInteger, nullable=False, default=0),
    Column("unreadable", BigInteger, nullable=False, default=0),
)

files = Table(
    "files",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("source", String(64), nullable=False),
    Column("folder", String(1024), nullable=False),
    Column("name", String(255), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("reason", Text),
    Column("scan_id", Integer, ForeignKey("scans.id"), nullable=False),
    Column("content_hash", String(64)),
    Column("sop_instance_uid", UID),
    Column("sop_class_uid", UID),
    Column("study_instance_uid", UID),
    Column("series_instance_uid", UID),
    Column("transfer_syntax", UID),
    Column("pixel_data", Boolean),
    Column("modality", String(16)),
    Column("study_date", String(8)),
    Column("series_number", Integer),
    Column("instance_number", Integer),
    Column("attributes", Text),
    Column("verdict", String(32)),
    UniqueConstraint("source", "folder", "name"),
    Index(None, "sop_instance_uid"),
    Index(None, "state"),
)

instances = Table(
    "instances",
    metadata,
    Column("sop_instance_uid", UID, primary_key=True),
    Column(
        "file_id", BigInteger().with_variant(Integer, "sqlite"), ForeignKey("files.id")
    ),
    Column("copies", Integer, nullable=False, default=1),
    Column("duplicate", String(24), nullable=False, default="none"),
    Column("outcome", String(16), nullable=False, default="pending"),
    Column("reason", String(64)),
    Column("detail", Text),
    Column("updated_at", DateTime(timezone=True)),
    Column("route", String(64)),
    Column("destination", String(64)),
    Column("status", Integer),
    Column("attempts", Integer, nullable=False, default=0),
    Column("verdict", String(32)),
    Column("fixes", Text),
    Column("verification", String(16)),
    Column("verified_at", DateTime(timezone=True)),
    Column("commitment", String(16)),
    Column("committed_at", DateTime(timezone=True)),
    Column("commitment_detail", Text),
    Column("reconciled_key", String(64)),
    Column("reconciled_scan", Integer),
    Index(None, "outcome"),
    Index(None, "file_id"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("dry_run", Boolean, nullable=False),
    Column("sent", BigInteger, nullable=False, default=0),
    Column("sinbinned", BigInteger, nullable=False, default=0),
    Column("failed", BigInteger, nullable=False, default=0),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("sop_instance_uid", UID, nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("destination", String(64), nullable=False),
    Column("association", String(128)),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("result", String(16), nullable=False),
    Column("status", Integer),
    Column("detail", Text),
    Index(None, "sop_instance_uid"),
)

legacy_snapshots = Table(
    "legacy_snapshots",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("database", String(255), nullable=False),
    Column("rows", BigInteger, nullable=False, default=0),
    Column("instances", BigInteger, nullable=False, default=0),
    Column("columns", Text, nullable=False),
)

legacy_instances = Table(
    "legacy_instances",
    metadata,
    Column("sop_instance_uid", UID, primary_key=True),
    Column("study_instance_uid", UID),
    Column("attributes", Text, nullable=False),
    Column("snapshot_id", Integer, ForeignKey("legacy_snapshots.id"), nullable=False),
)

legacy_files = Table(
    "legacy_files",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("sop_instance_uid", UID, nullable=False),
    Column("source", String(64)),
    Column("folder", String(1024), nullable=False),
    Column("name", String(255), nullable=False),
    Index(None, "sop_instance_uid"),
)

changes = Table(
    "changes",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("sop_instance_uid", UID, nullable=False),
    Column("attribute", String(64), nullable=False),
    Column("old_value", Text),
    Column("new_value", Text),
    Column("at", DateTime(timezone=True), nullable=False),
    Index(None, "sop_instance_uid"),
)

releases = Table(
    "releases",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("sop_instance_uid", UID, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("reason", String(64)),
    Column("selection", String(128), nullable=False),
    Index(None, "sop_instance_uid"),
)

controls = Table(
    "controls",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", Text),
    Column("at", DateTime(timezone=True), nullable=False),
)
