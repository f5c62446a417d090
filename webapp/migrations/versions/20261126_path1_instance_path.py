"""process_instance.path: the BPMN ids completed so far, for the instance diagram

Existing instances get an empty path; their diagram then shows only the steps their
human_task rows show (see webapp.records.diagram.trace) until their next action saves one.

Revision ID: path1instpath01
Revises: perf1taskidx01
Create Date: 2026-11-26 10:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = "path1instpath01"
down_revision = "perf1taskidx01"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.add_column(sa.Column("path", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.alter_column("path", server_default=None)


def downgrade():
    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.drop_column("path")
