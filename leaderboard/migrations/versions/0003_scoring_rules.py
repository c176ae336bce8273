"""scoring rules: the rules each run was scored under, counted items, runs aligned by id

Runs recorded before this revision were scored under the pre-2025 rules (reason metrics averaged
over every item): they get ``scoring_rules`` NULL and are hidden from the leaderboard until
``malpyeong-eval rescore`` recomputes them. ``counted`` and ``n_counted`` stay NULL for them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scoring_rules", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("n_counted", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("aligned_by_id", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index(batch_op.f("ix_runs_scoring_rules"), ["scoring_rules"], unique=False)
    with op.batch_alter_table("group_metrics", schema=None) as batch_op:
        batch_op.add_column(sa.Column("n_counted", sa.Integer(), nullable=True))
    with op.batch_alter_table("item_results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("counted", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("item_results", schema=None) as batch_op:
        batch_op.drop_column("counted")
    with op.batch_alter_table("group_metrics", schema=None) as batch_op:
        batch_op.drop_column("n_counted")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_runs_scoring_rules"))
        batch_op.drop_column("aligned_by_id")
        batch_op.drop_column("n_counted")
        batch_op.drop_column("scoring_rules")
