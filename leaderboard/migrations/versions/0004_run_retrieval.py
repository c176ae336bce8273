"""run retrieval: the context a run's items carried (retriever, corpus hash, K, field)

A run on data written by ``malpyeong-eval retrieve`` records the retrieval settings; a run on
data with a team's own extra ``input`` fields records their names. Runs recorded before this
revision get NULL: no context (``run`` read only ``question_type`` and ``question`` then).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retrieval", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("retrieval")
