"""What each instance was last reconciled against, so a run judges only what changed.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the reconciliation marks."""
    with op.batch_alter_table("instances") as batch:
        batch.add_column(sa.Column("reconciled_key", sa.String(64)))
        batch.add_column(sa.Column("reconciled_scan", sa.Integer))


def downgrade() -> None:
    """Drop what :func:`upgrade` added."""
    with op.batch_alter_table("instances") as batch:
        batch.drop_column("reconciled_scan")
        batch.drop_column("reconciled_key")
