"""run provenance: what produced a run (library versions, model revision and weights hash, chat
template hash, git state, device, dtype, seed, wall time, items per second)

Runs recorded before this revision get NULL: their provenance was not recorded.

Revision ID: 0006
Revises: 0004 (rebased onto 0005 at merge)
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provenance", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("provenance")
