"""designer drafts

Revision ID: des1drafts01
Revises: cb6b6ccb4d75
Create Date: 2026-11-25 23:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = "des1drafts01"
down_revision = "cb6b6ccb4d75"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "design_draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("process_key", sa.String(length=80), nullable=False),
        sa.Column("bpmn", sa.LargeBinary(), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_design_draft_user_id_user"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_design_draft")),
        sa.UniqueConstraint("user_id", "process_key", name="uq_design_draft_user_process"),
    )
    op.create_index(op.f("ix_design_draft_process_key"), "design_draft", ["process_key"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_design_draft_process_key"), table_name="design_draft")
    op.drop_table("design_draft")
