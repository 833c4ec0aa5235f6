"""Reconciliation: the legacy snapshot, verdicts, header attributes and their audit.

Files indexed before this revision have no header attributes recorded, so they are
marked to be read again by the next scan (their mtime is forgotten).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
_UID = sa.String(64)


def upgrade() -> None:
    """Add the verdict and attribute columns and the snapshot and audit tables."""
    with op.batch_alter_table("files") as batch:
        batch.add_column(sa.Column("attributes", sa.Text))
        batch.add_column(sa.Column("verdict", sa.String(32)))
    with op.batch_alter_table("instances") as batch:
        batch.add_column(sa.Column("verdict", sa.String(32)))
        batch.add_column(sa.Column("fixes", sa.Text))
    op.execute("UPDATE files SET mtime_ns = -1 WHERE state = 'indexed'")
    op.create_table(
        "legacy_snapshots",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("database", sa.String(255), nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("instances", sa.BigInteger, nullable=False),
        sa.Column("columns", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_legacy_snapshots"),
    )
    op.create_table(
        "legacy_instances",
        sa.Column("sop_instance_uid", _UID, nullable=False),
        sa.Column("study_instance_uid", _UID),
        sa.Column("attributes", sa.Text, nullable=False),
        sa.Column("snapshot_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("sop_instance_uid", name="pk_legacy_instances"),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["legacy_snapshots.id"],
            name="fk_legacy_instances_snapshot_id_legacy_snapshots",
        ),
    )
    op.create_table(
        "legacy_files",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("sop_instance_uid", _UID, nullable=False),
        sa.Column("source", sa.String(64)),
        sa.Column("folder", sa.String(1024), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_legacy_files"),
    )
    op.create_index(
        "ix_legacy_files_sop_instance_uid", "legacy_files", ["sop_instance_uid"]
    )
    op.create_table(
        "changes",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("sop_instance_uid", _UID, nullable=False),
        sa.Column("attribute", sa.String(64), nullable=False),
        sa.Column("old_value", sa.Text),
        sa.Column("new_value", sa.Text),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_changes"),
    )
    op.create_index("ix_changes_sop_instance_uid", "changes", ["sop_instance_uid"])


def downgrade() -> None:
    """Drop what :func:`upgrade` added."""
    op.drop_table("changes")
    op.drop_table("legacy_files")
    op.drop_table("legacy_instances")
    op.drop_table("legacy_snapshots")
    with op.batch_alter_table("instances") as batch:
        batch.drop_column("fixes")
        batch.drop_column("verdict")
    with op.batch_alter_table("files") as batch:
        batch.drop_column("verdict")
        batch.drop_column("attributes")
