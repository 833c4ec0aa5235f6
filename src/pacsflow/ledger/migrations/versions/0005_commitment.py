"""Storage commitment beside the outcome.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the storage commitment columns."""
    with op.batch_alter_table("instances") as batch:
        batch.add_column(sa.Column("commitment", sa.String(16)))
        batch.add_column(sa.Column("committed_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("commitment_detail", sa.Text))


def downgrade() -> None:
    """Drop what :func:`upgrade` added."""
    with op.batch_alter_table("instances") as batch:
        batch.drop_column("commitment_detail")
        batch.drop_column("committed_at")
        batch.drop_column("commitment")
