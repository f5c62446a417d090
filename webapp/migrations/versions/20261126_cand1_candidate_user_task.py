"""task_candidate (user_id, human_task_id): a person's candidacies read from the index alone

Revision ID: cand1candusertask01
Revises: list1instcreated01
Create Date: 2026-11-26 11:00:00
"""
from alembic import op

revision = "cand1candusertask01"
down_revision = "list1instcreated01"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("task_candidate", schema=None) as batch_op:
        batch_op.drop_index("ix_task_candidate_user_id")
        batch_op.create_index("ix_task_candidate_user_task", ["user_id", "human_task_id"], unique=False)


def downgrade():
    with op.batch_alter_table("task_candidate", schema=None) as batch_op:
        batch_op.drop_index("ix_task_candidate_user_task")
        batch_op.create_index("ix_task_candidate_user_id", ["user_id"], unique=False)
