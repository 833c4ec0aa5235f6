"""Operator controls of a running migration (pause and resume).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the controls table."""
    op.create_table(
        "controls",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("value", sa.Text),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_controls"),
    )


def downgrade() -> None:
    """Drop what :func:`upgrade` added."""
    op.drop_table("controls")
