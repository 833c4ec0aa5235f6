"""The first ledger: scans, files and instances.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
_UID = sa.String(64)


def upgrade() -> None:
    """Create the three tables of the first ledger."""
    op.create_table(
        "scans",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("files_seen", sa.BigInteger, nullable=False),
        sa.Column("files_read", sa.BigInteger, nullable=False),
        sa.Column("unreadable", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scans"),
    )
    op.create_table(
        "files",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("folder", sa.String(1024), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("scan_id", sa.Integer, nullable=False),
        sa.Column("content_hash", sa.String(64)),
        sa.Column("sop_instance_uid", _UID),
        sa.Column("sop_class_uid", _UID),
        sa.Column("study_instance_uid", _UID),
        sa.Column("series_instance_uid", _UID),
        sa.Column("transfer_syntax", _UID),
        sa.Column("pixel_data", sa.Boolean),
        sa.Column("modality", sa.String(16)),
        sa.Column("study_date", sa.String(8)),
        sa.Column("series_number", sa.Integer),
        sa.Column("instance_number", sa.Integer),
        sa.PrimaryKeyConstraint("id", name="pk_files"),
        sa.ForeignKeyConstraint(
            ["scan_id"], ["scans.id"], name="fk_files_scan_id_scans"
        ),
        sa.UniqueConstraint(
            "source", "folder", "name", name="uq_files_source_folder_name"
        ),
    )
    op.create_index("ix_files_sop_instance_uid", "files", ["sop_instance_uid"])
    op.create_index("ix_files_state", "files", ["state"])
    op.create_table(
        "instances",
        sa.Column("sop_instance_uid", _UID, nullable=False),
        sa.Column("file_id", _ID),
        sa.Column("copies", sa.Integer, nullable=False),
        sa.Column("duplicate", sa.String(24), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64)),
        sa.Column("detail", sa.Text),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("sop_instance_uid", name="pk_instances"),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name="fk_instances_file_id_files"
        ),
    )
    op.create_index("ix_instances_outcome", "instances", ["outcome"])
    op.create_index("ix_instances_file_id", "instances", ["file_id"])


def downgrade() -> None:
    """Drop the first ledger."""
    op.drop_table("instances")
    op.drop_table("files")
    op.drop_table("scans")
