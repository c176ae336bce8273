"""context selection: which candidate context each item's generation named, and selection accuracy

A run whose model names the candidate it relies on (``근거: [N]``) records, per item, the citation
as written, the candidate's number and title and the gold rule it is judged against, and the
metric ``context_selection`` (1.0: the named candidate is the gold rule) in the three metric
tables, with ``n_selection`` (the items measured) on runs and groups. Runs recorded before this
revision get NULL: not measured.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-09
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ITEM_CHOICE_COLUMNS = (("citation", sa.Text()), ("cited", sa.Integer()), ("cited_title", sa.Text()),
                       ("gold_article", sa.Text()))


def upgrade() -> None:
    for table in ("runs", "group_metrics"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("context_selection", sa.Float(), nullable=True))
            batch_op.add_column(sa.Column("n_selection", sa.Integer(), nullable=True))
    with op.batch_alter_table("item_results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("context_selection", sa.Float(), nullable=True))
        for name, kind in ITEM_CHOICE_COLUMNS:
            batch_op.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("item_results", schema=None) as batch_op:
        for name, _ in reversed(ITEM_CHOICE_COLUMNS):
            batch_op.drop_column(name)
        batch_op.drop_column("context_selection")
    for table in ("group_metrics", "runs"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("n_selection")
            batch_op.drop_column("context_selection")
