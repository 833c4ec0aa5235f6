"""Verification beside the outcome, and the releases from the sin bin.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    """Add the verification columns and the releases table."""
    with op.batch_alter_table("instances") as batch:
        batch.add_column(sa.Column("verification", sa.String(16)))
        batch.add_column(sa.Column("verified_at", sa.DateTime(timezone=True)))
    op.create_table(
        "releases",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("sop_instance_uid", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64)),
        sa.Column("selection", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_releases"),
    )
    op.create_index("ix_releases_sop_instance_uid", "releases", ["sop_instance_uid"])


def downgrade() -> None:
    """Drop what :func:`upgrade` added."""
    op.drop_table("releases")
    with op.batch_alter_table("instances") as batch:
        batch.drop_column("verified_at")
        batch.drop_column("verification")
