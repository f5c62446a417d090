"""device register (Art. 12)

Revision ID: dev1devices01
Revises: cb6b6ccb4d75
Create Date: 2026-11-25 23:30:00
"""
from alembic import op
import sqlalchemy as sa

revision = "dev1devices01"
down_revision = "cb6b6ccb4d75"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "device",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("serial", sa.String(length=100), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("place", sa.String(length=300), nullable=False),
        sa.Column("connection", sa.String(length=12), nullable=False),
        sa.Column("segment", sa.String(length=12), nullable=False),
        sa.Column("connection_target", sa.String(length=300), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("city_decision_number", sa.String(length=40), nullable=False),
        sa.Column("security_decision_number", sa.String(length=40), nullable=True),
        sa.Column("checked_on", sa.Date(), nullable=False),
        sa.Column("checked_by_id", sa.Integer(), nullable=True),
        sa.Column("withdrawn_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["contract_id"], ["contract.id"], name=op.f("fk_device_contract_id_contract")),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"],
                                name=op.f("fk_device_instance_id_process_instance")),
        sa.ForeignKeyConstraint(["checked_by_id"], ["user.id"], name=op.f("fk_device_checked_by_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device")),
        sa.UniqueConstraint("instance_id", name=op.f("uq_device_instance_id")),
    )
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.create_index("ix_device_contract_status", ["contract_id", "status"], unique=False)
        batch_op.create_index("ix_device_status_valid_until", ["status", "valid_until"], unique=False)
        batch_op.create_index(batch_op.f("ix_device_serial"), ["serial"], unique=False)


def downgrade():
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_serial"))
        batch_op.drop_index("ix_device_status_valid_until")
        batch_op.drop_index("ix_device_contract_status")
    op.drop_table("device")
