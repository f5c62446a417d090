"""process_instance (created_at, id): the records listing reads newest first through an index

Revision ID: list1instcreated01
Revises: beat1workerbeat01
Create Date: 2026-11-26 10:00:00
"""
from alembic import op

revision = "list1instcreated01"
down_revision = "beat1workerbeat01"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_process_instance_created", "process_instance", ["created_at", "id"], unique=False)


def downgrade():
    op.drop_index("ix_process_instance_created", table_name="process_instance")
