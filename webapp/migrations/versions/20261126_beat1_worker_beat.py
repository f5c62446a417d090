"""worker_beat: when each worker last finished a turn, for the health check and the administrator

Revision ID: beat1workerbeat01
Revises: job1jobrun0001
Create Date: 2026-11-26 09:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = "beat1workerbeat01"
down_revision = "job1jobrun0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "worker_beat",
        sa.Column("worker", sa.String(length=120), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("last_turn_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("worker", name=op.f("pk_worker_beat")),
    )
    op.create_index(op.f("ix_worker_beat_last_turn_at"), "worker_beat", ["last_turn_at"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_worker_beat_last_turn_at"), table_name="worker_beat")
    op.drop_table("worker_beat")
