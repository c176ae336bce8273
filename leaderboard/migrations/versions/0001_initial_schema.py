"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-24 13:33:08.852603
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('checkpoint', sa.Text(), nullable=True),
    sa.Column('base_model', sa.Text(), nullable=True),
    sa.Column('step', sa.Integer(), nullable=True),
    sa.Column('dataset_name', sa.String(length=255), nullable=True),
    sa.Column('dataset_hash', sa.String(length=64), nullable=True),
    sa.Column('prompt_id', sa.String(length=255), nullable=True),
    sa.Column('prompt_hash', sa.String(length=64), nullable=True),
    sa.Column('generation', sa.JSON(), nullable=False),
    sa.Column('metric_config', sa.JSON(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=True),
    sa.Column('tool_version', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('exact_match', sa.Float(), nullable=True),
    sa.Column('exact_match_lenient', sa.Float(), nullable=True),
    sa.Column('rouge1', sa.Float(), nullable=True),
    sa.Column('bertscore', sa.Float(), nullable=True),
    sa.Column('bleurt', sa.Float(), nullable=True),
    sa.Column('descriptive_avg', sa.Float(), nullable=True),
    sa.Column('final_score', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_runs_dataset_name'), ['dataset_name'], unique=False)
        batch_op.create_index(batch_op.f('ix_runs_final_score'), ['final_score'], unique=False)
        batch_op.create_index(batch_op.f('ix_runs_fingerprint'), ['fingerprint'], unique=False)

    op.create_table('group_metrics',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('question_type', sa.String(length=255), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('exact_match', sa.Float(), nullable=True),
    sa.Column('exact_match_lenient', sa.Float(), nullable=True),
    sa.Column('rouge1', sa.Float(), nullable=True),
    sa.Column('bertscore', sa.Float(), nullable=True),
    sa.Column('bleurt', sa.Float(), nullable=True),
    sa.Column('descriptive_avg', sa.Float(), nullable=True),
    sa.Column('final_score', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id', 'question_type')
    )
    with op.batch_alter_table('group_metrics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_metrics_run_id'), ['run_id'], unique=False)

    op.create_table('item_results',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.String(length=255), nullable=False),
    sa.Column('question_type', sa.String(length=255), nullable=False),
    sa.Column('prediction', sa.Text(), nullable=False),
    sa.Column('answer_clause', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('gold', sa.Text(), nullable=False),
    sa.Column('exact_match', sa.Float(), nullable=True),
    sa.Column('exact_match_lenient', sa.Float(), nullable=True),
    sa.Column('rouge1', sa.Float(), nullable=True),
    sa.Column('bertscore', sa.Float(), nullable=True),
    sa.Column('bleurt', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id', 'item_id')
    )
    with op.batch_alter_table('item_results', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_item_results_run_id'), ['run_id'], unique=False)

    op.create_table('run_tags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('tag', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id', 'tag')
    )
    with op.batch_alter_table('run_tags', schema=None) as batch_op:
        batch_op.create_index('ix_run_tags_tag', ['tag'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('run_tags', schema=None) as batch_op:
        batch_op.drop_index('ix_run_tags_tag')

    op.drop_table('run_tags')
    with op.batch_alter_table('item_results', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_item_results_run_id'))

    op.drop_table('item_results')
    with op.batch_alter_table('group_metrics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_group_metrics_run_id'))

    op.drop_table('group_metrics')
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_runs_fingerprint'))
        batch_op.drop_index(batch_op.f('ix_runs_final_score'))
        batch_op.drop_index(batch_op.f('ix_runs_dataset_name'))

    op.drop_table('runs')
