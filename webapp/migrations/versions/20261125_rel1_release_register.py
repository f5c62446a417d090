"""release register (Art. 13, 15): one row per approved production migration or configuration change

Revision ID: rel1releases01
Revises: cb6b6ccb4d75
Create Date: 2026-11-25 12:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "rel1releases01"
down_revision = "cb6b6ccb4d75"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "release_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("variant", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("window_start", sa.DateTime(), nullable=False),
        sa.Column("window_end", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("approval_number", sa.String(length=40), nullable=False),
        sa.Column("approved_at", sa.DateTime(), nullable=False),
        sa.Column("backup_items", sa.Text(), nullable=False),
        sa.Column("backup_medium", sa.String(length=200), nullable=False),
        sa.Column("backup_location", sa.String(length=300), nullable=False),
        sa.Column("backup_verification", sa.Text(), nullable=False),
        sa.Column("backup_verified", sa.Boolean(), nullable=False),
        sa.Column("backup_taken_at", sa.DateTime(), nullable=True),
        sa.Column("backup_recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("backup_recorded_at", sa.DateTime(), nullable=True),
        sa.Column("performed_by_id", sa.Integer(), nullable=True),
        sa.Column("migration_started_at", sa.DateTime(), nullable=True),
        sa.Column("migration_finished_at", sa.DateTime(), nullable=True),
        sa.Column("result", sa.String(length=20), nullable=False),
        sa.Column("post_check", sa.Text(), nullable=False),
        sa.Column("reported_at", sa.DateTime(), nullable=True),
        sa.Column("confirmation_number", sa.String(length=40), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["backup_recorded_by_id"], ["user.id"],
                                name=op.f("fk_release_record_backup_recorded_by_id_user")),
        sa.ForeignKeyConstraint(["contract_id"], ["contract.id"], name=op.f("fk_release_record_contract_id_contract")),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"],
                                name=op.f("fk_release_record_instance_id_process_instance")),
        sa.ForeignKeyConstraint(["performed_by_id"], ["user.id"], name=op.f("fk_release_record_performed_by_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_release_record")),
        sa.UniqueConstraint("instance_id", name=op.f("uq_release_record_instance_id")),
    )
    with op.batch_alter_table("release_record", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_release_record_contract_id"), ["contract_id"], unique=False)


def downgrade():
    with op.batch_alter_table("release_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_release_record_contract_id"))
    op.drop_table("release_record")
