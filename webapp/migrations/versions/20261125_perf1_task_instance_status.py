"""human_task (instance_id, status): the projection's own lookup

Revision ID: perf1taskidx01
Revises: 178f6993b23b
Create Date: 2026-11-25 23:30:00
"""
from alembic import op

revision = "perf1taskidx01"
down_revision = "178f6993b23b"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_human_task_instance_status", "human_task", ["instance_id", "status"])


def downgrade():
    op.drop_index("ix_human_task_instance_status", table_name="human_task")
