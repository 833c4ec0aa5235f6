"""Runs: where each instance was routed, every delivery attempt, and the runs.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    """Add routing columns to instances, and the runs and attempts tables."""
    with op.batch_alter_table("instances") as batch:
        batch.add_column(sa.Column("route", sa.String(64)))
        batch.add_column(sa.Column("destination", sa.String(64)))
        batch.add_column(sa.Column("status", sa.Integer))
        batch.add_column(
            sa.Column("attempts", sa.Integer, nullable=False, server_default="0")
        )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("sent", sa.BigInteger, nullable=False),
        sa.Column("sinbinned", sa.BigInteger, nullable=False),
        sa.Column("failed", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
    )
    op.create_table(
        "attempts",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("sop_instance_uid", sa.String(64), nullable=False),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("destination", sa.String(64), nullable=False),
        sa.Column("association", sa.String(128)),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("status", sa.Integer),
        sa.Column("detail", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_attempts"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_attempts_run_id_runs"
        ),
    )
    op.create_index("ix_attempts_sop_instance_uid", "attempts", ["sop_instance_uid"])


def downgrade() -> None:
    """Drop the runs and attempts tables and the routing columns."""
    op.drop_table("attempts")
    op.drop_table("runs")
    with op.batch_alter_table("instances") as batch:
        for column in ("attempts", "status", "destination", "route"):
            batch.drop_column(column)
