"""one run per fingerprint: the same checkpoint, data and settings are recorded once

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_fingerprint")
        batch_op.create_unique_constraint("uq_runs_fingerprint", ["fingerprint"])


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_constraint("uq_runs_fingerprint", type_="unique")
        batch_op.create_index("ix_runs_fingerprint", ["fingerprint"], unique=False)
